"""Reads of campaigns and gifts: public ones (no personal data beyond what donors chose to show) and
permission-checked staff ones."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Lower

from carefund.campaigns import rules
from carefund.campaigns.models import (
    Campaign,
    CampaignPhoto,
    CampaignUpdate,
    Donation,
    DonationStatus,
    MessageStatus,
    OfflineBatch,
    Payout,
    WebhookEvent,
    WebhookEventState,
)
from carefund.core import clock
from carefund.core.errors import NotFoundError, PermissionDeniedError
from carefund.core.money import format_pence
from carefund.ledger import chart
from carefund.ledger.integrity import clearing_accounts_below_zero
from carefund.ledger.models import Posting
from carefund.ledger.selectors import account_balance_pence


def _public_campaigns() -> QuerySet[Campaign]:
    return Campaign.objects.filter(state__in=rules.PUBLIC_STATES, child__publicity_consent=True).select_related("child")


def campaigns_published() -> QuerySet[Campaign]:
    """Campaigns on the home page: published or at target, of children whose guardians consent to publicity."""
    return _public_campaigns().filter(state__in=rules.GIVING_STATES).order_by("-published_at", "-pk")


def campaign_get_public(*, slug: str) -> Campaign:
    campaign = _public_campaigns().filter(slug=slug).first()
    if campaign is None:
        raise NotFoundError(f"campaign: there is no public campaign {slug!r}.", field="slug")
    return campaign


def raised_pence(*, campaign_id: int) -> int:
    """The money a campaign has raised: the sum of its succeeded gifts, online and offline, less what was refunded of
    them in part (refunded and disputed gifts no longer count; money already spent on the child's care still does).
    Not the child's restricted fund balance, which also moves with spending, surplus transfers and the child's other
    campaigns.

    Read live on every view of the public campaign page and at every gift confirmed, so it is raw SQL: the same SUM
    through the ORM took 0.5-1.2 ms longer a call (docs/benchmarks.md, "The money raised: raw SQL or the ORM",
    `benchmarks.raised_pence`); it reads the covering index `donation_raised` alone."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(amount_pence - refunded_gift_pence), 0) FROM {Donation._meta.db_table}"  # noqa: S608
            " WHERE campaign_id = %s AND status = %s",
            [campaign_id, DonationStatus.SUCCEEDED.value],
        )
        row = cursor.fetchone()
    return int(row[0]) if row is not None else 0


def campaign_progress(*, campaign: Campaign, gift_aid_to_come_pence: int = 0) -> rules.Progress:
    return rules.Progress(
        raised_pence=raised_pence(campaign_id=campaign.pk),
        gift_aid_to_come_pence=gift_aid_to_come_pence,
        target_pence=campaign.target_pence,
        nhs_covers_pence=campaign.nhs_covers_pence,
    )


@dataclass(frozen=True)
class PublicGift:
    donor: str
    amount_pence: int
    message: str  # only an approved message; escaped by the template
    received_on: Any


def recent_gifts_public(*, campaign: Campaign, limit: int = 20) -> list[PublicGift]:
    rows = Donation.objects.filter(campaign=campaign, status=DonationStatus.SUCCEEDED).order_by("-succeeded_at", "-pk")
    return [
        PublicGift(
            donor=d.public_donor_name,
            amount_pence=d.amount_pence - d.refunded_gift_pence,  # what stands of it after a partial refund
            message=d.message if d.message_status == MessageStatus.APPROVED else "",
            received_on=d.received_on,
        )
        for d in rows[:limit]
    ]


@dataclass(frozen=True)
class PublicUpdate:
    posted_at: Any
    body: str  # escaped by the template


def updates_public(*, campaign: Campaign) -> list[PublicUpdate]:
    """A campaign's updates, newest first, as the public page shows them (plain values, so they can be cached)."""
    rows = (
        CampaignUpdate.objects.filter(campaign=campaign).order_by("-posted_at", "-pk").values_list("posted_at", "body")
    )
    return [PublicUpdate(posted_at=posted_at, body=body) for posted_at, body in rows]


@dataclass(frozen=True)
class PublicPhoto:
    token: str
    alt_text: str  # escaped by the template
    caption: str
    width: int
    height: int


def photos_public(*, campaign: Campaign) -> list[PublicPhoto]:
    """A campaign's photos as its page lists them, oldest first (their descriptions, not their bytes)."""
    rows = CampaignPhoto.objects.filter(campaign=campaign).order_by("added_at", "pk")
    return [
        PublicPhoto(token=t, alt_text=a, caption=c, width=w, height=h)
        for t, a, c, w, h in rows.values_list("token", "alt_text", "caption", "width", "height")
    ]


