"""Campaign and gift writers: load, decide (rules), write, post to the ledger, audit, and enqueue after commit.

A gift is confirmed only by the payment provider's webhook (`webhook_receive`); offline gifts are posted by the
caseworker who received them. Every pound goes through `ledger_post` with an idempotency key naming the gift, so
a retried call can never post twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from carefund.campaigns import photos, rules, selectors, spool
from carefund.campaigns.cache import campaign_public_cache_invalidate
from carefund.campaigns.gateways import active_gateway
from carefund.campaigns.gateways.base import CheckoutRequest, GatewayEvent, PaymentGateway, WebhookVerificationError
from carefund.campaigns.models import (
    OFFLINE_KINDS,
    Campaign,
    CampaignPhoto,
    CampaignState,
    CampaignUpdate,
    Donation,
    DonationKind,
    DonationStatus,
    MessageStatus,
    OfflineBatch,
    Payout,
    WebhookEvent,
    WebhookEventState,
    WebhookSpoolSegment,
)
from carefund.campaigns.signals import donation_reversed
from carefund.care.models import Child
from carefund.core import clock
from carefund.core.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    StateTransitionError,
    ValidationError,
)
from carefund.core.money import format_pence
from carefund.core.permissions import has_role
from carefund.core.roles import Role
from carefund.core.services import audit_record, audit_record_many
from carefund.ledger import chart
from carefund.ledger.errors import FundOverdrawnError
from carefund.ledger.models import TransactionKind
from carefund.ledger.services import LedgerEntry, PostingSpec, ledger_post, ledger_post_many, ledger_reverse

logger = logging.getLogger(__name__)


def _require_perm(actor: Any, perm: str, what: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_perm(perm):
        raise PermissionDeniedError(f"you may not {what}; it needs the permission {perm}.")


def _new_token() -> str:
    return secrets.token_urlsafe(32)


# --- Campaigns --------------------------------------------------------------------------------------------------


@transaction.atomic
def campaign_create(
    *, child: Child, title: str, story: str = "", media_partner: str = "", slug: str = "", actor: Any
) -> Campaign:
    """A draft campaign for a child's need. Refused without the guardians' publicity consent."""
    _require_perm(actor, "campaigns.add_campaign", "create a campaign")
    if not child.publicity_consent:
        raise ValidationError(
            "child: the guardians have not consented to publicity; record their consent before creating a campaign.",
            field="child",
        )
    if not title.strip():
        raise ValidationError("title: give the campaign a title.", field="title")
    base = slugify(slug or title)[:60] or "campaign"
    candidate, n = base, 1
    while Campaign.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    campaign = Campaign.objects.create(
        child=child,
        slug=candidate,
        title=title.strip(),
        story=story,
        media_partner=media_partner,
        created_at=clock.now(),
    )
    audit_record(actor=actor, action="campaign.create", target=campaign, summary=campaign.title)
    return campaign


@transaction.atomic
def campaign_transition(*, campaign: Campaign, to_state: str, actor: Any) -> Campaign:
    """Move a campaign along draft -> published -> target_reached -> closed (allowed moves only)."""
    _require_perm(actor, "campaigns.change_campaign", "change a campaign's state")
    locked = Campaign.objects.select_for_update().select_related("child").get(pk=campaign.pk)
    return _transition(locked, to_state, actor)


def _transition(locked: Campaign, to_state: str, actor: Any) -> Campaign:
    problem = rules.transition_problem(locked.state, to_state)
    if problem:
        raise StateTransitionError(problem, field="state")
    if to_state == CampaignState.PUBLISHED and not locked.child.publicity_consent:
        raise ValidationError(
            "state: the guardians have not consented to publicity, so the campaign cannot be published.", field="state"
        )
    previous = locked.state
    locked.state = to_state
    if to_state == CampaignState.PUBLISHED and locked.published_at is None:
        locked.published_at = clock.now()
    locked.save(update_fields=["state", "published_at"])
    audit_record(actor=actor, action="campaign.transition", target=locked, summary=f"{previous} -> {to_state}")
    return locked


@transaction.atomic
def campaign_set_target(
    *, campaign: Campaign, target_pence: int, nhs_covers_pence: int, explanation: str, actor: Any
) -> Campaign:
    """Set what the campaign must raise and what the NHS covers (the funding waterfall calls this)."""
    for name, value in (("target_pence", target_pence), ("nhs_covers_pence", nhs_covers_pence)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(f"{name}: must be zero or more whole pence, got {value!r}.", field=name)
    locked = Campaign.objects.select_for_update().select_related("child").get(pk=campaign.pk)
    old = (locked.target_pence, locked.nhs_covers_pence)
    locked.target_pence = target_pence
    locked.nhs_covers_pence = nhs_covers_pence
    locked.target_explanation = explanation[:500]
    locked.save(update_fields=["target_pence", "nhs_covers_pence", "target_explanation"])
    audit_record(
        actor=actor,
        action="campaign.set_target",
        target=locked,
        summary=f"target {old[0]} -> {target_pence} pence, NHS covers {old[1]} -> {nhs_covers_pence} pence",
    )
    _sync_target_state(locked, actor=actor)
    campaign.target_pence, campaign.nhs_covers_pence = target_pence, nhs_covers_pence
    campaign.target_explanation, campaign.state = locked.target_explanation, locked.state
    return locked


def _sync_target_state(locked: Campaign, *, actor: Any) -> None:
    reached = rules.has_reached_target(
        raised_pence=selectors.raised_pence(campaign_id=locked.pk), target_pence=locked.target_pence
    )
    if reached and locked.state == CampaignState.PUBLISHED:
        _transition(locked, CampaignState.TARGET_REACHED, actor)
    elif not reached and locked.state == CampaignState.TARGET_REACHED:
        _transition(locked, CampaignState.PUBLISHED, actor)


def campaign_may_edit_story(*, campaign: Campaign, actor: Any) -> bool:
    """The child's guardians and caseworkers post updates and photos."""
    actor_pk = getattr(actor, "pk", None)
    is_guardian = actor_pk is not None and campaign.child.guardians.filter(pk=actor_pk).exists()
    return is_guardian or has_role(actor, Role.CASEWORKER)


@transaction.atomic
def campaign_update_post(*, campaign: Campaign, body: str, actor: Any) -> CampaignUpdate:
    """An update by the child's guardian or a caseworker."""
    if not campaign_may_edit_story(campaign=campaign, actor=actor):
        raise PermissionDeniedError("only the child's family or a caseworker may post an update.")
    if not body.strip():
        raise ValidationError("body: write the update.", field="body")
    if len(body) > 5000:
        raise ValidationError("body: at most 5,000 characters.", field="body")
    update = CampaignUpdate.objects.create(campaign=campaign, author=actor, body=body.strip(), posted_at=clock.now())
    campaign_public_cache_invalidate(campaign_id=campaign.pk)  # the page shows it (now and again on commit)
    audit_record(actor=actor, action="campaign.update_post", target=campaign, summary=body[:100])
    return update


def campaign_photo_add(
    *, campaign: Campaign, data: bytes, alt_text: str, caption: str = "", actor: Any
) -> CampaignPhoto:
    """A photo for the campaign's page, by the child's guardian or a caseworker: kept re-encoded, upright and
    without metadata (photos.prepare_photo), with a description for people who cannot see it. At most
    rules.PHOTOS_PER_CAMPAIGN a campaign (the campaign row is locked while they are counted)."""
    if not campaign_may_edit_story(campaign=campaign, actor=actor):
        raise PermissionDeniedError("only the child's family or a caseworker may add a photo.")
    alt_text, caption = alt_text.strip(), caption.strip()
    if not alt_text:
        raise ValidationError(
            "alt_text: say in a few words what the photo shows (read aloud to people who cannot see it).",
            field="alt_text",
        )
    for name, value, most in (
        ("alt_text", alt_text, rules.PHOTO_MAX_ALT_TEXT),
        ("caption", caption, rules.PHOTO_MAX_CAPTION),
    ):
        if len(value) > most:
            raise ValidationError(f"{name}: at most {most} characters, got {len(value)}.", field=name)
        if problem := rules.message_problem(value):
            raise ValidationError(f"{name}:{problem.split(':', 1)[1]}", field=name)
    prepared = photos.prepare_photo(data)  # before the transaction: decoding a large photo takes a moment
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if CampaignPhoto.objects.filter(campaign=campaign).count() >= rules.PHOTOS_PER_CAMPAIGN:
            raise ValidationError(
                f"image: a campaign shows at most {rules.PHOTOS_PER_CAMPAIGN} photos; remove one first.", field="image"
            )
        photo = CampaignPhoto.objects.create(
            campaign=campaign,
            token=secrets.token_urlsafe(16),
            image=prepared.jpeg,
            width=prepared.width,
            height=prepared.height,
            alt_text=alt_text,
            caption=caption,
            added_by=actor,
            added_at=clock.now(),
        )
        campaign_public_cache_invalidate(campaign_id=campaign.pk)
        audit_record(
            actor=actor,
            action="campaign.photo_add",
            target=campaign,
            summary=f"photo {photo.token[:6]}: {alt_text[:80]}",
            details={"token": photo.token, "width": photo.width, "height": photo.height, "bytes": len(prepared.jpeg)},
        )
    return photo


@transaction.atomic
def campaign_photo_remove(*, campaign: Campaign, token: str, actor: Any) -> None:
    """Take a photo off the campaign's page and delete it (its address answers 404 from then on)."""
    if not campaign_may_edit_story(campaign=campaign, actor=actor):
        raise PermissionDeniedError("only the child's family or a caseworker may remove a photo.")
    photo = CampaignPhoto.objects.filter(campaign=campaign, token=token).only("pk", "alt_text").first()
    if photo is None:
        raise NotFoundError("photo: this campaign has no such photo (already removed?).", field="token")
    alt_text = photo.alt_text
    photo.delete()
    campaign_public_cache_invalidate(campaign_id=campaign.pk)
    audit_record(
        actor=actor,
        action="campaign.photo_remove",
        target=campaign,
        summary=f"photo {token[:6]}: {alt_text[:80]}",
        details={"token": token},
    )


# --- Online giving ----------------------------------------------------------------------------------------------


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
        receipt_token=_new_token(),
        created_at=clock.now(),
    )
    audit_record(actor=actor, action="donation.create_pending", target=donation, summary=f"{amount_pence} pence")
    return donation


_TAG_SALT = "carefund.campaigns.checkout"


@functools.lru_cache(maxsize=4)
def _tag_key(secret: str) -> bytes:
    """The key of the checkout tag's HMAC, derived from the server's secret as Django's `salted_hmac` derives it
    (so tags made by either agree), once per secret rather than on every webhook."""
    return hashlib.sha256((_TAG_SALT + secret).encode()).digest()


def _checkout_tag(*, donation_id: int, amount_pence: int, gateway: str) -> str:
    message = f"{gateway}|{donation_id}|{amount_pence}".encode()
    return hmac.new(_tag_key(settings.SECRET_KEY), message, hashlib.sha256).hexdigest()[:32]


def checkout_metadata(*, donation_id: int, amount_pence: int, gateway: str) -> dict[str, str]:
    """What carefund asks the provider to keep on a checkout and send back with its completion (Stripe: the
    session's `metadata`): the gift's id, the whole amount of the charge, and a tag, an HMAC of the three with the
    server's secret. A completion whose tag is right is known to be a checkout carefund created for that gift and
    amount without reading the gift (`_checkout_vouched`, docs/adr/0020-payment-webhooks.md, "Answering from the
    tag"); the confirmation still checks the gift itself."""
    return {
        "donation_id": str(donation_id),
        "carefund_amount": str(amount_pence),
        "carefund_tag": _checkout_tag(donation_id=donation_id, amount_pence=amount_pence, gateway=gateway),
    }


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
            metadata=checkout_metadata(donation_id=donation.pk, amount_pence=donation.total_pence, gateway=gw.name),
        )
    )
    with transaction.atomic():
        Donation.objects.filter(pk=donation.pk).update(checkout_session_id=session.session_id, gateway=gw.name)
        audit_record(actor=actor, action="donation.checkout_start", target=donation, summary=session.session_id)
    donation.checkout_session_id, donation.gateway = session.session_id, gw.name
    return CheckoutStarted(donation=donation, redirect_url=session.redirect_url)


def _gift_postings(donation: Donation, debit_account: str, fee_pence: int = 0) -> list[PostingSpec]:
    """Dr the money's account (less the provider's fee) and fees / Cr the child's fund and the general fund."""
    postings = [
        PostingSpec(account=debit_account, amount_pence=donation.total_pence - fee_pence),
        PostingSpec(account=chart.PAYMENT_FEES, amount_pence=fee_pence),
        PostingSpec(account=chart.child_fund(donation.campaign.child_id), amount_pence=-donation.amount_pence),
        PostingSpec(account=chart.GENERAL_FUND, amount_pence=-donation.costs_contribution_pence),
    ]
    return [p for p in postings if p.amount_pence != 0]


