"""Campaigns, their updates, gifts (online and offline), offline batches and the webhook events seen.

Money is integer pence. A gift's money enters the book only through `services` (and so `ledger_post`); the
`ledger_transaction` link says which transaction brought it in, `reversal_transaction` which one took it out."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class CampaignState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    TARGET_REACHED = "target_reached", "Target reached"
    CLOSED = "closed", "Closed"


class Campaign(models.Model):
    """One campaign per child's need; shown to the public only with the guardians' publicity consent."""

    child = models.ForeignKey("care.Child", on_delete=models.PROTECT, related_name="campaigns")
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    story = models.TextField(blank=True)
    media_partner = models.CharField(max_length=200, blank=True, help_text="e.g. the Daily Echo")
    state = models.CharField(max_length=20, choices=CampaignState.choices, default=CampaignState.DRAFT)
    target_pence = models.BigIntegerField(default=0)
    nhs_covers_pence = models.BigIntegerField(default=0)
    target_explanation = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(target_pence__gte=0), name="campaign_target_not_negative"),
            models.CheckConstraint(condition=Q(nhs_covers_pence__gte=0), name="campaign_nhs_covers_not_negative"),
        ]
        permissions = [
            ("view_gifts", "Can see a campaign's gifts, refunds and reconciliation"),
            ("moderate_message", "Can approve or reject donors' messages"),
            ("record_offline_gift", "Can record offline gifts and batches"),
            ("record_fee", "Can record a gift's payment fee by hand when the provider never gives it"),
        ]

    def __str__(self) -> str:
        return self.title


class CampaignUpdate(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="updates")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["-posted_at", "-pk"]

    def __str__(self) -> str:
        return f"update #{self.pk} to {self.campaign_id}"


class CampaignPhoto(models.Model):
    """A photo on a campaign's public page, added by the child's family or a caseworker. Only the re-encoded JPEG
    is kept (services.campaign_photo_add: upright, at most rules.PHOTO_MAX_SIDE pixels a side, no metadata), in the
    database with its row, so a photo and its record are written, backed up and removed together. Its address
    carries `token`, so that a photo removed from a page cannot be found again by counting."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="photos")
    token = models.CharField(max_length=32, unique=True)
    image = models.BinaryField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    alt_text = models.CharField(max_length=200)  # what the photo shows, for people who cannot see it
    caption = models.CharField(max_length=300, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(width__gt=0) & Q(height__gt=0), name="campaign_photo_has_size"),
        ]

    def __str__(self) -> str:
        return f"photo #{self.pk} of campaign {self.campaign_id}"


class DonationStatus(models.TextChoices):
    PENDING = "pending", "Pending (waiting for the payment provider)"
    SUCCEEDED = "succeeded", "Succeeded"
    REFUNDED = "refunded", "Refunded"
    DISPUTED = "disputed", "Disputed (charged back)"
    EXPIRED = "expired", "Expired (the test checkout was left unpaid)"


class DonationKind(models.TextChoices):
    CARD = "card", "Card (online)"
    CASH = "cash", "Cash"
    CHEQUE = "cheque", "Cheque"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    EVENT_TAKINGS = "event_takings", "Event takings (e.g. a sponsored walk)"
    BUCKET_COLLECTION = "bucket_collection", "Bucket collection"


OFFLINE_KINDS = frozenset(DonationKind) - {DonationKind.CARD}


