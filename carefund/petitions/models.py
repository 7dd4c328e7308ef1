"""Petitions, their signatures, the counts by area, paper signatures, invalidations and the postcode lookup.

The public count (`Petition.signature_count`) and the counts by area (`AreaCount`) are maintained in batches by
`counting.petition_count_refresh`, never per signature (docs/adr/0050-petition-counting.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class PetitionState(models.TextChoices):
    PENDING = "pending", "Waiting for the creator to confirm their email"
    VALIDATED = "validated", "Waiting for sponsors"
    SPONSORED = "sponsored", "Waiting for moderation"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    REJECTED = "rejected", "Rejected"
    HIDDEN = "hidden", "Rejected and hidden"
    REMOVED = "removed", "Removed"


# States a member of the public can see the petition in (hidden and removed are not shown; removed answers 410).
PUBLIC_STATES = (PetitionState.OPEN, PetitionState.CLOSED, PetitionState.REJECTED)


class PetitionTarget(models.TextChoices):
    NHS_ENGLAND = "nhs_england", "NHS England"
    ICB = "icb", "An integrated care board (ICB)"
    TRUST = "trust", "An NHS trust"
    PARLIAMENT = "parliament", "Parliament"


class RejectionCode(models.TextChoices):
    """e-petitions' rejection codes that apply to a health campaign (the reason is published unless hidden)."""

    DUPLICATE = "duplicate", "There's already a petition about this"
    IRRELEVANT = "irrelevant", "It's not something the target is responsible for"
    NO_ACTION = "no-action", "It did not say clearly what action it asks for"
    FAKE_NAME = "fake-name", "It did not give a real name"
    PERSONAL = "personal", "It included information about a named person"
    LIBELLOUS = "libellous", "It included potentially libellous, false or defamatory statements"
    OFFENSIVE = "offensive", "It included offensive language or jokes"
    ADVERT = "advert", "It advertised a product or service"
    ALREADY_HAPPENING = "already-happening", "It asks for something that is already happening"


HIDDEN_REJECTION_CODES = frozenset({RejectionCode.LIBELLOUS, RejectionCode.OFFENSIVE, RejectionCode.PERSONAL})