def _fee_postings(gateway: str, fee_pence: int) -> list[PostingSpec]:
    """A provider's fee on its own: Dr payment fees / Cr the gateway's clearing account (a fee learnt after the gift
    was posted, or kept by the provider on a refund or dispute)."""
    return [
        PostingSpec(account=chart.PAYMENT_FEES, amount_pence=fee_pence),
        PostingSpec(account=chart.clearing_account(gateway), amount_pence=-fee_pence),
    ]


class _Effects:
    """What confirmed gifts leave to do once per database transaction rather than once per gift: check each
    touched campaign against its target (one SUM per campaign) and enqueue the receipts (one transaction). Also
    what one event changed for the caller to pass on (`WebhookResult.child_ids`): the children whose fund moved."""

    def __init__(self) -> None:
        self.campaign_ids: set[int] = set()
        self.receipt_donation_ids: list[int] = []
        self.child_ids: set[int] = set()
        self.gift_change = ""

    def merge(self, other: _Effects) -> None:
        self.campaign_ids |= other.campaign_ids
        self.receipt_donation_ids += other.receipt_donation_ids
        self.child_ids |= other.child_ids
        self.gift_change = self.gift_change or other.gift_change

    def flush(self, actor: Any = None) -> None:
        """Run inside the transaction that confirmed the gifts."""
        for campaign_id in sorted(self.campaign_ids):
            locked = Campaign.objects.select_for_update().select_related("child").get(pk=campaign_id)
            if locked.target_pence > 0:
                _sync_target_state(locked, actor=actor)
        if self.receipt_donation_ids:
            ids = list(self.receipt_donation_ids)
            if _tasks_in_database():
                _enqueue_receipts(ids)  # the task row commits (or rolls back) with the gifts: never lost between
            else:
                transaction.on_commit(lambda: _enqueue_receipts(ids))
        self.campaign_ids, self.receipt_donation_ids = set(), []


_collecting = threading.local()  # a stack of _Effects while webhook events are applied (see webhook_receive)


def _effects() -> _Effects | None:
    stack: list[_Effects] = getattr(_collecting, "stack", [])
    return stack[-1] if stack else None


def _note_fund_changed(child_id: int, change: str) -> None:
    """Inside webhook_receive: remember that this event moved a child's fund (the web layer then has the child's
    funding waterfall recomputed; campaigns cannot call funding). Elsewhere: nothing."""
    collector = _effects()
    if collector is not None:
        collector.child_ids.add(child_id)
        collector.gift_change = change


def _after_success(donation: Donation, actor: Any, *, sync_target: bool = True) -> None:
    campaign = donation.campaign
    collector = _effects()
    if collector is not None:
        # inside webhook_receive: once per transaction, after all its gifts
        if sync_target and campaign.state == CampaignState.PUBLISHED and campaign.target_pence > 0:
            collector.campaign_ids.add(campaign.pk)
        if donation.donor_email:
            collector.receipt_donation_ids.append(donation.pk)
        return
    if (
        sync_target
        and campaign.state == CampaignState.PUBLISHED
        and campaign.target_pence > 0
        and rules.has_reached_target(
            raised_pence=selectors.raised_pence(campaign_id=campaign.pk), target_pence=campaign.target_pence
        )
    ):
        locked = Campaign.objects.select_for_update().select_related("child").get(pk=campaign.pk)
        _sync_target_state(locked, actor=actor)
    if donation.donor_email:
        donation_id = donation.pk
        transaction.on_commit(lambda: _enqueue_receipt(donation_id))


def _tasks_in_database() -> bool:
    """Whether tasks go to the database queue (the server's setting): then a task row can be written in the
    transaction that makes it due, and commits or rolls back with it; other backends are enqueued after commit."""
    from django_tasks_db.backend import DatabaseBackend

    from carefund.campaigns.tasks import receipts_send

    return isinstance(receipts_send.get_backend(), DatabaseBackend)


def _enqueue_receipt(donation_id: int) -> None:
    from carefund.campaigns.tasks import receipt_send

    receipt_send.enqueue(donation_id=donation_id)


def _enqueue_receipts(donation_ids: list[int]) -> None:
    """After commit: the receipts of a batch of confirmed gifts, as one task (one row for the worker)."""
    from carefund.campaigns.tasks import receipt_send, receipts_send

    if len(donation_ids) == 1:
        receipt_send.enqueue(donation_id=donation_ids[0])
    else:
        receipts_send.enqueue(donation_ids=donation_ids)


def _in_model_order(model: type[Donation] | type[Campaign], names: set[str]) -> tuple[str, ...]:
    # Model.from_db maps a subset of values onto the concrete fields in the model's order
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in names)


_CONFIRM_DONATION_FIELDS = _in_model_order(
    Donation,
    {
        "id",
        "campaign_id",
        "amount_pence",
        "costs_contribution_pence",
        "status",
        "gateway",
        "checkout_session_id",
        "fee_pence",
        "donor_email",
        "ledger_transaction_id",
    },
)
_CONFIRM_CAMPAIGN_FIELDS = _in_model_order(Campaign, {"id", "child_id", "slug", "title", "state", "target_pence"})


def _donation_lock_for_confirmation(donation_id: int) -> Donation | None:
    return _donations_lock_for_confirmation([donation_id]).get(donation_id)


def _donations_lock_for_confirmation(donation_ids: Sequence[int]) -> dict[int, Donation]:
    """The gifts and their campaigns, with the gifts' rows locked in id order (PostgreSQL: FOR UPDATE OF the gifts
    only, never the campaign row, which every gift to the campaign shares; SQLite: the IMMEDIATE transaction holds
    the write lock). One plain SELECT of the fields a confirmation needs (no conversions needed for these types);
    the other fields of the returned instances are deferred and load on first access."""
    d_cols = ", ".join(f"d.{name}" for name in _CONFIRM_DONATION_FIELDS)
    c_cols = ", ".join(f"c.{name}" for name in _CONFIRM_CAMPAIGN_FIELDS)
    marks = ", ".join(["%s"] * len(donation_ids))
    lock = " FOR UPDATE OF d" if connection.features.has_select_for_update_of else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {d_cols}, {c_cols} FROM campaigns_donation d JOIN campaigns_campaign c ON c.id = d.campaign_id"  # noqa: S608
            f" WHERE d.id IN ({marks}) ORDER BY d.id{lock}",
            list(donation_ids),
        )
        rows = cursor.fetchall()
    split = len(_CONFIRM_DONATION_FIELDS)
    out: dict[int, Donation] = {}
    campaigns: dict[Any, Campaign] = {}  # one instance per campaign row: the batch's gifts mostly share one
    for row in rows:
        donation = Donation.from_db(connection.alias, list(_CONFIRM_DONATION_FIELDS), list(row[:split]))
        campaign = campaigns.get(row[split])
        if campaign is None:
            campaign = Campaign.from_db(connection.alias, list(_CONFIRM_CAMPAIGN_FIELDS), list(row[split:]))
            campaigns[row[split]] = campaign
        donation.campaign = campaign
        out[donation.pk] = donation
    return out


def _checkout_refusal(
    donation: Donation | _GiftSeen | None, *, donation_id: int, gateway: str, session_id: str, amount_total_pence: int
) -> NotFoundError | ValidationError | None:
    """Why a completed checkout cannot confirm this gift (the platform never created it, the session does not match
    it, the amount differs), or None. Shared by the confirmation and by the check made before answering a queued
    event, so both refuse with the same words."""
    if donation is None or not donation.gateway or (gateway and donation.gateway != gateway):
        return NotFoundError(f"donation: no online gift #{donation_id} was created here.", field="donation")
    if session_id and donation.checkout_session_id != session_id:
        return NotFoundError("session: this checkout was not created by carefund for that gift.", field="session")
    if amount_total_pence != donation.total_pence:
        return ValidationError(
            f"amount_total: the provider took {amount_total_pence} pence but the gift was for "
            f"{donation.total_pence} pence.",
            field="amount_total",
        )
    return None


@transaction.atomic
def donation_record_succeeded(
    *,
    donation_id: int,
    amount_total_pence: int,
    payment_intent_id: str = "",
    fee_pence: int | None = None,
    session_id: str = "",
    gateway: str = "",
    actor: Any = None,
) -> Donation:
    """Confirm an online gift (from the provider's webhook) and post it once: Dr clearing / Cr the child's fund
    (/ Cr the general fund for a contribution to costs); a known fee posts as Dr fees / Cr clearing.

    Refuses a gift the platform never created, a session that does not match it, and an amount that differs
    from what was asked. A gift already confirmed is returned as it is (nothing posted twice)."""
    donation = _donation_lock_for_confirmation(donation_id)
    refusal = _checkout_refusal(
        donation, donation_id=donation_id, gateway=gateway, session_id=session_id, amount_total_pence=amount_total_pence
    )
    if refusal is not None:
        raise refusal
    assert donation is not None
    if donation.status != DonationStatus.PENDING:
        return donation
    if fee_pence is not None and (isinstance(fee_pence, bool) or not 0 <= fee_pence <= donation.total_pence):
        raise ValidationError(f"fee: must be 0 to {donation.total_pence} pence, got {fee_pence!r}.", field="fee")
    today = clock.today()
    txn = ledger_post(
        kind=TransactionKind.DONATION,
        postings=_gift_postings(donation, chart.clearing_account(donation.gateway), fee_pence or 0),
        memo=f"Gift #{donation.pk} to {donation.campaign.title}",
        on_date=today,
        idempotency_key=f"donation-{donation.pk}",
        group_id=f"donation-{donation.pk}",
        actor=actor,
        metadata={"donation_id": donation.pk},
    )
    donation.status = DonationStatus.SUCCEEDED
    donation.succeeded_at = clock.now()
    donation.received_on = today
    donation.payment_intent_id = payment_intent_id[:200]
    donation.fee_pence = fee_pence
    donation.ledger_transaction = txn
    ops = connection.ops
    with connection.cursor() as cursor:  # the same UPDATE as save(update_fields=...), without compiling it each time
        cursor.execute(
            "UPDATE campaigns_donation SET status = %s, succeeded_at = %s, received_on = %s, payment_intent_id = %s,"
            " fee_pence = %s, ledger_transaction_id = %s WHERE id = %s",
            [
                donation.status,
                ops.adapt_datetimefield_value(donation.succeeded_at),
                ops.adapt_datefield_value(today),
                donation.payment_intent_id,
                fee_pence,
                txn.pk,
                donation.pk,
            ],
        )
    audit_record(actor=actor, action="donation.succeeded", target=donation, summary=f"{donation.total_pence} pence")
    _note_fund_changed(donation.campaign.child_id, GIFT_CONFIRMED)
    _after_success(donation, actor)
    return donation


@transaction.atomic
def donation_reverse(*, donation_id: int, reason: str, to_status: str, actor: Any = None) -> Donation:
    """Refund or dispute a confirmed gift: a ledger reversal of its gift transaction (the fee stays an expense), or,
    after a dispute the charity won, of the money the provider gave back (`_reverse_reinstated`)."""
    donation = Donation.objects.select_for_update().select_related("campaign").filter(pk=donation_id).first()
    if donation is None:
        raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
    if donation.status in (DonationStatus.REFUNDED, DonationStatus.DISPUTED):
        return donation
    if donation.status != DonationStatus.SUCCEEDED or donation.ledger_transaction is None:
        raise ConflictError(
            f"donation: gift #{donation_id} is not confirmed yet, so it cannot be {to_status}; try again once the "
            "payment is confirmed.",
            field="donation",
        )
    kind = TransactionKind.REFUND if to_status == DonationStatus.REFUNDED else TransactionKind.REVERSAL
    # after a dispute won, the provider's fee was charged once and stays an expense (the money given back holds no
    # fee line, and the dispute's reversal had its fee posted again already)
    fee_in_gift = 0 if donation.reinstated_transaction_id is not None else _fee_in_gift_transaction(donation)
    if donation.reinstated_transaction is not None:
        # its dispute was won and the money posted again: what stands now is that money, so that is what goes out
        reversal = _reverse_reinstated(donation=donation, kind=kind, reason=reason, actor=actor)
    elif donation.refunded_pence:
        # part of it was refunded already (donation_partial_refund): what is left, not a mirror of the gift
        reversal = _reverse_rest_of_gift(donation=donation, kind=kind, reason=reason, actor=actor)
    else:
        try:
            reversal = ledger_reverse(
                transaction=donation.ledger_transaction,
                memo=f"{reason} of gift #{donation.pk}",
                on_date=clock.today(),
                idempotency_key=f"donation-reversal-{donation.pk}",
                actor=actor,
                kind=kind,
            )
        except FundOverdrawnError:
            # The provider has already returned the money, so the refund must be booked whatever the fund holds.
            reversal = _reverse_rest_of_gift(donation=donation, kind=kind, reason=reason, actor=actor)
    fee_kept = None
    if fee_in_gift:
        # The provider keeps its fee on a refund or dispute, and the reversal of the gift's transaction took the fee
        # posted in it back off the expenses: post it again. A fee posted later on its own (donation_fee_record)
        # was not reversed, and stays as it is.
        fee_kept = ledger_post(
            kind=TransactionKind.FEE,
            postings=_fee_postings(donation.gateway, fee_in_gift),
            memo=f"Payment fee kept by the provider on {reason.lower()} of gift #{donation.pk}",
            on_date=clock.today(),
            idempotency_key=f"donation-fee-kept-{donation.pk}",
            group_id=f"donation-{donation.pk}",
            actor=actor,
        )
    donation.status = to_status
    # the transaction that took the money out last (after a dispute won, the dispute's own reversal stays linked
    # from the money given back: its metadata `after`)
    donation.reversal_transaction = reversal
    update = ["status", "reversal_transaction"]
    if fee_kept is not None:
        donation.fee_kept_transaction = fee_kept
        update.append("fee_kept_transaction")
    donation.save(update_fields=update)
    audit_record(actor=actor, action=f"donation.{to_status}", target=donation, summary=reason)
    donation_reversed.send(
        sender=Donation,
        donation=donation,
        # what the donor had not been given back before: the whole gift, less any earlier partial refund
        reversed_pence=donation.total_pence - donation.refunded_pence,
        kind="refund" if to_status == DonationStatus.REFUNDED else "dispute",
        actor=actor,
    )
    _note_fund_changed(donation.campaign.child_id, str(to_status))
    campaign = Campaign.objects.select_for_update().select_related("child").get(pk=donation.campaign_id)
    _sync_target_state(campaign, actor=actor)
    return donation