def photo_get_public(*, slug: str, token: str) -> bytes:
    """The JPEG of a photo on a public campaign's page; NotFoundError for any other."""
    campaign = campaign_get_public(slug=slug)
    image = CampaignPhoto.objects.filter(campaign=campaign, token=token).values_list("image", flat=True).first()
    if image is None:
        raise NotFoundError("photo: this campaign has no such photo.", field="token")
    return bytes(image)


def donation_get_by_receipt_token(*, token: str) -> Donation:
    """The donor's own gift, reached through the unguessable link in their receipt."""
    donation = Donation.objects.select_related("campaign", "campaign__child").filter(receipt_token=token).first()
    if donation is None or not token:
        raise NotFoundError("gift: no gift has this link.", field="token")
    return donation


def donation_get_by_session(*, session_id: str) -> Donation:
    donation = Donation.objects.select_related("campaign").filter(checkout_session_id=session_id).first()
    if donation is None:
        raise NotFoundError("checkout: no such checkout.", field="session_id")
    return donation


def donors_for_child(*, child_id: int) -> list[dict[str, str]]:
    """Donors (name and email) whose gifts to this child's campaigns still stand, one per email address, for the
    surplus-transfer notice. Gifts with no email (cash in a bucket) cannot be told."""
    rows = (
        Donation.objects.filter(campaign__child_id=child_id, status=DonationStatus.SUCCEEDED)
        .exclude(donor_email="")
        .order_by("donor_email", "pk")
        .values_list("donor_email", "donor_name")
    )
    seen: dict[str, dict[str, str]] = {}
    for email, name in rows:
        key = email.strip().lower()
        if key not in seen:
            seen[key] = {"email": email, "name": name}
    return list(seen.values())


# --- Staff --------------------------------------------------------------------------------------------------------


def _require(user: Any, perm: str) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm(perm):
        raise PermissionDeniedError(f"you may not see this; it needs the permission {perm}.")


def campaigns_for_staff(*, user: Any) -> QuerySet[Campaign]:
    _require(user, "campaigns.view_gifts")
    return Campaign.objects.select_related("child").order_by("-created_at")


def campaign_get_for_staff(*, user: Any, slug: str) -> Campaign:
    _require(user, "campaigns.view_gifts")
    campaign = Campaign.objects.select_related("child").filter(slug=slug).first()
    if campaign is None:
        raise NotFoundError(f"campaign: no campaign {slug!r}.", field="slug")
    return campaign


def gifts_for_campaign(*, user: Any, campaign: Campaign) -> QuerySet[Donation]:
    _require(user, "campaigns.view_gifts")
    gifts = campaign.donations.exclude(status=DonationStatus.EXPIRED)  # test checkouts left unpaid
    return gifts.select_related("entered_by", "batch").order_by("-created_at", "-pk")


def messages_to_moderate(*, user: Any) -> QuerySet[Donation]:
    _require(user, "campaigns.moderate_message")
    return Donation.objects.filter(
        message_status=MessageStatus.PENDING, status=DonationStatus.SUCCEEDED
    ).select_related("campaign")


@dataclass(frozen=True)
class ReconciliationLine:
    label: str
    expected_pence: int  # from the gifts
    ledger_pence: int  # from the book
    count: int

    @property
    def difference_pence(self) -> int:
        return self.ledger_pence - self.expected_pence

    @property
    def matches(self) -> bool:
        return self.difference_pence == 0


def _sum(qs: QuerySet[Any], expr: Any) -> int:
    return int(qs.aggregate(s=Sum(expr))["s"] or 0)


def reconciliation(*, user: Any) -> list[ReconciliationLine]:
    """Gifts against the book: each gateway's clearing account must hold what its confirmed gifts took, less fees
    and reversals (until payouts move it to the bank); each offline batch's lines must equal its stated total
    and its postings to the bank."""
    _require(user, "campaigns.view_gifts")
    out: list[ReconciliationLine] = []
    gateways = set(Donation.objects.exclude(gateway="").values_list("gateway", flat=True).distinct().order_by())
    gateways |= set(Payout.objects.values_list("gateway", flat=True).distinct().order_by())
    in_bank = Posting.objects.filter(account__name=chart.BANK, transaction__is_posted=True)
    for gateway in sorted(gateways):
        gifts = Donation.objects.filter(gateway=gateway)
        standing = gifts.filter(status=DonationStatus.SUCCEEDED)
        taken = _sum(standing, F("amount_pence") + F("costs_contribution_pence") - F("refunded_pence"))
        fees = _sum(gifts, Coalesce("fee_pence", 0) + F("dispute_fees_pence"))
        posted_payouts = Payout.objects.filter(gateway=gateway, ledger_transaction__isnull=False)  # not those held
        paid_out = _sum(posted_payouts, "amount_pence")
        out.append(
            ReconciliationLine(
                label=f"{gateway} clearing ({chart.clearing_account(gateway)}): confirmed gifts less refunds, fees "
                "(dispute fees too) and payouts",
                expected_pence=taken - fees - paid_out,
                ledger_pence=account_balance_pence(name=chart.clearing_account(gateway)),
                count=standing.count(),
            )
        )
        out.append(
            ReconciliationLine(
                label=f"{gateway} payouts to the bank ({chart.BANK})",
                expected_pence=paid_out,
                ledger_pence=_sum(in_bank.filter(transaction__payout__gateway=gateway), "amount_pence"),
                count=posted_payouts.count(),
            )
        )
    batches = OfflineBatch.objects.annotate(line_count=Count("lines")).order_by("received_on", "pk")
    return out + [
        ReconciliationLine(
            label=f"offline batch #{batch.pk} {batch.description} "
            f"(stated total {format_pence(batch.stated_total_pence)})",
            expected_pence=batch.stated_total_pence,
            ledger_pence=_sum(in_bank.filter(transaction__donation__batch=batch), "amount_pence"),
            count=int(batch.line_count),
        )
        for batch in batches
    ]


