"""Gift Aid declarations: a dated record per donor, never a flag on a gift (sources.md: Gift Aid: declarations).

Which gifts a declaration covers (`rules.declaration_covers`; the same rule in SQL in
`selectors.gift_aid_due_for_campaign`):

- the gift it was made with (`donation`), always, whatever the scope;
- for the "this and future" and "past four years and future" scopes, a donor's other gifts, but only those that
  are the declaring donor's own (HMRC: the declaration must be the donor's, sources.md: Gift Aid: declarations). An
  email alone is not
  enough, since a couple or a family may give from one address: the gift's donor email must match `donor_key` (the
  email of the declaration's gift, trimmed and lower-cased, `donor_key_for`) AND the donor name on the gift must end
  with the declaration's `last_name` as whole words, case- and space-insensitive (`rules.name_matches_last_name`).
  "Ann Smith" or "A SMITH" with the same email is covered by Ann Smith's declaration; "Bob Jones" with that email
  is not, nor is a gift with no name. Anonymous gifts are judged by the name stored on them like any other;
- and then only when the dates say so: `covers_from <= received_on < cancelled_on` (cancellation is not
  retrospective).

When the rule is in doubt the gift is not covered: Gift Aid claimed wrongly must be repaid to HMRC. A gift without
an email (an anonymous cash gift) is only ever covered by a declaration made with that very gift.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from carefund.campaigns.models import Donation
from carefund.giftaid.rules import HOUSE_MAX_LENGTH, NAME_MAX_LENGTH, SCOPE_LABELS, Scope, email_key


def donor_key_for(email: str) -> str:
    """The email key on a declaration: the email, trimmed and lower-cased (`rules.email_key`). With the last name
    it links the donor's other gifts (see the module docstring)."""
    return email_key(email)


class Declaration(models.Model):
    title = models.CharField(max_length=4, blank=True)
    first_name = models.CharField(max_length=NAME_MAX_LENGTH)
    last_name = models.CharField(max_length=NAME_MAX_LENGTH)
    house_name_or_number = models.CharField(max_length=HOUSE_MAX_LENGTH)
    address = models.CharField(max_length=300)
    postcode = models.CharField(max_length=8)
    email = models.EmailField(blank=True)
    donor_key = models.CharField(max_length=254, blank=True, db_index=True, editable=False)
    scope = models.CharField(max_length=32, choices=[(s.value, SCOPE_LABELS[s]) for s in Scope])
    declared_on = models.DateField()
    # The first date of another gift by the same donor that this declaration covers (declared_on, or four years
    # earlier for the past-four-years scope); null for "this gift only". Worked out once by
    # `rules.earliest_covered_date` when recorded, so a campaign's Gift Aid can be summed in one query.
    covers_from = models.DateField(null=True, blank=True, editable=False)
    donation = models.OneToOneField(Donation, on_delete=models.PROTECT, related_name="gift_aid_declaration")
    # The declaration as the donor made it: HMRC's model wording for the scope, with the charity and the gift's
    # amount filled in (kept so the charity can show HMRC what each donor agreed to; sources.md: Gift Aid:
    # declarations).
    wording = models.TextField(editable=False, default="")
    cancelled_on = models.DateField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=200, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-declared_on", "-id"]
        permissions = [("cancel_declaration", "Can cancel a Gift Aid declaration")]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=[s.value for s in Scope]), name="giftaid_declaration_scope_known"
            ),
            models.CheckConstraint(
                condition=~Q(first_name="") & ~Q(last_name="") & ~Q(house_name_or_number="") & ~Q(postcode=""),
                name="giftaid_declaration_donor_identified",
            ),
            models.CheckConstraint(
                condition=~Q(address=""),
                name="giftaid_declaration_has_address",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_on__isnull=True) | Q(cancelled_on__gte=models.F("declared_on")),
                name="giftaid_declaration_cancelled_after_declared",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_on__isnull=True, cancellation_reason="")
                | (Q(cancelled_on__isnull=False) & ~Q(cancellation_reason="")),
                name="giftaid_declaration_cancellation_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["donor_key", "declared_on"], name="giftaid_decl_donor_date")]

    def __str__(self) -> str:
        return f"Gift Aid declaration {self.pk}: {self.first_name} {self.last_name}, {self.get_scope_display()}"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.title, self.first_name, self.last_name) if p)

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_on is not None


# --- claims (docs/giftaid.md "Claims") ------------------------------------------------------------------------


class ClaimState(models.TextChoices):
    DRAFT = "draft", "Draft (not yet filed with HMRC)"
    SUBMITTED = "submitted", "Submitted to HMRC"
    PAID = "paid", "Paid by HMRC"
    REJECTED = "rejected", "Rejected (its gifts may be claimed again)"


class Scheme(models.TextChoices):
    GIFT_AID = "gift_aid", "Gift Aid"
    GASDS = "gasds", "Small Donations Scheme (GASDS)"