def _fund_share(*, donation: Donation, lines: dict[str, int], reason: str, actor: Any) -> int:
    """Take what `lines` would give back from the child's fund out of what the fund still holds; the rest is put on
    the general (unrestricted) fund, never on another child's fund, and audited for a finance officer to review.
    Returns what the general fund bears."""
    from carefund.ledger.selectors import fund_balance_pence

    fund_account = chart.child_fund(donation.campaign.child_id)
    owed_by_fund = lines.pop(fund_account, 0)  # positive: what the fund would give back
    from_fund = max(0, min(owed_by_fund, fund_balance_pence(child_id=donation.campaign.child_id)))
    from_general = owed_by_fund - from_fund
    if from_fund:
        lines[fund_account] = from_fund
    if from_general:
        lines[chart.GENERAL_FUND] = lines.get(chart.GENERAL_FUND, 0) + from_general
        audit_record(
            actor=actor,
            action="donation.refund_shortfall",
            target=donation,
            summary=f"{reason} of a gift already spent: the child's fund gave back {from_fund} pence and general "
            f"funds bore {from_general} pence; a finance officer should review it.",
            details={"from_fund_pence": from_fund, "from_general_fund_pence": from_general},
        )
    return from_general


def _partial_refunds_posted(donation: Donation) -> list[Any]:
    from carefund.ledger.models import Transaction

    return list(
        Transaction.objects.filter(
            group_id=f"donation-{donation.pk}",
            kind=TransactionKind.REFUND,
            idempotency_key__startswith=f"donation-partial-refund-{donation.pk}-",
            is_posted=True,
        ).order_by("pk")
    )


def _fee_in_gift_transaction(donation: Donation) -> int:
    """The provider's fee posted in the gift's own transaction (known when the gift was confirmed); 0 when it was
    not known then (none yet, or posted later in a transaction of its own)."""
    from carefund.ledger.selectors import postings_of

    assert donation.ledger_transaction is not None
    return sum(amount for account, amount in postings_of(donation.ledger_transaction) if account == chart.PAYMENT_FEES)


def _reverse_rest_of_gift(*, donation: Donation, kind: str, reason: str, actor: Any) -> Any:
    """Book the refund or dispute of what is left of a gift: the gift's postings reversed, less what its partial
    refunds gave back already; the child's fund gives back what it still holds of that and general funds bear the
    rest (`_fund_share`). The transaction is not an exact reversal, so it is linked to the gift by `refund_of`
    metadata (the fund's first-in-first-out trace settles it against the gift first, docs/ledger.md)."""
    from carefund.ledger.selectors import postings_of

    original = donation.ledger_transaction
    assert original is not None
    lines: dict[str, int] = {}
    for account, amount in postings_of(original):
        lines[account] = lines.get(account, 0) - amount
    for partial in _partial_refunds_posted(donation):
        for account, amount in postings_of(partial):
            lines[account] = lines.get(account, 0) - amount
    memo = f"{reason} of gift #{donation.pk}" + (
        f" (less {format_pence(donation.refunded_pence)} refunded before)" if donation.refunded_pence else ""
    )
    return _post_given_back(
        donation=donation,
        lines=lines,
        kind=kind,
        reason=reason,
        memo=memo,
        key=f"donation-reversal-{donation.pk}",
        refund_of=original.pk,
        actor=actor,
    )


def _post_given_back(
    *,
    donation: Donation,
    lines: dict[str, int],
    kind: str,
    reason: str,
    memo: str,
    key: str,
    refund_of: int,
    actor: Any,
) -> Any:
    """Post `lines` (what goes back to the donor) with the child's fund giving back only what it still holds and
    general funds bearing the rest (`_fund_share`), linked by `refund_of` metadata to the transaction they undo."""
    from_general = _fund_share(donation=donation, lines=lines, reason=reason, actor=actor)
    return ledger_post(
        kind=kind,
        postings=[PostingSpec(account=a, amount_pence=v) for a, v in sorted(lines.items()) if v],
        memo=memo + (f" (already spent: {format_pence(from_general)} borne by general funds)" if from_general else ""),
        on_date=clock.today(),
        idempotency_key=key,
        group_id=f"donation-{donation.pk}",
        actor=actor,
        metadata={"refund_of": refund_of, "borne_by_general_fund_pence": from_general},
    )


def _reverse_reinstated(*, donation: Donation, kind: str, reason: str, actor: Any) -> Any:
    """Book the refund or a second dispute of a gift whose first dispute was won: the exact reversal of the money the
    provider gave back (`donation_dispute_won`), or, where the child's fund has spent it, the same lines with
    general funds bearing what the fund no longer holds (`_fund_share`)."""
    from carefund.ledger.selectors import postings_of

    reinstated = donation.reinstated_transaction
    assert reinstated is not None
    memo = f"{reason} of gift #{donation.pk} after its dispute was won"
    key = f"donation-reversal-after-dispute-{donation.pk}"
    try:
        return ledger_reverse(
            transaction=reinstated, memo=memo, on_date=clock.today(), idempotency_key=key, actor=actor, kind=kind
        )
    except FundOverdrawnError:
        pass  # the provider has returned the money: book it whatever the fund holds
    lines: dict[str, int] = {}
    for account, amount in postings_of(reinstated):
        lines[account] = lines.get(account, 0) - amount
    return _post_given_back(
        donation=donation,
        lines=lines,
        kind=kind,
        reason=reason,
        memo=memo,
        key=key,
        refund_of=reinstated.pk,
        actor=actor,
    )


def donation_dispute_won(*, donation_id: int, actor: Any = None) -> tuple[Donation, bool]:
    """The charity won a dispute of a gift and the provider gave the money back (Stripe:
    `charge.dispute.funds_reinstated`): post back what the dispute took, to where it came from (the dispute's
    reversal the other way round: the child's fund, and the general fund for the costs contribution or for what it
    bore of money already spent), except the provider's fee, which it charged once and which stays an expense; the
    gift stands again (the money raised, Gift Aid and the reconciliation count it). Once: (gift, True) when posted
    now, (gift, False) when it was already. A gift that is not disputed is a ConflictError (the provider retries: its
    dispute may not have arrived yet). The provider's own dispute fee is not modelled."""
    from carefund.ledger.selectors import postings_of

    with transaction.atomic():
        # (not joined to its nullable reversal: PostgreSQL cannot lock the nullable side of an outer join)
        donation = Donation.objects.select_for_update().select_related("campaign").filter(pk=donation_id).first()
        if donation is None:
            raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
        if donation.reinstated_transaction_id is not None:
            return donation, False
        if donation.status != DonationStatus.DISPUTED or donation.reversal_transaction is None:
            raise ConflictError(
                f"donation: gift #{donation_id} is not disputed, so no dispute of it can have been won yet; retry "
                "once its dispute has arrived.",
                field="donation",
            )
        lines: dict[str, int] = {}
        for account, amount in postings_of(donation.reversal_transaction):
            lines[account] = lines.get(account, 0) - amount
        clearing = chart.clearing_account(donation.gateway)
        lines[clearing] = lines.get(clearing, 0) + lines.pop(chart.PAYMENT_FEES, 0)
        reinstated = ledger_post(
            kind=TransactionKind.DONATION,
            postings=[PostingSpec(account=a, amount_pence=v) for a, v in sorted(lines.items()) if v],
            memo=f"Dispute of gift #{donation.pk} won: the money the provider gave back",
            on_date=clock.today(),
            idempotency_key=f"donation-reinstated-{donation.pk}",
            group_id=f"donation-{donation.pk}",
            actor=actor,
            metadata={"reinstates": donation.ledger_transaction_id, "after": donation.reversal_transaction.pk},
        )
        donation.status, donation.reinstated_transaction = DonationStatus.SUCCEEDED, reinstated
        donation.save(update_fields=["status", "reinstated_transaction"])
        audit_record(
            actor=actor, action="donation.dispute_won", target=donation, summary=f"{lines[clearing]} pence back"
        )
        _note_fund_changed(donation.campaign.child_id, "reinstated after a dispute")
        campaign = Campaign.objects.select_for_update().select_related("child").get(pk=donation.campaign_id)
        _sync_target_state(campaign, actor=actor)
    return donation, True


def _handle_dispute_won(event: GatewayEvent, gateway: str) -> str:
    donation = _donation_for_charge(event.data_object, gateway)
    if donation is None:
        raise WebhookRetryError("dispute: no confirmed gift matches this charge yet; retry later.")
    _, posted = donation_dispute_won(donation_id=donation.pk)
    outcome = (
        f"gift #{donation.pk} stands again: its dispute was won"
        if posted
        else f"duplicate: gift #{donation.pk} was already reinstated"
    )
    return outcome + _dispute_fees_outcome(donation, event, gateway)


# A dispute fee is a fixed charge (Stripe's in the UK: £20); more than this is not a fee carefund posts by itself.
DISPUTE_FEE_MAX_PENCE = 100_000


def _dispute_fees(obj: dict[str, Any]) -> tuple[list[tuple[str, int]], list[str]]:
    """The provider's dispute fees a Stripe dispute object states: (balance transaction id, fee in pence) for each
    of its `balance_transactions` (funds withdrawn, and reinstated) with a fee in pounds (a fee given back is
    negative); and what could not be read (no id, a fee that is not whole pence or out of range, not in pounds),
    which the caller leaves for a finance officer rather than refusing the event: the dispute itself must still be
    booked."""
    fees: list[tuple[str, int]] = []
    unread: list[str] = []
    listed = obj.get("balance_transactions")
    for bt in listed if isinstance(listed, list) else []:
        if not isinstance(bt, dict):
            continue  # an id only: nothing to read
        bt_id, fee, currency = bt.get("id"), bt.get("fee", 0), bt.get("currency")
        if not isinstance(bt_id, str) or not bt_id:
            unread.append(f"a balance transaction with no id (fee {fee!r})")
        elif not _is_whole(fee) or abs(fee) > DISPUTE_FEE_MAX_PENCE:
            unread.append(f"{bt_id}: fee {fee!r} is not whole pence up to {DISPUTE_FEE_MAX_PENCE}")
        elif fee != 0 and currency != "gbp":
            unread.append(f"{bt_id}: fee {fee} in {currency!r}, not pounds")
        elif fee != 0:
            fees.append((bt_id, int(fee)))
    return fees, unread


def _dispute_fees_outcome(donation: Donation, event: GatewayEvent, gateway: str) -> str:
    fees, unread = _dispute_fees(event.data_object)
    posted = donation_dispute_fees_record(donation_id=donation.pk, fees=fees, gateway=gateway) if fees else 0
    if unread:
        logger.warning("dispute fees of gift #%s not posted, book them by hand: %s", donation.pk, "; ".join(unread))
        audit_record(
            actor=None,
            action="donation.dispute_fee_unread",
            target=donation,
            summary=f"dispute fees not posted (a finance officer books them): {'; '.join(unread)}"[:300],
        )
    return (f"; dispute fees posted: {posted} pence" if posted else "") + (
        f"; dispute fees left for a finance officer: {len(unread)}" if unread else ""
    )


def _handle_dispute_created(event: GatewayEvent, gateway: str) -> str:
    donation = _reversed_gift(event.data_object, gateway, "Dispute")
    donation_reverse(donation_id=donation.pk, reason="Dispute", to_status=DonationStatus.DISPUTED)
    return f"gift #{donation.pk} {DonationStatus.DISPUTED}" + _dispute_fees_outcome(donation, event, gateway)