@dataclass(frozen=True)
class WebhookQueueStatus:
    """What a finance officer watches on the reconciliation page: payment events stored and not yet applied, those
    refused or failed after their last try (the provider was told 200: each needs a look), payouts held because the
    clearing account did not cover them, clearing accounts below zero, and gifts whose fee is overdue."""

    queued: int
    oldest_queued_at: dt.datetime | None
    refused: list[WebhookEvent]  # refused by the worker, or failed after the last try
    held_payouts: list[Payout]
    clearing_below_zero: list[str]
    # confirmed online gifts whose provider's fee has been unknown for longer than FEE_OVERDUE (the clearing account
    # still holds their fees, and the reconciliation above cannot see it: it counts a fee once it is known)
    fees_overdue: int
    oldest_fee_overdue_at: dt.datetime | None


# Stripe's fees come with the payout that pays the gifts out (services.payout_fees_record); Stripe pays out a UK
# account's balance on a rolling schedule of a few days, so a fee still unknown after two weeks is overdue.
FEE_OVERDUE = dt.timedelta(days=14)
# the gifts that were confirmed, so whose provider's fee was charged, whatever happened to them since
FEE_STATUSES = (DonationStatus.SUCCEEDED, DonationStatus.REFUNDED, DonationStatus.DISPUTED)


def _fees_overdue() -> QuerySet[Donation]:
    """Confirmed online gifts (refunded or disputed since included: the provider keeps its fee) whose fee has been
    unknown for longer than FEE_OVERDUE."""
    return Donation.objects.filter(
        status__in=FEE_STATUSES,
        fee_pence__isnull=True,
        ledger_transaction__isnull=False,
        succeeded_at__lt=clock.now() - FEE_OVERDUE,
    ).exclude(payment_intent_id="")


def fees_overdue_for_finance(*, user: Any, limit: int = 50) -> list[Donation]:
    """The oldest `limit` gifts whose provider's fee is overdue, for a finance officer to record each fee by hand
    (`services.donation_fee_record_by_hand`) from the provider's own records (its dashboard or payout report)."""
    _require(user, "campaigns.record_fee")
    return list(_fees_overdue().select_related("campaign").order_by("succeeded_at", "pk")[:limit])


def webhook_queue_status(*, user: Any, refused_limit: int = 50) -> WebhookQueueStatus:
    _require(user, "campaigns.view_gifts")
    queued = WebhookEvent.objects.filter(state=WebhookEventState.QUEUED)
    oldest = queued.order_by("received_at").values_list("received_at", flat=True).first()
    refused = WebhookEvent.objects.filter(state__in=(WebhookEventState.REFUSED, WebhookEventState.FAILED))
    overdue = _fees_overdue()
    return WebhookQueueStatus(
        queued=queued.count(),
        oldest_queued_at=oldest,
        refused=list(refused.order_by("-received_at")[:refused_limit]),
        held_payouts=list(Payout.objects.filter(ledger_transaction__isnull=True).order_by("arrived_on", "pk")),
        clearing_below_zero=clearing_accounts_below_zero(),
        fees_overdue=overdue.count(),
        oldest_fee_overdue_at=overdue.order_by("succeeded_at").values_list("succeeded_at", flat=True).first(),
    )


def supporters_count(*, campaign_id: int) -> int:
    """How many people gave to the campaign (gifts that stand): each email address once, and each gift given
    without an email (offline takings, cash) as one. One query."""
    no_email = Q(donor_email="")
    counts = Donation.objects.filter(campaign_id=campaign_id, status=DonationStatus.SUCCEEDED).aggregate(
        emails=Count(Lower("donor_email"), distinct=True, filter=~no_email),
        without=Count("pk", filter=no_email),
    )
    return int(counts["emails"]) + int(counts["without"])