class Claim(models.Model):
    """One claim to HMRC for the gifts received up to `period_end` and not claimed before. Its gifts are locked in
    it (`ClaimGift`, one active claim per gift, enforced by a partial unique index). Amounts in pence."""

    period_end = models.DateField()
    state = models.CharField(max_length=12, choices=ClaimState.choices, default=ClaimState.DRAFT)
    gifts_count = models.PositiveIntegerField(default=0)
    amount_pence = models.BigIntegerField(default=0)  # the Gift Aid gifts claimed on
    gift_aid_pence = models.BigIntegerField(default=0)  # 25p per £1 on them
    lines_count = models.PositiveIntegerField(default=0)  # rows of the schedule (individual and aggregated)
    aggregated_lines = models.PositiveIntegerField(default=0)
    earliest_donation_date = models.DateField(null=True, blank=True)
    overclaimed_pence = models.BigIntegerField(default=0)  # the "previously overclaimed" header cell
    gasds_donations_pence = models.BigIntegerField(default=0)  # small donations claimed under GASDS
    gasds_pence = models.BigIntegerField(default=0)  # the GASDS top-up on them
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    hmrc_reference = models.CharField(max_length=40, blank=True)
    paid_pence = models.BigIntegerField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    difference_reason = models.CharField(max_length=300, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rejected_on = models.DateField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=300, blank=True)
    submission_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rejection_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("submit_claim", "Can confirm a Gift Aid claim was filed with HMRC (not the person who made it)"),
            ("record_claim_outcome", "Can record HMRC's payment or rejection of a Gift Aid claim"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in ClaimState]), name="giftaid_claim_state_known"
            ),
            models.CheckConstraint(
                condition=Q(amount_pence__gte=0, gift_aid_pence__gte=0, overclaimed_pence__gte=0)
                & Q(gasds_donations_pence__gte=0, gasds_pence__gte=0),
                name="giftaid_claim_amounts_not_negative",
            ),
            # four eyes, in the database too: the person who confirms the filing is not the one who made the claim
            models.CheckConstraint(
                condition=Q(submitted_by__isnull=True) | ~Q(submitted_by=models.F("created_by")),
                name="giftaid_claim_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(state=ClaimState.DRAFT)
                | Q(state=ClaimState.REJECTED, submitted_by__isnull=True)
                | (Q(submitted_by__isnull=False, submitted_at__isnull=False) & ~Q(hmrc_reference="")),
                name="giftaid_claim_submitted_has_reference",
            ),
            models.CheckConstraint(
                condition=~Q(state=ClaimState.PAID) | Q(paid_pence__gt=0, paid_on__isnull=False),
                name="giftaid_claim_paid_has_amount_and_date",
            ),
        ]

    def __str__(self) -> str:
        return f"Gift Aid claim {self.pk} to {self.period_end:%d %B %Y} ({self.get_state_display()})"

    @property
    def expected_pence(self) -> int:
        """What HMRC should pay: the Gift Aid and GASDS top-up, less what was overclaimed before."""
        return self.gift_aid_pence + self.gasds_pence - self.overclaimed_pence


class ClaimGift(models.Model):
    """A gift in a claim: `active` while the claim stands (draft, submitted, paid); a rejected claim's gifts become
    inactive and may be claimed again. A gift is in one active claim only, enforced by the database."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="gifts")
    donation = models.ForeignKey(Donation, on_delete=models.PROTECT, related_name="+")
    scheme = models.CharField(max_length=10, choices=Scheme.choices, default=Scheme.GIFT_AID)
    child_id = models.PositiveBigIntegerField()  # whose restricted fund the Gift Aid follows the gift to
    declaration = models.ForeignKey(Declaration, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    amount_pence = models.BigIntegerField()  # the gift claimed on (what the donor kept given)
    gift_aid_pence = models.BigIntegerField()  # Gift Aid, or the GASDS top-up, on it
    received_on = models.DateField()
    line = models.PositiveIntegerField(null=True, blank=True)  # the schedule line (GASDS gifts have none)
    aggregated = models.BooleanField(default=False)
    sponsored = models.BooleanField(default=False)
    repaid_pence = models.BigIntegerField(default=0)  # Gift Aid given back after a refund or dispute
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["donation"], condition=Q(active=True), name="giftaid_gift_in_one_claim_only"
            ),
            models.CheckConstraint(
                condition=Q(amount_pence__gt=0, gift_aid_pence__gte=0, repaid_pence__gte=0)
                & Q(repaid_pence__lte=models.F("gift_aid_pence")),
                name="giftaid_claimgift_amounts",
            ),
            models.CheckConstraint(condition=~Q(aggregated=True, sponsored=True), name="giftaid_claimgift_not_both"),
        ]
        indexes = [models.Index(fields=["claim", "line"], name="giftaid_claimgift_line")]

    def __str__(self) -> str:
        return f"gift {self.donation_id} in Gift Aid claim {self.claim_id}"


class LeftOutGift(models.Model):
    """A gift a claim did not take, and why (`claim_rules.LeftOutReason`)."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="left_out")
    donation = models.ForeignKey(Donation, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=24)

    def __str__(self) -> str:
        return f"gift {self.donation_id} left out of Gift Aid claim {self.claim_id}: {self.reason}"


class Repayment(models.Model):
    """Gift Aid to give back to HMRC on a claimed gift that was refunded or disputed: posted from the child's fund
    (or general funds where the fund has spent it) to what the charity owes HMRC, then carried into a later
    claim's "previously overclaimed" cell (`carried_into`)."""

    claim_gift = models.ForeignKey(ClaimGift, on_delete=models.PROTECT, related_name="repayments")
    amount_pence = models.BigIntegerField()
    kind = models.CharField(max_length=20)  # refund, partial_refund or dispute
    borne_by_general_fund = models.BooleanField(default=False)
    transaction = models.OneToOneField("ledger.Transaction", on_delete=models.PROTECT, related_name="+")
    carried_into = models.ForeignKey(
        Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="overclaims_carried"
    )
    # the claim the gift was on was rejected by HMRC: nothing was paid on it, so nothing is owed back
    released = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(amount_pence__gt=0), name="giftaid_repayment_positive")]

    def __str__(self) -> str:
        return f"Gift Aid repayment {self.pk}: {self.amount_pence} pence"