def _handle_dispute_funds_withdrawn(event: GatewayEvent, gateway: str) -> str:
    """The provider took a dispute's money and fee (Stripe: `charge.dispute.funds_withdrawn`, which may come
    before or after `charge.dispute.created`): the gift's reversal is posted by the latter; this posts the fee."""
    donation = _donation_for_charge(event.data_object, gateway)
    if donation is None or donation.status not in _FEE_STATUSES or donation.ledger_transaction_id is None:
        raise WebhookRetryError("dispute: no confirmed gift matches this charge yet; retry later.")
    return f"dispute of gift #{donation.pk}: funds withdrawn" + _dispute_fees_outcome(donation, event, gateway)


def donation_dispute_fees_record(
    *, donation_id: int, fees: Sequence[tuple[str, int]], gateway: str, actor: Any = None
) -> int:
    """Post the provider's dispute fees of a gift, each once, keyed by its balance transaction: Dr payment fees /
    Cr the gateway's clearing account (a fee given back, negative: the other way), as the provider takes them from
    its balance whatever the dispute's outcome. Returns the pence posted now (0: all posted already). The gift
    notes the net total, which the reconciliation counts."""
    from carefund.ledger.models import Transaction as LedgerTransaction

    with transaction.atomic():
        donation = Donation.objects.select_for_update().filter(pk=donation_id).first()
        if donation is None:
            raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
        posted = 0
        for bt_id, fee in fees:
            key = f"dispute-fee-{gateway}-{bt_id}"[:200]
            if fee == 0 or LedgerTransaction.objects.filter(idempotency_key=key).exists():
                continue
            ledger_post(
                kind=TransactionKind.FEE,
                postings=_fee_postings(gateway, fee),
                memo=f"Dispute fee of {format_pence(abs(fee))} {'given back' if fee < 0 else 'charged'} by {gateway} "
                f"on gift #{donation.pk} ({bt_id})",
                on_date=clock.today(),
                idempotency_key=key,
                group_id=f"donation-{donation.pk}",
                actor=actor,
                metadata={"balance_transaction": bt_id, "dispute_fee_pence": fee},
            )
            posted += fee
        if posted:
            Donation.objects.filter(pk=donation.pk).update(dispute_fees_pence=F("dispute_fees_pence") + posted)
            audit_record(actor=actor, action="donation.dispute_fee", target=donation, summary=f"{posted} pence")
    return posted


@dataclass(frozen=True)
class PartialRefund:
    donation: Donation
    posted_pence: int  # posted by this call: 0 when the provider's running total was posted already
    from_gift_pence: int  # of that, out of the gift to the child (the rest out of the contribution to costs)


def donation_partial_refund(*, donation_id: int, refunded_pence: int, actor: Any = None) -> PartialRefund:
    """The provider refunded part of a confirmed gift: `refunded_pence` is its running total for the charge (Stripe's
    `amount_refunded`), less than the gift's total (a refund of all of it is `donation_reverse`). Posts what is new
    since the total last posted, once: Dr the child's fund and the general fund, shared as the donor shared the gift
    (rules.refund_from_gift_pence) / Cr the gateway's clearing account; the provider keeps its fee. A total already
    posted, or smaller (an older event arriving late), posts nothing. If the child's fund has spent the money,
    general funds bear the rest (audited). The money raised, the Gift Aid due and the reconciliation then count what
    the donor kept."""
    if isinstance(refunded_pence, bool) or not isinstance(refunded_pence, int) or refunded_pence <= 0:
        raise ValidationError(
            f"amount_refunded: expected a whole number of pence above zero, got {refunded_pence!r}.",
            field="amount_refunded",
        )
    with transaction.atomic():
        donation = Donation.objects.select_for_update().select_related("campaign").filter(pk=donation_id).first()
        if donation is None:
            raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
        if donation.status in (DonationStatus.REFUNDED, DonationStatus.DISPUTED):
            return PartialRefund(donation, 0, 0)
        if donation.status != DonationStatus.SUCCEEDED or donation.ledger_transaction is None:
            raise ConflictError(
                f"donation: gift #{donation_id} is not confirmed yet, so it cannot be refunded; try again once the "
                "payment is confirmed.",
                field="donation",
            )
        if refunded_pence >= donation.total_pence:
            raise ValidationError(
                f"amount_refunded: {refunded_pence} pence is all of gift #{donation.pk}; that is a full refund.",
                field="amount_refunded",
            )
        if refunded_pence <= donation.refunded_pence:
            return PartialRefund(donation, 0, 0)
        gift_before = donation.refunded_gift_pence
        gift_after = rules.refund_from_gift_pence(
            amount_pence=donation.amount_pence,
            costs_contribution_pence=donation.costs_contribution_pence,
            refunded_pence=refunded_pence,
        )
        posted = refunded_pence - donation.refunded_pence
        from_gift = gift_after - gift_before
        reason = f"Partial refund of gift #{donation.pk}"
        lines = {
            chart.child_fund(donation.campaign.child_id): from_gift,
            chart.GENERAL_FUND: posted - from_gift,
            chart.clearing_account(donation.gateway) if donation.gateway else chart.BANK: -posted,
        }
        from_general = _fund_share(donation=donation, lines=lines, reason=reason, actor=actor)
        ledger_post(
            kind=TransactionKind.REFUND,
            postings=[PostingSpec(account=a, amount_pence=v) for a, v in sorted(lines.items()) if v],
            # memos are read by donors ("what my gift paid for") and finance officers: in pounds
            memo=f"{reason}: {format_pence(posted)} ({format_pence(refunded_pence)} of "
            f"{format_pence(donation.total_pence)} refunded so far)"
            + (f" (already spent: {format_pence(from_general)} borne by general funds)" if from_general else ""),
            on_date=clock.today(),
            idempotency_key=f"donation-partial-refund-{donation.pk}-{refunded_pence}",
            group_id=f"donation-{donation.pk}",
            actor=actor,
            metadata={
                "refund_of": donation.ledger_transaction_id,
                "refunded_so_far_pence": refunded_pence,
                "borne_by_general_fund_pence": from_general,
            },
        )
        donation.refunded_pence, donation.refunded_gift_pence = refunded_pence, gift_after
        donation.save(update_fields=["refunded_pence", "refunded_gift_pence"])
        audit_record(
            actor=actor,
            action="donation.partially_refunded",
            target=donation,
            summary=f"{posted} pence ({refunded_pence} of {donation.total_pence} pence refunded so far)",
        )
        donation_reversed.send(
            sender=Donation, donation=donation, reversed_pence=posted, kind="partial_refund", actor=actor
        )
        _note_fund_changed(donation.campaign.child_id, "partly refunded")
        campaign = Campaign.objects.select_for_update().select_related("child").get(pk=donation.campaign_id)
        _sync_target_state(campaign, actor=actor)
    return PartialRefund(donation, posted, from_gift)


# --- Webhooks ---------------------------------------------------------------------------------------------------


GIFT_CONFIRMED = "confirmed online"


@dataclass(frozen=True)
class WebhookResult:
    """The HTTP answer to one event, and which children's funds it moved: `child_ids` (a gift confirmed, refunded
    or disputed; empty for anything else, a duplicate or a refusal) and `gift_change` ("confirmed online",
    "refunded" or "disputed"), so the caller can have their funding waterfalls recomputed after commit."""

    status_code: int
    outcome: str
    child_ids: tuple[int, ...] = ()
    gift_change: str = ""
    queued: bool = False  # accepted and recorded; the confirmer applies it (webhook_confirm_queued)


class WebhookRejectedError(ValidationError):
    """A verified event carefund refuses (a checkout it never created, a wrong amount): answered with a 400."""


class WebhookRetryError(ConflictError):
    """A verified event that cannot apply yet (a refund before its payment): answered with a 409, and not
    recorded, so the provider delivers it again later."""


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WebhookRejectedError(f"{field}: expected a whole number, got {value!r}.", field=field)
    return value


def _donation_id_from(obj: dict[str, Any]) -> int | None:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    raw = (metadata or {}).get("donation_id") or obj.get("client_reference_id")
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


def _handle_checkout_completed(event: GatewayEvent, gateway: str) -> str:
    obj = event.data_object
    donation_id = _donation_id_from(obj)
    session_id = obj.get("id")
    if donation_id is None or not isinstance(session_id, str):
        raise WebhookRejectedError("checkout: the session names no carefund gift.", field="checkout")
    if obj.get("payment_status", "paid") != "paid":
        return f"checkout for gift #{donation_id} not paid yet ({obj.get('payment_status')}): nothing posted"
    _, _, _, fee = _checkout_fields(event, gateway)
    try:
        donation_record_succeeded(
            donation_id=donation_id,
            amount_total_pence=_int(obj.get("amount_total"), "amount_total"),
            payment_intent_id=_payment_intent_id(obj),
            fee_pence=_int(fee, "fee") if fee is not None else None,
            session_id=session_id,
            gateway=gateway,
        )
    except NotFoundError as exc:
        raise WebhookRejectedError(exc.message, field=exc.field) from None
    except ValidationError as exc:
        raise WebhookRejectedError(exc.message, field=exc.field) from None
    return f"gift #{donation_id} confirmed"


def _payment_intent_id(obj: dict[str, Any]) -> str:
    """The id of a checkout session's PaymentIntent, expanded or not ("" if it names none): the fee is later
    asked for by this id (`donation_fees_fill`), and refunds and disputes may find their gift by it."""
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):  # an expanded PaymentIntent
        intent = intent.get("id")
    return intent[:200] if isinstance(intent, str) else ""


def _donation_for_charge(obj: dict[str, Any], gateway: str) -> Donation | None:
    donation_id = _donation_id_from(obj)
    qs = Donation.objects.filter(gateway=gateway)
    if donation_id is not None:
        return qs.filter(pk=donation_id).first()
    intent = obj.get("payment_intent")
    if isinstance(intent, str) and intent:
        return qs.filter(payment_intent_id=intent).first()
    return None


def _reversed_gift(obj: dict[str, Any], gateway: str, reason: str) -> Donation:
    """The gift a refund or dispute names; a 400 for a gift not created here, a 409 (retry) for one not known yet."""
    donation = _donation_for_charge(obj, gateway)
    if donation is None:
        if _donation_id_from(obj) is not None:
            raise WebhookRejectedError("charge: names a gift that was not created here.", field="charge")
        # Not linked to a gift yet (the payment event has not arrived): ask the provider to retry.
        raise WebhookRetryError(f"{reason}: no confirmed gift matches this charge yet; retry later.")
    return donation


def _handle_reversal(event: GatewayEvent, gateway: str, *, to_status: str, reason: str) -> str:
    obj = event.data_object
    donation = _reversed_gift(obj, gateway, reason)
    if to_status == DonationStatus.REFUNDED:
        refunded = obj.get("amount_refunded")
        if refunded is not None and _int(refunded, "amount_refunded") < donation.total_pence:
            done = donation_partial_refund(donation_id=donation.pk, refunded_pence=_int(refunded, "amount_refunded"))
            if done.posted_pence:
                return f"gift #{donation.pk} partly refunded: {done.posted_pence} pence"
            return f"duplicate: the refunds of gift #{donation.pk} up to {refunded} pence are posted already"
    donation_reverse(donation_id=donation.pk, reason=reason, to_status=to_status)
    return f"gift #{donation.pk} {to_status}"


@dataclass(frozen=True)
class FeesFilled:
    looked_up: int  # confirmed gifts without a fee whose fee was asked for
    recorded: int  # fees now posted
    recorded_pence: int
    asked: tuple[int, ...] = ()  # the gifts asked for, in order


# the gifts that were confirmed, so whose provider's fee was charged, whatever happened to them since
_FEE_STATUSES = (DonationStatus.SUCCEEDED, DonationStatus.REFUNDED, DonationStatus.DISPUTED)


