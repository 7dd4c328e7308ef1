"""Online giving: a pending gift, its checkout, its confirmation (posted once, from the provider's event), what the
confirmation leaves to do (target, receipt), the donors' messages, and test checkouts left unpaid."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from carefund.campaigns import rules, selectors
from carefund.campaigns.cache import campaign_public_cache_invalidate
from carefund.campaigns.gateways import active_gateway
from carefund.campaigns.gateways.base import CheckoutRequest, PaymentGateway
from carefund.campaigns.models import Campaign, CampaignState, Donation, DonationKind, DonationStatus, MessageStatus
from carefund.campaigns.services._base import (
    gift_postings,
    new_token,
    note_fund_changed,
    receipts_due,
    require_perm,
    rows_save,
)
from carefund.campaigns.services.campaigns import sync_target_state
from carefund.core import clock
from carefund.core.errors import ConflictError, DomainError, NotFoundError, ValidationError
from carefund.core.services import audit_record, audit_record_many
from carefund.ledger import chart
from carefund.ledger.models import TransactionKind
from carefund.ledger.services import LedgerEntry, ledger_post_many

GIFT_CONFIRMED = "confirmed online"
# A test checkout not paid within this is abandoned (`checkouts_expire`); Stripe's own sessions expire after a day.
CHECKOUT_ABANDONED_AFTER = dt.timedelta(days=1)
# The gifts a paid checkout confirms: a pending one, and one expired as abandoned whose donor paid after all (the
# money was taken, so it is posted; any other status was confirmed before and is left as it is).
CONFIRMABLE = (DonationStatus.PENDING, DonationStatus.EXPIRED)


@dataclass(frozen=True)
class CheckoutStarted:
    donation: Donation
    redirect_url: str


def _check_gift_input(*, amount_pence: int, costs_contribution_pence: int, message: str) -> None:
    for problem in (
        rules.gift_amount_problem(amount_pence),
        rules.costs_contribution_problem(costs_contribution_pence),
        rules.message_problem(message),
    ):
        if problem:
            raise ValidationError(problem, field=problem.split(":", 1)[0])


@transaction.atomic
def donation_create_pending(
    *,
    campaign: Campaign,
    amount_pence: int,
    costs_contribution_pence: int = 0,
    donor_name: str = "",
    donor_email: str = "",
    is_anonymous: bool = False,
    message: str = "",
    gateway: str,
    actor: Any = None,
) -> Donation:
    """A pending online gift: nothing is posted until the provider confirms it through the webhook."""
    message = message.strip()
    _check_gift_input(amount_pence=amount_pence, costs_contribution_pence=costs_contribution_pence, message=message)
    if campaign.state not in rules.GIVING_STATES:
        raise ValidationError("campaign: this campaign is not taking gifts.", field="campaign")
    donation = Donation.objects.create(
        campaign=campaign,
        amount_pence=amount_pence,
        costs_contribution_pence=costs_contribution_pence,
        kind=DonationKind.CARD,
        gateway=gateway,
        donor_name=donor_name.strip()[:200],
        donor_email=donor_email.strip(),
        is_anonymous=is_anonymous,
        message=message,
        message_status=MessageStatus.PENDING if message else MessageStatus.NONE,
        receipt_token=new_token(),
        created_at=clock.now(),
    )
    audit_record(actor=actor, action="donation.create_pending", target=donation, summary=f"{amount_pence} pence")
    return donation


def checkout_start(
    *,
    donation: Donation,
    success_url: str,
    cancel_url: str,
    gateway: PaymentGateway | None = None,
    actor: Any = None,
) -> CheckoutStarted:
    """Ask the gateway for a checkout for a pending gift and remember its session id (outside a long transaction:
    the provider call may be slow)."""
    gw = gateway or active_gateway()
    if donation.status != DonationStatus.PENDING or donation.checkout_session_id:
        raise ConflictError("donation: this gift already has a checkout.", field="donation")
    session = gw.create_checkout(
        CheckoutRequest(
            donation_id=donation.pk,
            amount_pence=donation.total_pence,
            description=f"Gift to {donation.campaign.title}",
            success_url=success_url,
            cancel_url=cancel_url,
            donor_email=donation.donor_email,
        )
    )
    with transaction.atomic():
        Donation.objects.filter(pk=donation.pk).update(checkout_session_id=session.session_id, gateway=gw.name)
        audit_record(actor=actor, action="donation.checkout_start", target=donation, summary=session.session_id)
    donation.checkout_session_id, donation.gateway = session.session_id, gw.name
    return CheckoutStarted(donation=donation, redirect_url=session.redirect_url)


def checkout_refusal(
    donation: Donation | None, *, donation_id: int, gateway: str, session_id: str, amount_total_pence: int
) -> NotFoundError | ValidationError | None:
    """Why a completed checkout cannot confirm this gift (the platform never created it, the session does not match
    it, the amount differs), or None. The webhook asks it before it accepts an event, and the confirmation again."""
    if donation is None or not donation.gateway or (gateway and donation.gateway != gateway):
        return NotFoundError(f"donation: no online gift #{donation_id} was created here.", field="donation")
    if donation.checkout_session_id != session_id:
        return NotFoundError("session: this checkout was not created by carefund for that gift.", field="session")
    if amount_total_pence != donation.total_pence:
        return ValidationError(
            f"amount_total: the provider took {amount_total_pence} pence but the gift was for "
            f"{donation.total_pence} pence.",
            field="amount_total",
        )
    return None


@dataclass(frozen=True)
class CheckoutCompletion:
    """A provider's word that a gift's checkout was paid: what `donations_record_succeeded` checks and posts."""

    donation_id: int
    amount_total_pence: int
    session_id: str
    payment_intent_id: str = ""
    fee_pence: int | None = None
    gateway: str = ""


def donation_record_succeeded(
    *,
    donation_id: int,
    amount_total_pence: int,
    session_id: str,
    payment_intent_id: str = "",
    fee_pence: int | None = None,
    gateway: str = "",
    actor: Any = None,
) -> Donation:
    """Confirm one online gift (`donations_record_succeeded` with a list of one); raises its refusal."""
    completion = CheckoutCompletion(
        donation_id=donation_id,
        amount_total_pence=amount_total_pence,
        session_id=session_id,
        payment_intent_id=payment_intent_id,
        fee_pence=fee_pence,
        gateway=gateway,
    )
    (result,) = donations_record_succeeded([completion], actor=actor)
    if isinstance(result, DomainError):
        raise result
    return result


@transaction.atomic
def donations_record_succeeded(
    completions: Sequence[CheckoutCompletion], *, actor: Any = None
) -> list[Donation | DomainError]:
    """Confirm online gifts (from the provider's events, or the sweep that asks the provider) and post each once:
    Dr clearing / Cr the child's fund (/ Cr the general fund for a contribution to costs); a known fee posts as
    Dr fees / Cr clearing. Returns, for each completion in order, its gift or its refusal: a gift the platform never
    created, a session that does not match it, an amount that differs from what was asked, a fee out of bounds. A
    refused completion changes nothing; the others are confirmed. A gift already confirmed (here or before) is
    returned as it is: nothing posted twice.

    The gifts are read and locked in one query, posted in one `ledger_post_many`, updated in one statement and
    audited in one insert; what they leave to do (a campaign reaching its target, the receipts, the funding of each
    child) is done once. A failure while posting (a closed account) raises and rolls back all of them: the caller
    confirms them one by one to give each its own outcome."""
    # the gifts' rows only: on PostgreSQL a lock on the campaign's row would queue every gift to the campaign
    locked = Donation.objects.select_for_update(of=("self",)).select_related("campaign")
    gifts = locked.in_bulk({c.donation_id for c in completions})
    results: list[Donation | DomainError] = []
    confirming: list[tuple[Donation, int]] = []  # (gift, fee)
    for c in completions:
        donation = gifts.get(c.donation_id)
        refusal = checkout_refusal(
            donation,
            donation_id=c.donation_id,
            gateway=c.gateway,
            session_id=c.session_id,
            amount_total_pence=c.amount_total_pence,
        )
        if refusal is not None:
            results.append(refusal)
            continue
        assert donation is not None
        fee = c.fee_pence
        if donation.status in CONFIRMABLE and (
            fee is not None and (isinstance(fee, bool) or not 0 <= fee <= donation.total_pence)
        ):
            results.append(
                ValidationError(f"fee: must be 0 to {donation.total_pence} pence, got {fee!r}.", field="fee")
            )
            continue
        if donation.status in CONFIRMABLE:  # (a second completion of it in this list finds it confirmed)
            donation.status = DonationStatus.SUCCEEDED
            donation.payment_intent_id = c.payment_intent_id[:200]
            donation.fee_pence = fee
            confirming.append((donation, fee or 0))
        results.append(donation)
    if confirming:
        _post_confirmed(confirming, actor)
    return results


def _post_confirmed(confirming: list[tuple[Donation, int]], actor: Any) -> None:
    today, now = clock.today(), clock.now()
    transactions = ledger_post_many(
        entries=[
            LedgerEntry(
                kind=TransactionKind.DONATION,
                postings=gift_postings(donation, chart.clearing_account(donation.gateway), fee),
                memo=f"Gift #{donation.pk} to campaign #{donation.campaign_id}",
                on_date=today,
                idempotency_key=f"donation-{donation.pk}",
                group_id=f"donation-{donation.pk}",
                metadata={"donation_id": donation.pk},
            )
            for donation, fee in confirming
        ],
        actor=actor,
    )
    donations = [donation for donation, _ in confirming]
    for donation, txn in zip(donations, transactions, strict=True):
        donation.ledger_transaction = txn
        donation.succeeded_at, donation.received_on = now, today
    rows_save(
        donations, ["status", "succeeded_at", "received_on", "payment_intent_id", "fee_pence", "ledger_transaction"]
    )
    audit_record_many(
        actor=actor,
        events=[("donation.succeeded", d, f"{d.total_pence} pence", {}) for d in donations],
        at=now,
    )
    campaigns = {d.campaign_id: d.campaign for d in donations}
    for campaign in campaigns.values():
        target_sync(campaign, actor)
    for child_id in dict.fromkeys(c.child_id for c in campaigns.values()):
        note_fund_changed(child_id, GIFT_CONFIRMED)
    receipts_due([d.pk for d in donations if d.donor_email])


def target_sync(campaign: Campaign, actor: Any) -> None:
    """Move the campaign to "target reached" if the gifts just received took it there."""
    if (
        campaign.state == CampaignState.PUBLISHED
        and campaign.target_pence > 0
        and rules.has_reached_target(
            raised_pence=selectors.raised_pence(campaign_id=campaign.pk), target_pence=campaign.target_pence
        )
    ):
        locked = Campaign.objects.select_for_update().select_related("child").get(pk=campaign.pk)
        sync_target_state(locked, actor=actor)


def after_success(donation: Donation, actor: Any, *, sync_target: bool = True) -> None:
    """What a gift received leaves to do in its transaction: move the campaign to "target reached" if it now is,
    and put the receipt on the queue."""
    if sync_target:
        target_sync(donation.campaign, actor)
    if donation.donor_email:
        receipts_due([donation.pk])


@transaction.atomic
def donation_message_moderate(*, donation: Donation, approve: bool, actor: Any) -> Donation:
    require_perm(actor, "campaigns.moderate_message", "moderate messages")
    locked = Donation.objects.select_for_update().get(pk=donation.pk)
    if locked.message_status == MessageStatus.NONE:
        raise ValidationError("donation: this gift has no message to moderate.", field="donation")
    locked.message_status = MessageStatus.APPROVED if approve else MessageStatus.REJECTED
    locked.save(update_fields=["message_status"])
    campaign_public_cache_invalidate(campaign_id=locked.campaign_id)  # the page shows it (now and again on commit)
    audit_record(actor=actor, action="donation.message_moderate", target=locked, summary=locked.message_status)
    return locked


@transaction.atomic
def checkouts_expire(*, older_than: dt.timedelta = CHECKOUT_ABANDONED_AFTER) -> int:
    """Mark the test gateway's gifts still pending `older_than` after they were started as expired: the donor left
    the test checkout without paying, so nothing will ever confirm them, and staff lists stop showing them. Returns
    how many. (Stripe's gifts stay pending: their checkouts may still complete, and the sweep asks Stripe.)"""
    stale = Donation.objects.filter(
        status=DonationStatus.PENDING, gateway="test", created_at__lt=clock.now() - older_than
    )
    ids = list(stale.values_list("pk", flat=True))
    if ids:
        Donation.objects.filter(pk__in=ids, status=DonationStatus.PENDING).update(status=DonationStatus.EXPIRED)
        audit_record(
            actor=None,
            action="donation.checkouts_expired",
            target=None,
            summary=f"{len(ids)} test checkout(s) left unpaid for more than {older_than} expired",
            details={"donation_ids": ids[:1000]},
        )
    return len(ids)