class Petition(models.Model):
    slug = models.SlugField(max_length=90, unique=True)
    action = models.CharField(max_length=80)
    background = models.CharField(max_length=300)
    additional_details = models.TextField(max_length=800, blank=True)
    target = models.CharField(max_length=20, choices=PetitionTarget.choices, default=PetitionTarget.NHS_ENGLAND)
    target_name = models.CharField(max_length=120, blank=True, help_text="e.g. the ICB or trust by name")
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT, related_name="petitions"
    )
    state = models.CharField(max_length=12, choices=PetitionState.choices, default=PetitionState.PENDING)
    created_at = models.DateTimeField()
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    creator_name = models.CharField(max_length=255)
    creator_email = models.EmailField(max_length=254)
    creator_ip = models.GenericIPAddressField(null=True, blank=True)
    # The creator's private link (share with sponsors, download counts by area); 43 url-safe characters.
    creator_token = models.CharField(max_length=64, unique=True)
    # The link the creator gives their sponsors.
    sponsor_token = models.CharField(max_length=64, unique=True)
    sponsors_required = models.PositiveSmallIntegerField()
    duration_days = models.PositiveSmallIntegerField()
    opened_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    response_threshold = models.PositiveIntegerField()
    debate_threshold = models.PositiveIntegerField()
    response_threshold_reached_at = models.DateTimeField(null=True, blank=True)
    debate_threshold_reached_at = models.DateTimeField(null=True, blank=True)
    # Confirmed online signatures counted so far (batched; docs/adr/0050-petition-counting.md).
    signature_count = models.PositiveIntegerField(default=0)
    count_updated_at = models.DateTimeField(null=True, blank=True)
    rejection_code = models.CharField(max_length=20, choices=RejectionCode.choices, blank=True)
    rejection_details = models.TextField(blank=True)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    flagged = models.BooleanField(default=False)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    # Edit lock: the moderator working on the petition, so two do not collide.
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    locked_at = models.DateTimeField(null=True, blank=True)
    response_summary = models.CharField(max_length=500, blank=True)
    response_details = models.TextField(blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.CharField(max_length=120, blank=True, help_text="who answered, e.g. NHS England")
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("moderate_petition", "Can moderate petitions, release held signatures and record responses"),
            ("invalidate_signatures", "Can invalidate petition signatures in bulk"),
            ("record_paper_signatures", "Can record paper signatures"),
        ]
        indexes = [models.Index(fields=["state", "-opened_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(debate_threshold__gte=models.F("response_threshold")) & Q(response_threshold__gt=0),
                name="petition_thresholds_ordered",
            ),
            models.CheckConstraint(condition=Q(duration_days__gt=0), name="petition_duration_positive"),
            models.CheckConstraint(
                condition=~Q(state__in=["rejected", "hidden"]) | ~Q(rejection_code=""),
                name="petition_rejection_has_code",
            ),
        ]

    def __str__(self) -> str:
        return self.action


class SignatureState(models.TextChoices):
    PENDING = "pending", "Waiting for the signer to confirm"
    VALIDATED = "validated", "Confirmed"
    HELD = "held", "Confirmed, held for review"
    INVALIDATED = "invalidated", "Invalidated"


class Signature(models.Model):
    # Signing is the busiest write, and each index costs it: the petition's own index is left out (every index
    # below starts with the petition), as are a pattern index on the token and an index of empty invalidations.
    petition = models.ForeignKey(Petition, on_delete=models.PROTECT, related_name="signatures", db_index=False)
    name = models.CharField(max_length=255)
    email = models.CharField(max_length=254)
    # The address with aliases removed (rules.canonical_email): one signature per canonical email and name.
    canonical_email = models.CharField(max_length=254)
    email_domain = models.CharField(max_length=254)
    # 1 or 2: e-petitions' household rule lets two people sign from one email address (the unique constraint
    # below holds that at most two can, however many requests race).
    household_slot = models.PositiveSmallIntegerField(default=1)
    postcode = models.CharField(max_length=8, blank=True)
    location_code = models.CharField(max_length=2, default="GB")
    uk_citizen_or_resident = models.BooleanField()
    notify_by_email = models.BooleanField(default=False)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    is_creator = models.BooleanField(default=False)
    is_sponsor = models.BooleanField(default=False)
    state = models.CharField(max_length=12, choices=SignatureState.choices, default=SignatureState.PENDING)
    # Set when signing tripped a rate limit: confirming then holds the signature instead of counting it.
    suspect = models.BooleanField(default=False)
    token = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    validated_at = models.DateTimeField(null=True, blank=True)
    # True once the batch counter has added this confirmed signature to the petition's counts.
    counted = models.BooleanField(default=False)
    constituency_code = models.CharField(max_length=9, blank=True)
    icb_code = models.CharField(max_length=9, blank=True)
    region_code = models.CharField(max_length=9, blank=True)
    email_count = models.PositiveSmallIntegerField(default=1)
    # True from signing until the batch sender (`tasks.signature_confirmations_send`) has emailed the link.
    confirmation_due = models.BooleanField(default=False)
    invalidation = models.ForeignKey(
        "Invalidation", null=True, blank=True, on_delete=models.PROTECT, related_name="signatures", db_index=False
    )
    response_emailed_at = models.DateTimeField(null=True, blank=True)
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                "petition",
                "canonical_email",
                Lower("name"),
                condition=Q(anonymised_at__isnull=True),
                name="signature_one_per_email_and_name",
            ),
            models.UniqueConstraint(
                fields=["petition", "canonical_email", "household_slot"],
                condition=Q(anonymised_at__isnull=True),
                name="signature_two_per_email",
            ),
            models.UniqueConstraint(fields=["token"], name="signature_token_unique"),
            models.CheckConstraint(condition=Q(household_slot__in=[1, 2]), name="signature_household_slot"),
            models.CheckConstraint(
                condition=Q(counted=False) | Q(state="validated"), name="signature_counted_only_if_validated"
            ),
        ]
        indexes = [
            # Partial: only the signatures waiting for the counter (or for a moderator) are in these two, so the
            # writes of every other signature skip them, and they stay small however big a petition grows.
            models.Index(
                fields=["petition", "id"], condition=Q(state="validated", counted=False), name="signature_to_count"
            ),
            models.Index(fields=["petition", "created_at"], condition=Q(state="held"), name="signature_held"),
            models.Index(fields=["petition", "ip_address", "created_at"], name="signature_by_ip"),
            models.Index(fields=["petition", "email_domain", "created_at"], name="signature_by_domain"),
            models.Index(fields=["id"], condition=Q(confirmation_due=True), name="signature_confirmation_due"),
            models.Index(
                fields=["invalidation"], condition=Q(invalidation__isnull=False), name="signature_invalidation"
            ),
        ]

    def __str__(self) -> str:
        return f"signature #{self.pk} of petition #{self.petition_id}"