def donation_fee_record(*, donation_id: int, fee_pence: int, actor: Any = None, source: str = "") -> bool:
    """Post the provider's fee of a gift confirmed before its fee was known (Dr payment fees / Cr the gateway's
    clearing account) and note it on the gift; once: a gift that has its fee, or was never confirmed, is left as it
    is (False). A gift refunded or disputed since has its fee posted too: the provider keeps it. `source`: where a
    fee recorded by hand was read (`donation_fee_record_by_hand`); empty when the provider gave it."""
    if isinstance(fee_pence, bool) or not isinstance(fee_pence, int) or fee_pence < 0:
        raise ValidationError(f"fee: a fee is a whole number of pence, zero or more; got {fee_pence!r}.", field="fee")
    with transaction.atomic():
        donation = Donation.objects.select_for_update().filter(pk=donation_id).first()
        if donation is None:
            raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
        if (
            donation.ledger_transaction_id is None
            or donation.status not in _FEE_STATUSES
            or donation.fee_pence is not None
        ):
            return False
        if fee_pence > donation.total_pence:
            raise ValidationError(
                f"fee: {fee_pence} pence is more than gift #{donation.pk} ({donation.total_pence} pence).", field="fee"
            )
        if fee_pence:
            ledger_post(
                kind=TransactionKind.FEE,
                postings=_fee_postings(donation.gateway, fee_pence),
                memo=(
                    f"Payment fee of gift #{donation.pk}, recorded by hand from {source}"[:300]
                    if source
                    else f"Payment fee of gift #{donation.pk}, known after it was confirmed"
                ),
                on_date=clock.today(),
                idempotency_key=f"donation-fee-late-{donation.pk}",
                group_id=f"donation-{donation.pk}",
                actor=actor,
            )
        Donation.objects.filter(pk=donation.pk).update(fee_pence=fee_pence)
        audit_record(
            actor=actor,
            action="donation.fee_recorded_by_hand" if source else "donation.fee_recorded",
            target=donation,
            summary=f"{fee_pence} pence, from {source}"[:300] if source else f"{fee_pence} pence",
        )
    return True


FEE_SOURCE_MAX = 200


@transaction.atomic
def donation_fee_record_by_hand(*, donation_id: int, fee_pence: int, source: str, actor: Any) -> None:
    """A finance officer records the fee of an online gift that the provider never gave carefund (the automatic
    lookups, `donation_fees_fill`, keep asking for it and the reconciliation page warns of it), read from the
    provider's own records: `source` says where (its dashboard, a payout report), and is kept in the ledger memo and
    the audit. Posted as a late fee is (Dr payment fees / Cr the gateway's clearing account), once: a fee known
    already, from the provider or by hand, is a conflict, and so is a gift not confirmed, not paid online, or
    confirmed less than `selectors.FEE_OVERDUE` ago (the provider's own figure may still come). A fee mistyped here
    is corrected like any posted entry, by a journal entry (ledger's two-person adjustments)."""
    _require_perm(actor, "campaigns.record_fee", "record payment fees")
    source = " ".join(str(source).split())
    if not source:
        raise ValidationError(
            "source: say where the fee comes from, for example the provider's payout report and its date.",
            field="source",
        )
    if len(source) > FEE_SOURCE_MAX:
        raise ValidationError(f"source: at most {FEE_SOURCE_MAX} characters, got {len(source)}.", field="source")
    donation = Donation.objects.filter(pk=donation_id).first()
    if donation is None:
        raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
    if donation.ledger_transaction_id is None or donation.status not in _FEE_STATUSES:
        raise ConflictError(f"gift #{donation.pk} is not confirmed: a fee is recorded only for a gift received.")
    if not donation.payment_intent_id:
        raise ConflictError(f"gift #{donation.pk} was not paid online: it has no payment provider's fee.")
    overdue_from = (donation.succeeded_at or clock.now()) + selectors.FEE_OVERDUE
    if overdue_from > clock.now():
        # before then carefund is still asking the provider, whose figure is the one to book
        raise ConflictError(
            f"gift #{donation.pk}'s fee is still being asked from the provider; record it by hand only if it is "
            f"still unknown after {timezone.localtime(overdue_from):%d %B %Y %H:%M}."
        )
    if not donation_fee_record(donation_id=donation.pk, fee_pence=fee_pence, actor=actor, source=source):
        raise ConflictError(f"gift #{donation.pk} already has its fee. Reload the page to see the gifts still without.")


def fees_looked_up(gateway: PaymentGateway | None = None) -> bool:
    """Whether the gateway's fees are asked for after its gifts are confirmed (Stripe's), rather than stated in the
    event (the test gateway's)."""
    return getattr(gateway or active_gateway(), "payment_intent_fee_pence", None) is not None


def donation_fees_fill(
    *,
    gateway: PaymentGateway | None = None,
    limit: int | None = 200,
    actor: Any = None,
    confirmed_since: dt.datetime | None = None,
    skip: Collection[int] = frozenset(),
    after_pk: int = 0,
) -> FeesFilled:
    """Ask the provider for the fees of confirmed gifts posted without one and post those it now knows. Stripe's
    webhook does not carry the fee, so every Stripe gift is confirmed without it, and the confirmer asks for it
    moments later (`confirmed_since`: only gifts confirmed since then, none of `skip`, the gifts it has asked for
    already); a fee still unknown (Stripe has not yet made the charge's balance transaction, or the lookup failed)
    is left for the next full run (the confirmer's, every WEBHOOK_FEES_FILL_SECONDS, or `carefund webhooks fees`).
    Each lookup is made outside any database transaction. Only a gateway that can look fees up (Stripe) has any to
    fill: the test gateway states its fee in the event. Up to `limit` gifts (None: all), in id order from after
    `after_pk`, then from the start again (so that a caller that goes on from the last gift asked, as the
    confirmer's full run does, asks every gift in turn, however many fees Stripe never gives)."""
    gw = gateway or active_gateway()
    lookup = getattr(gw, "payment_intent_fee_pence", None)
    if lookup is None:  # as fees_looked_up
        return FeesFilled(0, 0, 0)
    without_fee = Donation.objects.filter(fee_pence__isnull=True, gateway=gw.name).exclude(payment_intent_id="")
    columns = ("pk", "payment_intent_id", "amount_pence", "costs_contribution_pence")
    # standing gifts through the partial index donation_fee_unknown, which holds only those without a fee
    standing = without_fee.filter(status=DonationStatus.SUCCEEDED)
    if confirmed_since is not None:
        standing = standing.filter(succeeded_at__gte=confirmed_since)
    # unordered in SQL: ordered by id, SQLite would rather scan the table in id order than sort the index's few rows
    rows = list(standing.order_by().values_list(*columns))
    if confirmed_since is None:  # and gifts refunded or disputed before their fee was known (few: a scan)
        reversed_ = without_fee.filter(status__in=_FEE_STATUSES[1:], ledger_transaction__isnull=False)
        rows += reversed_.order_by().values_list(*columns)
    rows.sort()
    rows = [row for row in rows if row[0] not in skip]
    missing = [row for row in rows if row[0] > after_pk] + [row for row in rows if row[0] <= after_pk]
    if limit is not None:
        missing = missing[:limit]
    recorded = recorded_pence = 0
    for donation_id, intent_id, amount, costs in missing:
        fee = lookup(intent_id, amount + costs)
        if fee is not None and donation_fee_record(donation_id=donation_id, fee_pence=fee, actor=actor):
            recorded += 1
            recorded_pence += fee
    return FeesFilled(
        looked_up=len(missing), recorded=recorded, recorded_pence=recorded_pence, asked=tuple(r[0] for r in missing)
    )


@transaction.atomic
def payout_record(*, payout_id: str, gateway: str, amount_pence: int, arrived_on: dt.date, actor: Any = None) -> Payout:
    """The provider paid money from its clearing balance into the bank: Dr bank / Cr clearing, once per payout."""
    if isinstance(amount_pence, bool) or not isinstance(amount_pence, int) or amount_pence <= 0:
        raise ValidationError(f"amount: a payout must be more than zero pence, got {amount_pence!r}.", field="amount")
    if not payout_id:
        raise ValidationError("payout: the payout has no id.", field="payout")
    existing = Payout.objects.filter(payout_id=payout_id).first()
    if existing is not None:
        if (existing.gateway, existing.amount_pence) != (gateway, amount_pence):
            raise ConflictError(f"payout: {payout_id} was recorded with a different amount.", field="payout")
        return existing
    txn = ledger_post(
        kind=TransactionKind.ADJUSTMENT,
        postings=[
            PostingSpec(account=chart.BANK, amount_pence=amount_pence),
            PostingSpec(account=chart.clearing_account(gateway), amount_pence=-amount_pence),
        ],
        memo=f"Payout {payout_id} from {gateway} to the bank",
        on_date=arrived_on,
        idempotency_key=f"payout-{gateway}-{payout_id}"[:200],
        actor=actor,
        metadata={"payout_id": payout_id},
    )
    payout = Payout.objects.create(
        payout_id=payout_id[:255],
        gateway=gateway,
        amount_pence=amount_pence,
        arrived_on=arrived_on,
        ledger_transaction=txn,
        recorded_at=clock.now(),
    )
    audit_record(actor=actor, action="payout.record", target=payout, summary=f"{amount_pence} pence")
    return payout


def _handle_payout_paid(event: GatewayEvent, gateway: str) -> str:
    obj = event.data_object
    payout_id = obj.get("id")
    if not isinstance(payout_id, str) or not payout_id:
        raise WebhookRejectedError("payout: the event names no payout id.", field="payout")
    if obj.get("currency", "gbp") != "gbp":
        raise WebhookRejectedError("payout: only payouts in pounds (gbp) are handled.", field="currency")
    arrival = obj.get("arrival_date")
    arrived_on = (
        dt.datetime.fromtimestamp(_int(arrival, "arrival_date"), tz=dt.UTC).date()
        if arrival is not None
        else clock.today()
    )
    payout_record(
        payout_id=payout_id, gateway=gateway, amount_pence=_int(obj.get("amount"), "amount"), arrived_on=arrived_on
    )
    return f"payout {payout_id} recorded"


WEBHOOK_HANDLERS: dict[str, Callable[[GatewayEvent, str], str]] = {
    "payout.paid": _handle_payout_paid,
    "checkout.session.async_payment_succeeded": _handle_checkout_completed,
    "checkout.session.completed": _handle_checkout_completed,
    "charge.refunded": lambda e, g: _handle_reversal(e, g, to_status=DonationStatus.REFUNDED, reason="Refund"),
    "charge.dispute.created": _handle_dispute_created,
    "charge.dispute.funds_withdrawn": _handle_dispute_funds_withdrawn,
    "charge.dispute.funds_reinstated": _handle_dispute_won,
}


def webhook_receive(
    *, payload: bytes, signature_header: str, gateway: PaymentGateway | None = None, confirm_now: bool = False
) -> WebhookResult:
    """The one webhook path (Stripe's and the test gateway's): verify the raw body, dedupe on the event id, look
    the type up in WEBHOOK_HANDLERS, call one service. Never raises for bad input: returns the HTTP answer.

    200: applied, a duplicate, or a verified type carefund does not handle. 400: unverifiable, or a verified
    event carefund refuses (a checkout it never created, a wrong amount). 409: cannot apply yet (a refund before
    its payment): nothing is recorded, so the provider retries. A database failure raises DatabaseError (the
    view answers 503) and records nothing.

    Verification runs in the caller's thread. In a server (settings.WEBHOOK_CONFIRM_AFTER_ANSWER, unless
    `confirm_now`), a paid checkout completion that passes the same checks as its confirmation (the gift exists,
    session, gateway, amount and fee match) is recorded QUEUED and answered 200 at once (`queued=True`); the
    confirmer (`webhook_confirm_queued`) posts it moments later (docs/adr/0020-payment-webhooks.md, "Confirm after
    answering"). Any other event is applied before the answer, which says what happened to it. Concurrent
    deliveries in one process share database transactions ("Group commit"): each event in its own savepoint, so
    one refused event never affects another."""
    gw = gateway or active_gateway()
    try:
        event = gw.verify_webhook(payload=payload, signature_header=signature_header)
    except WebhookVerificationError as exc:
        return WebhookResult(400, f"unverified: {exc.message}")
    queue = (
        not confirm_now
        and settings.WEBHOOK_CONFIRM_AFTER_ANSWER
        and event.type in _CHECKOUT_TYPES
        and event.data_object.get("payment_status", "paid") == "paid"
    )
    in_atomic = connections[DEFAULT_DB_ALIAS].in_atomic_block  # once: each use of `connection` looks it up again
    if queue and settings.WEBHOOK_SPOOL_DIR and not in_atomic:
        spooled = _spool_checkout(event, gw.name)
        if spooled is not None:
            return spooled
    if in_atomic:
        # The caller's transaction decides (a test, the demo): record or apply it here, in that transaction.
        return (_queue_events if queue else _apply_events)([(event, gw.name)])[0]
    return _GROUP_COMMIT.submit(event, gw.name, queue=queue)


@dataclass(frozen=True, slots=True)
class _GiftSeen:
    """What the check made before answering a checkout completion reads of its gift (`_checkout_refusals`): the
    fields `_checkout_refusal` and the fee check need, read without building a model instance."""

    pk: int
    gateway: str
    checkout_session_id: str | None
    amount_pence: int
    costs_contribution_pence: int
    status: str

    @property
    def total_pence(self) -> int:
        return int(self.amount_pence) + int(self.costs_contribution_pence)


_PRECHECK_COLUMNS = "id, gateway, checkout_session_id, amount_pence, costs_contribution_pence, status"