class MessageStatus(models.TextChoices):
    NONE = "none", "No message"
    PENDING = "pending", "Waiting for moderation"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class OfflineBatch(models.Model):
    """Offline gifts entered together (a sponsored walk's takings, a week's cheques): lines add up to the total."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="offline_batches")
    description = models.CharField(max_length=200)
    stated_total_pence = models.BigIntegerField()
    received_on = models.DateField()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField()

    class Meta:
        ordering = ["-entered_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(stated_total_pence__gt=0), name="offline_batch_total_positive"),
        ]

    def __str__(self) -> str:
        return f"batch #{self.pk}: {self.description}"


class Donation(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="donations")
    amount_pence = models.BigIntegerField(help_text="The gift to the child's restricted fund.")
    costs_contribution_pence = models.BigIntegerField(default=0, help_text="Extra given to the charity's costs.")
    status = models.CharField(max_length=12, choices=DonationStatus.choices, default=DonationStatus.PENDING)
    kind = models.CharField(max_length=20, choices=DonationKind.choices, default=DonationKind.CARD)
    gateway = models.CharField(max_length=20, blank=True, help_text="'stripe' or 'test' for online gifts")
    checkout_session_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    payment_intent_id = models.CharField(max_length=200, blank=True, db_index=True)
    fee_pence = models.BigIntegerField(null=True, blank=True)
    refunded_pence = models.BigIntegerField(
        default=0,
        help_text="Of a confirmed gift's total, what the provider has refunded in part and carefund has posted (a "
        "refund of the whole gift changes its status instead).",
    )
    refunded_gift_pence = models.BigIntegerField(
        default=0,
        help_text="The part of refunded_pence taken from the gift to the child (the rest from the contribution to "
        "costs, in proportion: rules.refund_from_gift_pence; the database checks it).",
    )
    dispute_fees_pence = models.BigIntegerField(
        default=0,
        help_text="The provider's dispute fees for this gift posted as expenses, less any it gave back "
        "(services.donation_dispute_fees_record, once per balance transaction).",
    )
    donor_name = models.CharField(max_length=200, blank=True)
    donor_email = models.EmailField(blank=True)
    is_anonymous = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    message_status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.NONE)
    reference = models.CharField(max_length=100, blank=True, help_text="Cheque number, bank reference, event")
    receipt_token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    succeeded_at = models.DateTimeField(null=True, blank=True)
    received_on = models.DateField(null=True, blank=True)
    ledger_transaction = models.OneToOneField(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="donation"
    )
    fee_kept_transaction = models.OneToOneField(
        "ledger.Transaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="donation_fee_kept",
        help_text="After a refund or dispute: the provider's fee, which it keeps, posted again as an expense.",
    )
    reversal_transaction = models.OneToOneField(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="donation_reversal"
    )
    reinstated_transaction = models.OneToOneField(
        "ledger.Transaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="donation_reinstated",
        help_text="After a dispute the charity won: the money the provider gave back, posted to the funds again.",
    )
    batch = models.ForeignKey(OfflineBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="lines")
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # covers the money a campaign has raised (`selectors.raised_pence`, read on every view of its public page
            # and when its target is checked): the SUM reads this index alone, not the gifts' rows. The id before
            # the amount keeps a campaign's gifts of one status in row order, so queries that go on to read the rows
            # (the Gift Aid to come) read them in order rather than by amount, at random.
            # The amount refunded in part is in it too, since the money raised is what was given less that.
            models.Index(
                fields=["campaign", "status", "id", "amount_pence", "refunded_gift_pence"], name="donation_raised"
            ),
            # the confirmed online gifts whose provider's fee is not known yet (a Stripe gift until its payout):
            # the reconciliation page counts those overdue by when they were confirmed. Partial, so it holds only
            # those few, however many gifts there are (offline gifts, with no payment intent, are not in it).
            models.Index(
                fields=["succeeded_at"],
                name="donation_fee_unknown",
                condition=Q(status="succeeded", fee_pence__isnull=True) & ~Q(payment_intent_id=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_pence__gt=0), name="donation_amount_positive"),
            models.CheckConstraint(condition=Q(costs_contribution_pence__gte=0), name="donation_costs_not_negative"),
            models.CheckConstraint(condition=Q(fee_pence__isnull=True) | Q(fee_pence__gte=0), name="donation_fee_ok"),
            models.CheckConstraint(
                condition=Q(refunded_gift_pence__gte=0)
                & Q(refunded_gift_pence__lte=F("refunded_pence"))
                & Q(refunded_gift_pence__lte=F("amount_pence"))
                & Q(refunded_pence__lte=F("amount_pence") + F("costs_contribution_pence")),
                name="donation_refunded_in_part_ok",
            ),
            # refunded_gift_pence is derived (rules.refund_from_gift_pence) and kept for the money raised's covering
            # index: the database holds it to the same rule, so it cannot drift from refunded_pence
            models.CheckConstraint(
                condition=Q(refunded_pence__gte=0)
                & Q(
                    refunded_gift_pence=F("amount_pence")
                    * F("refunded_pence")
                    / (F("amount_pence") + F("costs_contribution_pence"))
                ),
                name="donation_refunded_gift_is_its_share",
            ),
        ]

    def __str__(self) -> str:
        return f"gift #{self.pk}"

    @property
    def total_pence(self) -> int:
        return int(self.amount_pence) + int(self.costs_contribution_pence)

    @property
    def public_donor_name(self) -> str:
        return "Anonymous" if self.is_anonymous or not self.donor_name else self.donor_name


class WebhookEventState(models.TextChoices):
    QUEUED = "queued", "queued: stored, waiting for the task worker"
    APPLIED = "applied", "applied"
    REFUSED = "refused", "refused by the worker (its contents do not fit what carefund knows; see the outcome)"
    FAILED = "failed", "failed after the last try (see the outcome; a finance officer looks at it)"


class WebhookEvent(models.Model):
    """Each verified provider event of a type carefund handles, once: the unique event id is what makes a retried
    delivery harmless. Stored QUEUED with what it says (`payload`: the event's `data.object`) by the webhook, in
    the transaction that puts its task on the queue; the worker applies it (`services.webhook_event_process`)."""

    event_id = models.CharField(max_length=255, unique=True)
    gateway = models.CharField(max_length=20)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=WebhookEventState.choices, default=WebhookEventState.QUEUED)
    payload = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            # the few events not applied (queued, refused, failed): the reconciliation page and the sweep read them
            models.Index(fields=["received_at"], name="webhookevent_open", condition=~models.Q(state="applied")),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.type} {self.event_id}"


class Payout(models.Model):
    """Money the payment provider paid from its clearing balance into the bank (Stripe's payout.paid). Without a
    ledger transaction it is held: the clearing account did not cover it (`services.payouts.payout_record`)."""

    payout_id = models.CharField(max_length=255, unique=True)
    gateway = models.CharField(max_length=20)
    amount_pence = models.BigIntegerField()
    arrived_on = models.DateField()
    ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, related_name="payout", null=True, blank=True
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-arrived_on", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(amount_pence__gt=0), name="payout_amount_positive")]

    def __str__(self) -> str:
        return f"{self.gateway} payout {self.payout_id}"