class AreaKind(models.TextChoices):
    CONSTITUENCY = "constituency", "Parliamentary constituency (2024)"
    ICB = "icb", "Integrated care board"
    REGION = "region", "NHS England region"
    COUNTRY = "country", "Country"


class AreaCount(models.Model):
    """Confirmed, counted online signatures of one petition in one area (code "" is "unknown")."""

    petition = models.ForeignKey(Petition, on_delete=models.PROTECT, related_name="area_counts")
    kind = models.CharField(max_length=12, choices=AreaKind.choices)
    code = models.CharField(max_length=9, blank=True)
    signature_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["petition", "kind", "code"], name="area_count_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.code or 'unknown'}: {self.signature_count}"


class Area(models.Model):
    """The name (and, for constituencies, the MP) of an ONS area code."""

    kind = models.CharField(max_length=12, choices=AreaKind.choices)
    code = models.CharField(max_length=9)
    name = models.CharField(max_length=120)
    mp = models.CharField(max_length=120, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="area_unique")]

    def __str__(self) -> str:
        return self.name


class Postcode(models.Model):
    """One row of the ONS Postcode Directory, as much as petitions need (`carefund petitions load-postcodes`)."""

    postcode = models.CharField(max_length=8, primary_key=True)  # upper case, no spaces
    constituency_code = models.CharField(max_length=9, blank=True)  # ONSPD `pcon` (2024 boundaries)
    icb_code = models.CharField(max_length=9, blank=True)  # ONSPD `icb`
    region_code = models.CharField(max_length=9, blank=True)  # ONSPD `nhser`
    country_code = models.CharField(max_length=9, blank=True)  # ONSPD `ctry`

    def __str__(self) -> str:
        return self.postcode


class PaperSignatureBatch(models.Model):
    """Signatures collected on paper: shown apart from online ones, never in the counts by area."""

    petition = models.ForeignKey(Petition, on_delete=models.PROTECT, related_name="paper_batches")
    signature_count = models.PositiveIntegerField()
    collected_on = models.DateField()
    place = models.CharField(max_length=200)
    held_by = models.CharField(max_length=200, help_text="who holds the sheets")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["collected_on", "id"]
        constraints = [models.CheckConstraint(condition=Q(signature_count__gt=0), name="paper_batch_positive")]

    def __str__(self) -> str:
        return f"{self.signature_count} paper signatures, {self.collected_on}"


class Invalidation(models.Model):
    """A bulk invalidation by rule, as run (what it matched, who ran it, why)."""

    petition = models.ForeignKey(Petition, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    email_domain = models.CharField(max_length=254, blank=True)
    signed_from = models.DateTimeField(null=True, blank=True)
    signed_until = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    matched = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"invalidation #{self.pk}: {self.reason}"