def _gifts_seen(ids: Sequence[int]) -> dict[int, _GiftSeen]:
    """One read of the gifts a batch of checkout completions names, on the request's own connection, through the
    driver's cursor into a small record: this runs for every paid checkout the provider delivers, before the answer,
    and Django's cursor wrapper (query logging, execute wrappers, the placeholder rewrite) and a model instance were
    about a third of the read's cost (docs/benchmarks.md, "Giving"). Database errors are still Django's (the view
    answers 503)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy looks it up again
    placeholder = "?" if db.vendor == "sqlite" else "%s"
    sql = (
        f"SELECT {_PRECHECK_COLUMNS} FROM campaigns_donation"  # noqa: S608 - placeholders only
        f" WHERE id IN ({', '.join([placeholder] * len(ids))})"
    )
    db.ensure_connection()
    with db.wrap_database_errors:
        cursor = db.connection.cursor()
        try:
            cursor.execute(sql, list(ids))
            rows = cursor.fetchall()
        finally:
            cursor.close()
    return {row[0]: _GiftSeen(*row) for row in rows}


def _checkout_fields(event: GatewayEvent, gateway: str) -> tuple[int | None, Any, Any, Any]:
    """What a checkout completion says, unchecked: the gift's id, the session id, the amount taken and the fee if
    known (the test gateway states its fee in the event; Stripe's event carries none, so its gifts are confirmed
    without one and the confirmer asks for it, `donation_fees_fill`; `GatewayEvent.fee_pence` is kept for events
    queued by versions that looked the fee up before answering)."""
    obj = event.data_object
    fee = obj.get("carefund_fee_pence") if gateway == "test" else event.fee_pence
    return _donation_id_from(obj), obj.get("id"), obj.get("amount_total"), fee


def _checkout_vouched(event: GatewayEvent, gateway: str) -> bool:
    """Whether a checkout completion carries carefund's tag for the gift and amount it names (`checkout_metadata`),
    with an amount taken equal to it and a sane fee: then the checks before answering need not read the gift. The
    tag proves what a read would (the gift exists, was paid through this gateway, for this amount: a gift's amount
    never changes once its checkout starts); not whether it is confirmed already, nor its session id, which only
    its confirmation checks, recording the event as refused if need be. Anything else, a missing or wrong tag
    included (a checkout made before tags, or by another platform on the same Stripe account), is checked against
    the gift as before."""
    metadata = event.data_object.get("metadata")
    if not isinstance(metadata, dict):
        return False
    tag, stated = metadata.get("carefund_tag"), metadata.get("carefund_amount")
    donation_id, session_id, amount, fee = _checkout_fields(event, gateway)
    if (
        donation_id is None
        or not isinstance(session_id, str)
        or not isinstance(tag, str)
        or not isinstance(stated, str)
        or not stated.isdigit()
        or not _is_whole(amount)
        or int(stated) != amount
        or (fee is not None and not (_is_whole(fee) and 0 <= fee <= amount))
    ):
        return False
    expected = _checkout_tag(donation_id=donation_id, amount_pence=amount, gateway=gateway)
    return hmac.compare_digest(tag, expected)


def _checkout_refusals(
    events: Sequence[tuple[GatewayEvent, str]], *, confirmed: list[int] | None = None
) -> list[WebhookResult | None]:
    """Before checkout completions are queued: the refusal (a 400) each one's confirmation would give, or None; one
    read of all their gifts, no lock, except those carefund's tag vouches for (`_checkout_vouched`: no read). So the
    provider still sees a 400 for a checkout carefund never created or a wrong amount. A gift already confirmed is
    not refused (its confirmation answers 200 and posts nothing); with `confirmed`, the positions of those events
    that were read are appended to it."""
    out: list[WebhookResult | None] = []
    wanted: list[tuple[int, str, int, Any]] = []
    vouched: set[int] = set()
    for i, (event, gateway) in enumerate(events):
        donation_id, session_id, amount, fee = _checkout_fields(event, gateway)
        if _checkout_vouched(event, gateway):
            out.append(None)
            vouched.add(i)
        elif donation_id is None or not isinstance(session_id, str):
            out.append(WebhookResult(400, "checkout: the session names no carefund gift."))
        elif not _is_whole(amount):
            out.append(WebhookResult(400, f"amount_total: expected a whole number, got {amount!r}."))
        elif fee is not None and not _is_whole(fee):
            out.append(WebhookResult(400, f"fee: expected a whole number, got {fee!r}."))
        else:
            out.append(None)
            wanted.append((donation_id, session_id, int(amount), fee))
    found = _gifts_seen(sorted({w[0] for w in wanted})) if wanted else {}
    checks = iter(wanted)
    for i, (_, gateway) in enumerate(events):
        if out[i] is not None or i in vouched:
            continue
        donation_id, session_id, amount, fee = next(checks)
        donation = found.get(donation_id)
        refusal = _checkout_refusal(
            donation, donation_id=donation_id, gateway=gateway, session_id=session_id, amount_total_pence=amount
        )
        if refusal is None and fee is not None and donation is not None and not 0 <= fee <= donation.total_pence:
            refusal = ValidationError(f"fee: must be 0 to {donation.total_pence} pence, got {fee!r}.", field="fee")
        if refusal is not None:
            out[i] = WebhookResult(400, refusal.message)
        elif confirmed is not None and donation is not None and donation.status == DonationStatus.SUCCEEDED:
            confirmed.append(i)
    return out


def _spool_checkout(event: GatewayEvent, gateway: str) -> WebhookResult | None:
    """Answer a paid checkout completion through the spool (settings.WEBHOOK_SPOOL_DIR; carefund/campaigns/spool.py):
    the same checks as `_queue_prepare` (a 400 for what its confirmation would refuse), then one line appended to
    this process's segment, which the confirmer records and posts (`_confirm_spooled`). A gift already confirmed
    is answered as such and not spooled. None if the spool cannot be written: the caller queues the event in the
    database instead (logged)."""
    confirmed: list[int] = []
    if not _checkout_vouched(event, gateway):  # carefund's tag vouches for most: then there is nothing to read
        refusal = _checkout_refusals([(event, gateway)], confirmed=confirmed)[0]
        if refusal is not None:
            return refusal
    donation_id = _donation_id_from(event.data_object)
    if confirmed:
        return WebhookResult(200, f"duplicate: gift #{donation_id} is already confirmed")
    record = {
        "event_id": event.event_id[:255],
        "gateway": gateway,
        "type": event.type[:100],
        "received_at": clock.now().isoformat(),
        "body": _queued_body(event),
    }
    try:
        spool.writer(settings.WEBHOOK_SPOOL_DIR).append(record)
    except OSError:
        logger.exception("webhook spool not writable: event %s is queued in the database instead", event.event_id)
        return None
    return WebhookResult(200, f"accepted: gift #{donation_id} is being confirmed", queued=True)


# What a queued checkout completion keeps of the provider's object: only what its confirmation reads. A Stripe
# Checkout Session also carries the payer's name, email, address and phone (`customer_details`), which carefund
# takes from its own gift record and does not copy into its event log.
_CONFIRMATION_KEYS = ("id", "amount_total", "payment_status", "payment_intent", "client_reference_id")


def _confirmation_fields(obj: dict[str, Any]) -> dict[str, Any]:
    kept = {key: obj[key] for key in (*_CONFIRMATION_KEYS, "carefund_fee_pence") if key in obj}
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "donation_id" in metadata:
        kept["metadata"] = {"donation_id": metadata["donation_id"]}
    return kept


@dataclass
class _QueueWork:
    """Checkout completions to record QUEUED: the answers decided so far (refusals) and the one INSERT for the rest,
    prepared before the write lock is taken (`_queue_prepare`) and run under it (`_queue_insert`)."""

    events: Sequence[tuple[GatewayEvent, str]]
    results: list[WebhookResult | None]
    sql: str = ""
    params: list[Any] = field(default_factory=list)


def _queue_prepare(events: Sequence[tuple[GatewayEvent, str]]) -> _QueueWork:
    """Check verified checkout completions as their confirmation will (`_checkout_refusals`: a 400 each for those it
    would refuse; a read, no lock) and build the INSERT of the others, with what they say."""
    work = _QueueWork(events=events, results=_checkout_refusals(events))
    accepted = [(e, gateway) for (e, gateway), refused in zip(events, work.results, strict=True) if refused is None]
    if not accepted:
        return work
    when = clock.now()
    for event, gateway in accepted:
        work.params += _queued_row(event.event_id, gateway, event.type, when, _queued_body(event))
    work.sql = _queued_insert_sql(len(accepted)) + " RETURNING event_id"
    return work


def _queued_body(event: GatewayEvent) -> dict[str, Any]:
    """What a queued checkout completion keeps (its `payload`, and the spool's line): what its confirmation reads."""
    return {"object": _confirmation_fields(event.data_object), "fee_pence": event.fee_pence, "created": event.created}


def _queued_row(event_id: str, gateway: str, type_: str, received_at: dt.datetime, body: dict[str, Any]) -> list[Any]:
    """The values of one QUEUED `campaigns_webhookevent` row, in `_queued_insert_sql`'s column order."""
    ops = connection.ops
    return [
        event_id[:255],
        gateway,
        type_[:100],
        ops.adapt_datetimefield_value(received_at),
        "queued for confirmation",
        WebhookEventState.QUEUED,
        ops.adapt_json_value(body, None),
    ]


def _queued_insert_sql(count: int) -> str:
    """One INSERT of `count` QUEUED events; an event id already recorded is a duplicate and adds nothing."""
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * count)
    sql = "INSERT INTO campaigns_webhookevent (event_id, gateway, type, received_at, outcome, state, payload)"
    return sql + f" VALUES {rows} ON CONFLICT (event_id) DO NOTHING"


def _queue_insert(work: _QueueWork) -> list[WebhookResult]:
    """Record the accepted events in one INSERT; a repeated event id (here or before) is a duplicate and records
    nothing. Returns every event's answer, in order."""
    inserted: set[str] = set()
    if work.sql:
        with connection.cursor() as cursor:
            cursor.execute(work.sql, work.params)
            inserted = {row[0] for row in cursor.fetchall()}
    results = list(work.results)
    for i, (event, _) in enumerate(work.events):
        if results[i] is not None:
            continue
        key = event.event_id[:255]
        if key in inserted:
            inserted.discard(key)  # a second copy in this same batch is a duplicate
            donation_id = _donation_id_from(event.data_object)
            results[i] = WebhookResult(200, f"accepted: gift #{donation_id} is being confirmed", queued=True)
        else:
            results[i] = WebhookResult(200, f"duplicate event {event.event_id}: already handled")
    return [r for r in results if r is not None]


def _queue_events(events: Sequence[tuple[GatewayEvent, str]]) -> list[WebhookResult]:
    """Check and record checkout completions QUEUED (`_queue_prepare`, then `_queue_insert`) in the caller's
    transaction."""
    return _queue_insert(_queue_prepare(events))


@dataclass
class ConfirmReport:
    """What one `webhook_confirm_queued` call did: events applied and refused, and the children whose fund moved
    (the caller has their funding waterfalls recomputed)."""

    applied: int = 0
    refused: int = 0
    left_queued: int = 0  # failed for a reason that is not the gift's (logged): retried at the next pass
    child_ids: set[int] = field(default_factory=set)
    spooled: int = 0  # lines read from the spool (duplicates and malformed lines included)

    @property
    def count(self) -> int:
        return self.applied + self.refused + self.left_queued


def webhook_confirm_queued(*, limit: int = 500, older_than: dt.timedelta | None = None) -> ConfirmReport:
    """Apply up to `limit` QUEUED events, oldest first, in one database transaction: the same work, rows and
    outcomes as applying them when they arrived (set-based when they are plain, else one by one, each in its own
    savepoint). An event whose confirmation is refused now (the gift changed since it was accepted) is marked
    REFUSED with the reason and audited for a finance officer: the provider was already answered 200. An event
    that fails for any other reason (a fault, not the gift) is logged and left QUEUED for the next pass, without
    holding back the others; a lost connection or a locked database fails the whole pass (nothing written). Safe to
    run from several threads and processes at once (SQLite: the writer lock; PostgreSQL: SKIP LOCKED), and again
    after a crash: an event leaves QUEUED only in the transaction that applies it. With `older_than`, only events
    received at least that long ago (the server's fallback confirmer). Finding nothing costs one read and takes no
    write lock."""
    report = ConfirmReport()
    filters = "state = %s"
    params: list[Any] = [WebhookEventState.QUEUED]
    if older_than is not None:
        filters += " AND received_at <= %s"
        params.append(connection.ops.adapt_datetimefield_value(clock.now() - older_than))
    directory = settings.WEBHOOK_SPOOL_DIR
    spooled = bool(directory) and bool(
        spool.unread(directory, dict(WebhookSpoolSegment.objects.values_list("name", "read_to")))
    )
    if not spooled:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM campaigns_webhookevent WHERE {filters} LIMIT 1", params)  # noqa: S608
            if cursor.fetchone() is None:
                return report
    with _sqlite_writer_lock(), transaction.atomic():
        effects = _Effects()
        if spooled:
            report.spooled, fresh = _spool_take(directory, limit=limit, older_than=older_than)
            if fresh:
                _confirm_spooled(fresh, report, effects)
        _confirm_queue_rows(filters, params, limit=limit, report=report, effects=effects)
        effects.flush()
    return report


def _event_from_body(event_id: str, type_: str, body: dict[str, Any]) -> GatewayEvent:
    """The event a queued row's payload or a spool line's body describes (`_queued_body`)."""
    return GatewayEvent(
        event_id=event_id,
        type=type_,
        created=int(body.get("created") or 0),
        data_object=dict(body.get("object") or {}),
        fee_pence=body.get("fee_pence"),
    )


def _tally(report: ConfirmReport, results: Sequence[WebhookResult | None]) -> None:
    for result in results:
        if result is None:
            report.left_queued += 1
        elif result.status_code == 200:
            report.applied += 1
            report.child_ids.update(result.child_ids)
        else:
            report.refused += 1


def _confirm_spooled(fresh: list[_Spooled], report: ConfirmReport, effects: _Effects) -> None:
    """The spool's events, read in this transaction: the plain case (new event ids, pending gifts that match) is
    recorded APPLIED and posted at once, set-based; if any of them is not plain (a line read again after a crash, a
    gift confirmed or changed since), they are all recorded QUEUED instead, for the queue's pass, which answers each
    one by one, as an answer path without the spool would have recorded them."""
    done = _confirm_together_or_none(
        [(s.event, s.gateway) for s in fresh], effects, received={s.event.event_id: s.received_at for s in fresh}
    )
    if done is not None:
        _tally(report, done)
        return
    params: list[Any] = []
    for s in fresh:
        params += _queued_row(s.event.event_id, s.gateway, s.event.type, s.received_at, s.body)
    width = 7  # values a row
    for start in range(0, len(params), width * 200):
        chunk = params[start : start + width * 200]
        with connection.cursor() as cursor:
            cursor.execute(_queued_insert_sql(len(chunk) // width), chunk)


def _confirm_together_or_none(
    events: Sequence[tuple[GatewayEvent, str]],
    effects: _Effects,
    *,
    recorded: dict[str, int] | None = None,
    received: dict[str, dt.datetime] | None = None,
) -> list[WebhookResult] | None:
    """`_confirm_checkouts_together` in a savepoint: its results (its effects merged into `effects`), or None if
    the batch is not the plain case or failed for a reason that is not the database's (logged), rolled back for
    the caller to take the events one by one. A lost connection or a locked database propagates."""
    mine = _Effects()
    try:
        with transaction.atomic():
            done = _confirm_checkouts_together(events, mine, recorded=recorded, received=received)
    except _NotPlainError:
        return None
    except (OperationalError, InterfaceError):
        raise  # the database itself: the pass fails and nothing is written
    except Exception:
        logger.exception("confirming %s webhook events together failed; taking them one by one", len(events))
        return None
    effects.merge(mine)
    return done


def _confirm_queue_rows(
    filters: str, params: list[Any], *, limit: int, report: ConfirmReport, effects: _Effects
) -> None:
    """Apply up to `limit` QUEUED events (the database queue's pass of `webhook_confirm_queued`)."""
    skip = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with connection.cursor() as cursor:
        sql = f"SELECT id, event_id, gateway, type, payload FROM campaigns_webhookevent WHERE {filters}"  # noqa: S608
        cursor.execute(sql + " ORDER BY id LIMIT %s" + skip, [*params, limit])
        rows = cursor.fetchall()
    if not rows:
        return
    queued: list[tuple[GatewayEvent, str]] = []
    recorded: dict[str, int] = {}
    for row_id, event_id, gateway, type_, raw in rows:
        body = (json.loads(raw) if isinstance(raw, str) else raw) or {}
        queued.append((_event_from_body(event_id, type_, body), gateway))
        recorded[event_id] = row_id
    done: list[WebhookResult | None] = [None] * len(queued)
    if len(queued) > 1:
        together = _confirm_together_or_none(queued, effects, recorded=recorded)
        if together is not None:
            done = list(together)
    stack: list[_Effects] = _collecting.__dict__.setdefault("stack", [])
    for i, (event, gateway) in enumerate(queued):
        if done[i] is not None:
            continue
        mine = _Effects()
        stack.append(mine)
        try:
            result = _apply_queued_event(event, gateway, recorded[event.event_id])
        finally:
            stack.pop()
        done[i] = result
        if result is not None and result.status_code == 200:
            effects.merge(mine)
    _tally(report, done)


@dataclass(frozen=True)
class _Spooled:
    """A spool line that is an event: what its queued row would hold."""

    event: GatewayEvent
    gateway: str
    received_at: dt.datetime
    body: dict[str, Any]


def _spool_take(directory: str, *, limit: int, older_than: dt.timedelta | None) -> tuple[int, list[_Spooled]]:
    """In the confirming transaction: read up to `limit` lines from the spool after the positions recorded (locked
    on PostgreSQL, so two confirmers take turns) and record the new positions; the caller records their events in
    the same transaction. With `older_than`, only events received at least that long ago. Returns the number of
    lines read and their events (distinct event ids: a line written twice counts once)."""
    positions = dict(WebhookSpoolSegment.objects.select_for_update().values_list("name", "read_to"))
    before = (clock.now() - older_than).isoformat() if older_than is not None else None
    lines = spool.read(directory, positions, limit=limit, received_before=before)
    if not lines:
        return 0, []
    fresh: dict[str, _Spooled] = {}
    for line in lines:
        record = line.record
        if record is None:
            continue  # not JSON: logged when it was read
        try:
            body = record["body"]
            if not isinstance(body, dict):
                raise TypeError("body")
            event = _event_from_body(str(record["event_id"])[:255], str(record["type"])[:100], body)
            spooled = _Spooled(event, str(record["gateway"]), dt.datetime.fromisoformat(record["received_at"]), body)
        except (KeyError, TypeError, ValueError):
            logger.error("webhook spool %s: the line before byte %s is not an event; skipped", line.segment, line.end)
            continue
        fresh.setdefault(event.event_id, spooled)
    ends: dict[str, int] = {}
    for line in lines:
        ends[line.segment] = line.end
    WebhookSpoolSegment.objects.bulk_create(
        [WebhookSpoolSegment(name=name, read_to=end) for name, end in ends.items()],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["read_to"],
    )
    return len(lines), list(fresh.values())


def webhook_spool_tidy() -> int:
    """Delete the spool's sealed segments that have been read to their end, and forget their positions; returns how
    many. Positions are read without a lock: one read a moment too early only keeps a segment until the next call."""
    directory = settings.WEBHOOK_SPOOL_DIR
    if not directory:
        return 0
    gone = spool.finished(directory, dict(WebhookSpoolSegment.objects.values_list("name", "read_to")))
    if gone:
        WebhookSpoolSegment.objects.filter(name__in=gone).delete()
    return len(gone)


def _apply_queued_event(event: GatewayEvent, gateway: str, record_id: int) -> WebhookResult | None:
    """Apply one queued event in its own savepoint and mark it APPLIED, or REFUSED (audited) if its handler refuses
    it now; None (left QUEUED, logged) if it fails for another reason, so that one faulty event never holds back
    the gifts queued after it."""
    handler = WEBHOOK_HANDLERS[event.type]
    try:
        with transaction.atomic():
            outcome = handler(event, gateway)
            _webhook_event_mark(record_id, WebhookEventState.APPLIED, outcome)
            changed = _effects()
            child_ids = tuple(sorted(changed.child_ids)) if changed is not None else ()
            return WebhookResult(200, outcome, child_ids=child_ids, gift_change=changed.gift_change if changed else "")
    except DomainError as exc:
        _webhook_event_mark(record_id, WebhookEventState.REFUSED, exc.message)
        audit_record(
            actor=None,
            action="webhook.refused_after_accept",
            target=WebhookEvent(pk=record_id, event_id=event.event_id, gateway=gateway, type=event.type),
            summary=exc.message[:300],
            details={"event_id": event.event_id, "type": event.type},
        )
        return WebhookResult(400, exc.message)
    except (OperationalError, InterfaceError):
        raise  # the database itself: the pass fails and nothing is written
    except Exception:
        logger.exception("queued webhook event %s could not be applied; it stays queued", event.event_id)
        return None


def _webhook_event_mark(record_id: int, state: str, outcome: str) -> None:
    """Record a queued event's outcome; an applied event's payload is dropped (a refused one keeps it for review)."""
    payload = ", payload = NULL" if state == WebhookEventState.APPLIED else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE campaigns_webhookevent SET state = %s, outcome = %s{payload} WHERE id = %s",  # noqa: S608
            [state, outcome[:300], record_id],
        )


def _apply_events(events: Sequence[tuple[GatewayEvent, str]]) -> list[WebhookResult]:
    """Apply verified events in one database transaction, each in its own savepoint; then the work left for once
    per transaction (target checks, receipts). Several checkout completions are first tried together, set-based
    (`_confirm_checkouts_together`); if any of them is not the plain case, they go one by one like the rest.
    A DatabaseError rolls all of them back and propagates."""
    effects = _Effects()
    stack: list[_Effects] = _collecting.__dict__.setdefault("stack", [])
    results: list[WebhookResult | None] = [None] * len(events)
    with transaction.atomic():
        together = [i for i, (event, _) in enumerate(events) if event.type in _CHECKOUT_TYPES]
        if len(together) > 1:
            mine = _Effects()
            try:
                with transaction.atomic():
                    done = _confirm_checkouts_together([events[i] for i in together], mine)
            except _NotPlainError:
                pass  # rolled back to the savepoint: one by one below
            else:
                for i, result in zip(together, done, strict=True):
                    results[i] = result
                effects.merge(mine)
        for i, (event, gateway) in enumerate(events):
            if results[i] is not None:
                continue
            mine = _Effects()
            stack.append(mine)
            try:
                result = _apply_event(event, gateway)
            finally:
                stack.pop()
            if result.status_code == 200:  # otherwise its savepoint was rolled back, and its effects with it
                effects.merge(mine)
            results[i] = result
        effects.flush()
    return [r for r in results if r is not None]


_CHECKOUT_TYPES = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})


class _NotPlainError(Exception):
    """A batch of checkout completions is not the plain case; apply them one by one."""


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _confirm_checkouts_together(
    events: Sequence[tuple[GatewayEvent, str]],
    effects: _Effects,
    *,
    recorded: dict[str, int] | None = None,
    received: dict[str, dt.datetime] | None = None,
) -> list[WebhookResult]:
    """The plain case of several checkout completions, with the rows and answers that applying them one by one
    (`_handle_checkout_completed` -> `donation_record_succeeded`) gives, in a constant number of statements: new
    event ids, distinct pending gifts that exist, match their session, amount and gateway, and are paid. Anything
    else (a duplicate, a refusal, a gift already confirmed) raises _NotPlainError and the caller goes one by one,
    which gives each event its own answer. Events already recorded QUEUED are `recorded` ({event id: row id});
    others are recorded here, APPLIED, received now or when `received` says."""
    parsed: list[tuple[GatewayEvent, str, int, str, int, int | None]] = []
    for event, gateway in events:
        obj = event.data_object
        donation_id, session_id, amount, fee = _checkout_fields(event, gateway)
        if (
            donation_id is None
            or not isinstance(session_id, str)
            or obj.get("payment_status", "paid") != "paid"
            or not _is_whole(amount)
            or (fee is not None and not _is_whole(fee))
        ):
            raise _NotPlainError
        parsed.append((event, gateway, donation_id, session_id, int(amount), int(fee) if fee is not None else None))
    donation_ids = [p[2] for p in parsed]
    event_ids = [p[0].event_id[:255] for p in parsed]
    if len(set(donation_ids)) != len(parsed) or len(set(event_ids)) != len(parsed):
        raise _NotPlainError
    donations = _donations_lock_for_confirmation(donation_ids)
    for _, gateway, donation_id, session_id, amount, fee in parsed:
        d = donations.get(donation_id)
        if (
            d is None
            or not d.gateway
            or d.gateway != gateway
            or d.checkout_session_id != session_id
            or amount != d.total_pence
            or d.status != DonationStatus.PENDING
            or (fee is not None and not 0 <= fee <= d.total_pence)
        ):
            raise _NotPlainError
    # queued events are recorded already (`recorded`); events applied on arrival or from the spool are recorded
    # here, with their outcome
    record_ids = recorded
    if record_ids is None:
        record_ids = _webhook_events_insert(
            [(p[0], p[1]) for p in parsed], outcomes=[f"gift #{p[2]} confirmed" for p in parsed], received=received
        )
    if len(record_ids) != len(parsed):
        raise _NotPlainError  # an event id already recorded: a duplicate
    today, now = clock.today(), clock.now()
    txns = ledger_post_many(
        entries=[
            LedgerEntry(
                kind=TransactionKind.DONATION,
                postings=_gift_postings(donations[p[2]], chart.clearing_account(p[1]), p[5] or 0),
                memo=f"Gift #{p[2]} to {donations[p[2]].campaign.title}",
                on_date=today,
                idempotency_key=f"donation-{p[2]}",
                group_id=f"donation-{p[2]}",
                metadata={"donation_id": p[2]},
            )
            for p in parsed
        ]
    )
    ops = connection.ops
    results: list[WebhookResult] = []
    donation_rows: list[list[Any]] = []
    event_rows: list[list[Any]] = []
    audits: list[tuple[str, Any, str, dict[str, Any]]] = []
    for (event, _, donation_id, _, _, fee), txn in zip(parsed, txns, strict=True):
        d = donations[donation_id]
        intent = _payment_intent_id(event.data_object)
        d.status, d.succeeded_at, d.received_on = DonationStatus.SUCCEEDED, now, today
        d.payment_intent_id, d.fee_pence, d.ledger_transaction = intent, fee, txn
        donation_rows.append(
            [
                d.status,
                ops.adapt_datetimefield_value(now),
                ops.adapt_datefield_value(today),
                intent,
                fee,
                txn.pk,
                d.pk,
            ]
        )
        outcome = f"gift #{donation_id} confirmed"
        event_rows.append([outcome, WebhookEventState.APPLIED, record_ids[event.event_id[:255]]])
        audits.append(("donation.succeeded", d, f"{d.total_pence} pence", {}))
        results.append(WebhookResult(200, outcome, child_ids=(d.campaign.child_id,), gift_change=GIFT_CONFIRMED))
        effects.campaign_ids.update(
            {d.campaign.pk} if d.campaign.state == CampaignState.PUBLISHED and d.campaign.target_pence > 0 else set()
        )
        if d.donor_email:
            effects.receipt_donation_ids.append(d.pk)
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE campaigns_donation SET status = %s, succeeded_at = %s, received_on = %s, payment_intent_id = %s,"
            " fee_pence = %s, ledger_transaction_id = %s WHERE id = %s",
            donation_rows,
        )
        if recorded is not None:
            # an applied event's payload is no longer needed (it stays only on refused events, for a finance officer)
            cursor.executemany(
                "UPDATE campaigns_webhookevent SET outcome = %s, state = %s, payload = NULL WHERE id = %s", event_rows
            )
    audit_record_many(actor=None, events=audits)
    return results


def _webhook_events_insert(
    events: Sequence[tuple[GatewayEvent, str]],
    *,
    outcomes: Sequence[str] | None = None,
    received: dict[str, dt.datetime] | None = None,
) -> dict[str, int]:
    """Record verified events (APPLIED) in one INSERT, received now unless `received` gives the time, with their
    `outcomes` if known (else set once applied); returns {event id: row id} of those not recorded before."""
    ops = connection.ops
    now = ops.adapt_datetimefield_value(clock.now())
    params: list[Any] = []
    for i, (event, gateway) in enumerate(events):
        at = received.get(event.event_id) if received is not None else None
        when = now if at is None else ops.adapt_datetimefield_value(at)
        params += [event.event_id[:255], gateway, event.type[:100], when, outcomes[i][:300] if outcomes else ""]
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(events))
    with connection.cursor() as cursor:
        sql = f"INSERT INTO campaigns_webhookevent (event_id, gateway, type, received_at, outcome) VALUES {rows}"  # noqa: S608
        cursor.execute(sql + " ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id", params)
        return {event_id: int(row_id) for row_id, event_id in cursor.fetchall()}


def _apply_event(event: GatewayEvent, gateway: str) -> WebhookResult:
    handler = WEBHOOK_HANDLERS.get(event.type)
    try:
        with transaction.atomic():
            # The unique event id is the dedupe: a second delivery inserts nothing (a concurrent one waits on the
            # unique index until the first commits or rolls back).
            record_id = _webhook_event_insert(event, gateway)
            if record_id is None:
                return WebhookResult(200, f"duplicate event {event.event_id}: already handled")
            outcome = f"event type {event.type} not handled by carefund" if handler is None else handler(event, gateway)
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE campaigns_webhookevent SET outcome = %s WHERE id = %s", [outcome[:300], record_id]
                )
            changed = _effects()
            if changed is None or not changed.child_ids:
                return WebhookResult(200, outcome)
            return WebhookResult(
                200, outcome, child_ids=tuple(sorted(changed.child_ids)), gift_change=changed.gift_change
            )
    except WebhookRetryError as exc:
        return WebhookResult(409, exc.message)
    except ConflictError as exc:
        return WebhookResult(409, exc.message)
    except DomainError as exc:
        return WebhookResult(400, exc.message)


def _webhook_event_insert(event: GatewayEvent, gateway: str) -> int | None:
    """Record a verified event once; None if its id was already recorded."""
    return _webhook_events_insert([(event, gateway)]).get(event.event_id[:255])


@contextlib.contextmanager
def _sqlite_writer_lock() -> Iterator[None]:
    """On SQLite (one writer at a time), make the server processes queue for the write lock in the kernel (an
    exclusive lock on a file beside the database) instead of polling in SQLite's busy handler, which sleeps 1, 2,
    5, 10 ... ms between attempts and so leaves the database idle while writers wait. Elsewhere: nothing."""
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        yield
        return
    with open(f"{name}.writer-lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class _GroupCommit:
    """Group commit for webhook events within one server process: while one thread (the leader) applies a batch
    of events in one database transaction, events arriving from other threads queue; when the batch commits, the
    next waiting thread takes everything queued as its batch. Every caller returns only once its own event is
    committed (or refused), with its own answer, so the provider's view is exactly that of one transaction per
    event; the database sees one lock acquisition, one commit and one target check per batch instead of per
    event. With one request at a time a batch is one event."""

    MAX_BATCH = 100

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False

    def submit(self, event: GatewayEvent, gateway: str, *, queue: bool = False) -> WebhookResult:
        job = _Job(event=event, gateway=gateway, queue=queue)

        with self._cv:
            self._queue.append(job)
            while self._busy and not job.done:
                self._cv.wait()
            if job.done:
                return job.outcome()
            self._busy = True
        try:
            while not job.done:
                with self._cv:
                    batch = self._queue[: self.MAX_BATCH]
                    del self._queue[: self.MAX_BATCH]
                self._run(batch)
        finally:
            with self._cv:
                self._busy = False
                self._cv.notify_all()
        return job.outcome()

    @staticmethod
    def _run(batch: list[_Job]) -> None:
        to_queue = [job for job in batch if job.queue]
        to_apply = [job for job in batch if not job.queue]
        try:
            # the checks and the INSERT's text are made before the write lock is taken (they only read), so the
            # single writer is held for the INSERT and the commit alone
            work = _queue_prepare([(job.event, job.gateway) for job in to_queue]) if to_queue else None
            # one transaction for both kinds (_apply_events opens its own when it is alone)
            with _sqlite_writer_lock(), transaction.atomic() if to_queue else contextlib.nullcontext():
                queued = _queue_insert(work) if work is not None else []
                applied = _apply_events([(job.event, job.gateway) for job in to_apply]) if to_apply else []
        except BaseException as exc:  # every caller in the batch gets the failure, the leader too
            for job in batch:
                job.error, job.done = exc, True
        else:
            for job, result in [*zip(to_queue, queued, strict=True), *zip(to_apply, applied, strict=True)]:
                job.result, job.done = result, True


@dataclass
class _Job:
    event: GatewayEvent
    gateway: str
    queue: bool = False
    result: WebhookResult | None = None
    error: BaseException | None = None
    done: bool = False

    def outcome(self) -> WebhookResult:
        if self.error is not None:
            if isinstance(self.error, DatabaseError):
                raise self.error
            raise RuntimeError(f"applying webhook event {self.event.event_id} failed") from self.error
        assert self.result is not None
        return self.result


_GROUP_COMMIT = _GroupCommit()


# --- Messages -----------------------------------------------------------------------------------------------------


@transaction.atomic
def donation_message_moderate(*, donation: Donation, approve: bool, actor: Any) -> Donation:
    _require_perm(actor, "campaigns.moderate_message", "moderate messages")
    locked = Donation.objects.select_for_update().get(pk=donation.pk)
    if locked.message_status == MessageStatus.NONE:
        raise ValidationError("donation: this gift has no message to moderate.", field="donation")
    locked.message_status = MessageStatus.APPROVED if approve else MessageStatus.REJECTED
    locked.save(update_fields=["message_status"])
    campaign_public_cache_invalidate(campaign_id=locked.campaign_id)  # the page shows it (now and again on commit)
    audit_record(actor=actor, action="donation.message_moderate", target=locked, summary=locked.message_status)
    return locked


# --- Offline gifts ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfflineLine:
    amount_pence: int
    kind: str
    donor_name: str = ""
    donor_email: str = ""
    reference: str = ""


def _check_offline(campaign: Campaign, line: OfflineLine, received_on: dt.date) -> None:
    if line.kind not in OFFLINE_KINDS:
        allowed = ", ".join(sorted(k.value for k in OFFLINE_KINDS))
        raise ValidationError(f"kind: {line.kind!r} is not an offline gift kind; use one of {allowed}.", field="kind")
    if isinstance(line.amount_pence, bool) or not isinstance(line.amount_pence, int) or line.amount_pence <= 0:
        raise ValidationError(f"amount: must be more than zero, got {line.amount_pence!r} pence.", field="amount_pence")
    if received_on > clock.today():
        raise ValidationError("received_on: a gift cannot be received in the future.", field="received_on")
    if campaign.state == CampaignState.DRAFT:
        raise ValidationError("campaign: publish the campaign before recording gifts to it.", field="campaign")


def _post_offline(
    *, campaign: Campaign, line: OfflineLine, received_on: dt.date, batch: OfflineBatch | None, actor: Any
) -> Donation:
    donation = Donation.objects.create(
        campaign=campaign,
        amount_pence=line.amount_pence,
        status=DonationStatus.SUCCEEDED,
        kind=line.kind,
        donor_name=line.donor_name.strip()[:200],
        donor_email=line.donor_email.strip(),
        reference=line.reference[:100],
        receipt_token=_new_token(),
        created_at=clock.now(),
        succeeded_at=clock.now(),
        received_on=received_on,
        batch=batch,
        entered_by=actor,
    )
    donation.campaign = campaign
    txn = ledger_post(
        kind=TransactionKind.DONATION,
        postings=_gift_postings(donation, chart.BANK),
        memo=f"Offline gift #{donation.pk} ({line.kind}) to {campaign.title}",
        on_date=received_on,
        idempotency_key=f"donation-{donation.pk}",
        group_id=f"offline-batch-{batch.pk}" if batch else f"donation-{donation.pk}",
        actor=actor,
        metadata={"donation_id": donation.pk, "entered_by": actor.pk},
    )
    donation.ledger_transaction = txn
    donation.save(update_fields=["ledger_transaction"])
    audit_record(actor=actor, action="donation.record_offline", target=donation, summary=f"{line.amount_pence} pence")
    return donation


@transaction.atomic
def donation_record_offline(
    *,
    campaign: Campaign,
    amount_pence: int,
    kind: str,
    received_on: dt.date,
    donor_name: str = "",
    donor_email: str = "",
    reference: str = "",
    actor: Any,
) -> Donation:
    """A caseworker records cash, a cheque, a bank transfer or event takings: Dr bank / Cr the child's fund."""
    _require_perm(actor, "campaigns.record_offline_gift", "record offline gifts")
    line = OfflineLine(amount_pence, kind, donor_name, donor_email, reference)
    _check_offline(campaign, line, received_on)
    donation = _post_offline(campaign=campaign, line=line, received_on=received_on, batch=None, actor=actor)
    _after_success(donation, actor)
    return donation


@transaction.atomic
def offline_batch_record(
    *,
    campaign: Campaign,
    description: str,
    stated_total_pence: int,
    received_on: dt.date,
    lines: Sequence[OfflineLine],
    actor: Any,
) -> OfflineBatch:
    """Several offline gifts at once; refused unless the lines add up to the stated total exactly."""
    _require_perm(actor, "campaigns.record_offline_gift", "record offline gifts")
    if not description.strip():
        raise ValidationError("description: say what the batch is (e.g. 'Sponsored walk, 3 May').", field="description")
    problem = rules.batch_problem(stated_total_pence, [line.amount_pence for line in lines])
    if problem:
        raise ValidationError(problem, field="lines")
    for line in lines:
        _check_offline(campaign, line, received_on)
    batch = OfflineBatch.objects.create(
        campaign=campaign,
        description=description.strip()[:200],
        stated_total_pence=stated_total_pence,
        received_on=received_on,
        entered_by=actor,
        entered_at=clock.now(),
    )
    for i, line in enumerate(lines):
        donation = _post_offline(campaign=campaign, line=line, received_on=received_on, batch=batch, actor=actor)
        _after_success(donation, actor, sync_target=i == len(lines) - 1)
    audit_record(actor=actor, action="offline_batch.record", target=batch, summary=f"{len(lines)} lines")
    return batch
