"""The payment provider's events, as Stripe and dj-stripe advise: the webhook verifies the signature, checks the
event's shape and bounds (and a checkout completion against its gift), then in one database transaction stores it
(unique event id) and puts its processing on the task queue, and answers 200. The worker applies it through the
handler for its type (`webhook_event_process`); a failure is retried with backoff and, after the last try, shown to
finance officers on the reconciliation page. The daily sweep (`checkouts_sweep`) asks the provider for completed
checkouts whose event never arrived. docs/adr/0021-webhook-task-queue.md."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction

from carefund.campaigns import rules
from carefund.campaigns.gateways import active_gateway
from carefund.campaigns.gateways.base import GatewayEvent, PaymentGateway, WebhookVerificationError
from carefund.campaigns.models import Donation, DonationStatus, WebhookEvent, WebhookEventState
from carefund.campaigns.services._base import batched, batched_part, enqueue_in_transaction, rows_save
from carefund.campaigns.services.giving import (
    CONFIRMABLE,
    CheckoutCompletion,
    checkout_refusal,
    donation_record_succeeded,
    donations_record_succeeded,
)
from carefund.campaigns.services.payouts import payout_record
from carefund.campaigns.services.reversals import (
    donation_dispute_fees_record,
    donation_dispute_won,
    donation_partial_refund,
    donation_reverse,
)
from carefund.core import clock
from carefund.core.errors import ConflictError, DomainError, ValidationError
from carefund.core.services import audit_record

logger = logging.getLogger(__name__)

# The worker tries an event this many times, waiting RETRY_BASE_SECONDS * 4^(try - 1) between tries (30 s, 2 min,
# 8 min, 32 min, 2 h 8 min: about 2 h 50 min in all, as long as a refund may wait for its payment's event); then it is
# shown to finance officers as failed.
MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 30
# An event still queued this long after it was stored has lost its task (a worker killed while running it): the
# sweep puts it on the queue again.
STALE_AFTER = dt.timedelta(minutes=15)
# A task applies its own event and up to BATCH_MAX[vendor] - 1 others waiting. On SQLite the batch's transaction
# holds the one writer lock, which the webhook's insert waits for: small batches. On PostgreSQL the webhook waits on
# nothing a batch holds; a batch is bounded only so that the rows it locks (gifts, accounts) are not held long from
# other writers. Measured: docs/benchmarks.md, "Giving".
BATCH_MAX = {"sqlite": 20, "postgresql": 100}


@dataclass(frozen=True)
class WebhookResult:
    """The HTTP answer to one delivery."""

    status_code: int
    outcome: str


class WebhookRejectedError(ValidationError):
    """A verified event carefund refuses: a 400 at the webhook; REFUSED (for a finance officer) in the worker."""


class WebhookRetryError(ConflictError):
    """An event that cannot apply yet (a refund before its payment's event): the worker tries it again later."""


def webhook_receive(*, payload: bytes, signature_header: str, gateway: PaymentGateway | None = None) -> WebhookResult:
    """The one webhook path (Stripe's and the test gateway's). Never raises for bad input: returns the HTTP answer.
    200: stored and queued, a duplicate, or a verified type carefund does not handle (not stored). 400: unverifiable,
    malformed, or a checkout completion its gift refutes; nothing stored. A database failure raises DatabaseError
    (the view answers 503; nothing was stored, so the provider's retry is welcome)."""
    gw = gateway or active_gateway()
    try:
        event = gw.verify_webhook(payload=payload, signature_header=signature_header)
    except WebhookVerificationError as exc:
        return WebhookResult(400, f"unverified: {exc.message}")
    if event.type not in WEBHOOK_HANDLERS:
        return WebhookResult(200, f"event type {event.type} not handled by carefund")
    problem = rules.webhook_event_problem(event.type, event.data_object)
    if problem is None and event.type in rules.WEBHOOK_CHECKOUT_TYPES:
        problem = _checkout_problem(event.data_object, gw.name)
    if problem:
        return WebhookResult(400, f"refused: {problem}")
    try:
        with transaction.atomic():  # the event and its task, or neither
            stored = WebhookEvent.objects.create(
                event_id=event.event_id,
                gateway=gw.name,
                type=event.type,
                received_at=clock.now(),
                state=WebhookEventState.QUEUED,
                payload=event.data_object,
            )
            _enqueue(stored.pk)
    except IntegrityError:  # the unique event id: a delivery seen before (a concurrent one waits on the index)
        if not WebhookEvent.objects.filter(event_id=event.event_id).exists():
            raise
        return WebhookResult(200, f"duplicate event {event.event_id}: already received")
    return WebhookResult(200, f"event {event.event_id} received")


def _checkout_problem(obj: dict[str, Any], gateway: str) -> str | None:
    """Why a completed checkout's gift refutes it (never created here, another session, another amount), or None.
    Read without a lock: a gift's amount and session never change once its checkout started."""
    donation_id = int(rules.gift_id_in(obj) or 0)
    if obj.get("payment_status", "paid") != "paid":
        return None  # nothing will be posted (async payments complete later)
    # unordered: the model's default order would cost a third of this read (cProfile of webhook_receive)
    found = Donation.objects.filter(pk=donation_id).only(
        "gateway", "checkout_session_id", "amount_pence", "costs_contribution_pence"
    )
    refusal = checkout_refusal(
        next(iter(found.order_by()[:1]), None),
        donation_id=donation_id,
        gateway=gateway,
        session_id=obj["id"],
        amount_total_pence=obj["amount_total"],
    )
    return refusal.message if refusal is not None else None


def _enqueue(event_pk: int, *, attempts: int = 0, retry_in: dt.timedelta | None = None) -> None:
    from carefund.campaigns.tasks import webhook_event_apply

    # `attempts`: the tries the event has had; its task applies it only if it still has that many (an event retried
    # with backoff is not applied early by a task of an earlier try; `webhook_event_process`)
    kwargs: dict[str, Any] = {"event_pk": event_pk, **({"attempts": attempts} if attempts else {})}
    if retry_in is None:
        enqueue_in_transaction(webhook_event_apply, **kwargs)
    elif webhook_event_apply.get_backend().supports_defer:
        enqueue_in_transaction(webhook_event_apply.using(run_after=clock.now() + retry_in), **kwargs)
    # else (a backend that cannot wait: the tests' immediate one) it stays queued for the sweep's requeue


def webhook_event_process(*, event_pk: int, attempts: int | None = None) -> str:
    """Apply a stored event through the handler for its type, once, and with it the other events waiting for
    their first try (oldest first; up to BATCH_MAX[vendor]): one transaction for all of them, so a burst commits
    once per batch rather than once per event (docs/adr/0021-webhook-task-queue.md, "Batches"). The batch's checkout
    completions are confirmed together (`donations_record_succeeded`: one read of their gifts, one posting, one
    update); a completion its gift refutes is refused alone; should confirming them together fail, each is
    applied alone, in its own savepoint, as every other event is, so a failure affects its event only. Rows are
    locked (the others skipping those another worker holds); an event no longer queued (or, with `attempts`, tried
    since: a retry waiting for its time) is left as it is. The other events' own tasks, when the worker reaches
    them, find their event applied and do nothing (one read). A refusal (DomainError) marks its event REFUSED for a
    finance officer; any other failure (including an event that cannot apply yet) is retried with backoff, and
    after MAX_ATTEMPTS marked FAILED with its error."""
    queued = WebhookEvent.objects.filter(state=WebhookEventState.QUEUED)
    own = queued.filter(pk=event_pk, **({} if attempts is None else {"attempts": attempts}))
    if not own.exists():  # one read, no write lock, for a second task of an event applied (the sweep's requeue)
        return "nothing to do"
    with transaction.atomic(), batched():
        # waits for a batch of another worker that holds it, which may have stopped before reaching it
        done = list(own.select_for_update())
        if not done:
            return "nothing to do"
        # the partial index `webhookevent_open` (state not applied, by received_at) finds the few waiting ones
        others = queued.exclude(state=WebhookEventState.APPLIED).filter(attempts=0).exclude(pk=event_pk)
        limit = BATCH_MAX.get(connection.vendor, 1) - 1
        done += others.select_for_update(skip_locked=True).order_by("received_at", "pk")[:limit]
        _apply_all(done)
        rows_save(done, ["attempts", "state", "outcome"])
    if len(done) == 1:
        return done[0].outcome
    return f"{len(done)} events applied in one batch; this task's: {done[0].outcome}"[:300]


def _apply_all(rows: list[WebhookEvent]) -> None:
    """The batch's checkout completions together, then every other event alone (and each completion alone, should
    confirming them together fail)."""
    settled: set[int] = set()
    completions: list[tuple[WebhookEvent, CheckoutCompletion]] = []
    for row in rows:
        if row.type in rules.WEBHOOK_CHECKOUT_TYPES:
            try:
                completion = _completion(_event(row), row.gateway)
            except Exception:  # noqa: S112 (applied alone below, where its fault is recorded)
                continue
            if isinstance(completion, str):
                _settle(row, completion)
                settled.add(row.pk)
            else:
                completions.append((row, completion))
    if len(completions) > 1:  # (one alone is applied as every other event is, below)
        try:
            with transaction.atomic(), batched_part():
                results = donations_record_succeeded([c for _, c in completions])
        except Exception:
            logger.warning("%s checkout completions failed together; applying each alone", len(completions))
        else:
            for (row, completion), result in zip(completions, results, strict=True):
                _settle(row, result if isinstance(result, DomainError) else _confirmed(completion))
                settled.add(row.pk)
    for row in rows:
        if row.pk not in settled:
            _apply(row)


def _event(row: WebhookEvent) -> GatewayEvent:
    return GatewayEvent(event_id=row.event_id, type=row.type, created=0, data_object=row.payload or {})


def _apply(row: WebhookEvent) -> None:
    """One event, in its own savepoint: its outcome is recorded on `row` (saved by the caller)."""
    try:
        with transaction.atomic(), batched_part():
            outcome = WEBHOOK_HANDLERS[row.type](_event(row), row.gateway)
    except Exception as exc:
        _settle(row, exc)
    else:
        _settle(row, outcome)


def _settle(row: WebhookEvent, result: str | Exception) -> None:
    """Record one try of an event on `row`: applied (its outcome), refused, or to be tried again (or failed)."""
    row.attempts += 1
    if isinstance(result, str):
        row.state, row.outcome = WebhookEventState.APPLIED, result[:300]
    elif isinstance(result, ConflictError):  # cannot apply yet (a refund before its payment, a dispute won early)
        _retry_or_fail(row, result.message)
    elif isinstance(result, DomainError):
        row.state, row.outcome = WebhookEventState.REFUSED, result.message[:300]
        audit_record(actor=None, action="webhook.refused", target=row, summary=row.outcome)
    else:  # a fault (a bug, a database error in the handler): this event only
        logger.error("payment event %s (try %s) failed", row.event_id, row.attempts, exc_info=result)
        _retry_or_fail(row, f"{type(result).__name__}: {result}")


def _retry_or_fail(row: WebhookEvent, error: str) -> None:
    if row.attempts >= MAX_ATTEMPTS:
        row.state, row.outcome = WebhookEventState.FAILED, f"failed after {row.attempts} tries: {error}"[:300]
        audit_record(actor=None, action="webhook.failed", target=row, summary=row.outcome)
        return
    wait = dt.timedelta(seconds=RETRY_BASE_SECONDS * 4 ** (row.attempts - 1))
    row.outcome = f"try {row.attempts} of {MAX_ATTEMPTS} failed ({error}); next in {wait}"[:300]
    _enqueue(row.pk, attempts=row.attempts, retry_in=wait)


def webhook_events_requeue_stale(*, older_than: dt.timedelta = STALE_AFTER) -> int:
    """Put back on the queue the events still queued `older_than` after they were stored (their task was lost: a
    worker killed while running it, or a backend that cannot wait for a retry). Applying is idempotent, so an event
    that still has a task is merely looked at twice. Returns how many."""
    stale = list(
        WebhookEvent.objects.filter(state=WebhookEventState.QUEUED, received_at__lt=clock.now() - older_than)
        .order_by("pk")
        .values_list("pk", "attempts")
    )
    for pk, attempts in stale:
        with transaction.atomic():
            _enqueue(pk, attempts=attempts)
    return len(stale)


# --- Handlers: one per event type, each calling one service ---------------------------------------------------


def _gift_id(obj: dict[str, Any]) -> int | None:
    raw = rules.gift_id_in(obj)
    return int(raw) if raw is not None else None


def _payment_intent_id(obj: dict[str, Any]) -> str:
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):  # an expanded PaymentIntent
        intent = intent.get("id")
    return intent if isinstance(intent, str) else ""


def _completion(event: GatewayEvent, gateway: str) -> CheckoutCompletion | str:
    """What a checkout event asks to confirm, or its outcome when there is nothing to post."""
    obj = event.data_object
    donation_id = _gift_id(obj)
    assert donation_id is not None  # rules.webhook_event_problem
    if obj.get("payment_status", "paid") != "paid":
        return f"checkout for gift #{donation_id} not paid yet ({obj.get('payment_status')}): nothing posted"
    fee = obj.get("carefund_fee_pence") if gateway == "test" else None  # Stripe's fee comes with its payout
    return CheckoutCompletion(
        donation_id=donation_id,
        amount_total_pence=obj["amount_total"],
        payment_intent_id=_payment_intent_id(obj),
        fee_pence=fee if rules.is_whole(fee) else None,
        session_id=obj["id"],
        gateway=gateway,
    )


def _handle_checkout_completed(event: GatewayEvent, gateway: str) -> str:
    completion = _completion(event, gateway)
    if isinstance(completion, str):
        return completion
    donation_record_succeeded(**dataclasses.asdict(completion))
    return _confirmed(completion)


def _confirmed(completion: CheckoutCompletion) -> str:
    return f"gift #{completion.donation_id} confirmed"


def _donation_for_charge(obj: dict[str, Any], gateway: str, reason: str) -> Donation:
    """The confirmed gift a refund or dispute names; a refusal for a gift not created here, a retry for a charge
    whose gift is not confirmed yet (its payment's event has not been applied)."""
    donation_id = _gift_id(obj)
    qs = Donation.objects.filter(gateway=gateway)
    intent = _payment_intent_id(obj)
    if donation_id is not None:
        donation = qs.filter(pk=donation_id).first()
        if donation is None:
            raise WebhookRejectedError(f"charge: names gift #{donation_id}, which was not created here.")
    else:
        donation = qs.filter(payment_intent_id=intent).first() if intent else None
    if donation is None or donation.ledger_transaction_id is None:
        raise WebhookRetryError(f"{reason}: no confirmed gift matches this charge yet.")
    return donation


def _handle_refund(event: GatewayEvent, gateway: str) -> str:
    obj = event.data_object
    donation = _donation_for_charge(obj, gateway, "Refund")
    refunded = obj["amount_refunded"]
    if refunded > donation.total_pence:
        raise WebhookRejectedError(
            f"amount_refunded: {refunded} pence is more than gift #{donation.pk} took ({donation.total_pence} "
            "pence); nothing posted.",
            field="amount_refunded",
        )
    if refunded < donation.total_pence:
        done = donation_partial_refund(donation_id=donation.pk, refunded_pence=refunded)
        if done.posted_pence:
            return f"gift #{donation.pk} partly refunded: {done.posted_pence} pence"
        return f"duplicate: the refunds of gift #{donation.pk} up to {refunded} pence are posted already"
    donation_reverse(donation_id=donation.pk, reason="Refund", to_status=DonationStatus.REFUNDED)
    return f"gift #{donation.pk} {DonationStatus.REFUNDED}"


def _dispute_fees_outcome(donation: Donation, event: GatewayEvent, gateway: str) -> str:
    fees = rules.dispute_fees(event.data_object)
    posted = donation_dispute_fees_record(donation_id=donation.pk, fees=fees, gateway=gateway) if fees else 0
    return f"; dispute fees posted: {posted} pence" if posted else ""


def _handle_dispute_created(event: GatewayEvent, gateway: str) -> str:
    donation = _donation_for_charge(event.data_object, gateway, "Dispute")
    donation_reverse(donation_id=donation.pk, reason="Dispute", to_status=DonationStatus.DISPUTED)
    return f"gift #{donation.pk} {DonationStatus.DISPUTED}" + _dispute_fees_outcome(donation, event, gateway)


def _handle_dispute_funds_withdrawn(event: GatewayEvent, gateway: str) -> str:
    """The provider took a dispute's money and fee (Stripe: `charge.dispute.funds_withdrawn`, which may come
    before or after `charge.dispute.created`): the gift's reversal is posted by the latter; this posts the fee."""
    donation = _donation_for_charge(event.data_object, gateway, "Dispute")
    return f"dispute of gift #{donation.pk}: funds withdrawn" + _dispute_fees_outcome(donation, event, gateway)


def _handle_dispute_won(event: GatewayEvent, gateway: str) -> str:
    donation = _donation_for_charge(event.data_object, gateway, "Dispute")
    _, posted = donation_dispute_won(donation_id=donation.pk)
    outcome = (
        f"gift #{donation.pk} stands again: its dispute was won"
        if posted
        else f"duplicate: gift #{donation.pk} was already reinstated"
    )
    return outcome + _dispute_fees_outcome(donation, event, gateway)


def _handle_payout_paid(event: GatewayEvent, gateway: str) -> str:
    obj = event.data_object
    arrival = obj.get("arrival_date")
    arrived_on = dt.datetime.fromtimestamp(arrival, tz=dt.UTC).date() if arrival is not None else clock.today()
    payout = payout_record(payout_id=obj["id"], gateway=gateway, amount_pence=obj["amount"], arrived_on=arrived_on)
    if payout.ledger_transaction_id is None:
        return f"payout {payout.payout_id} held for a finance officer: the clearing account does not cover it"
    if gateway != "test":  # the test gateway states its fees with its gifts
        from carefund.campaigns.tasks import payout_fees_fill

        enqueue_in_transaction(payout_fees_fill, payout_id=payout.payout_id)
    return f"payout {payout.payout_id} recorded"


WEBHOOK_HANDLERS: dict[str, Callable[[GatewayEvent, str], str]] = {
    "payout.paid": _handle_payout_paid,
    "checkout.session.async_payment_succeeded": _handle_checkout_completed,
    "checkout.session.completed": _handle_checkout_completed,
    "charge.refunded": _handle_refund,
    "charge.dispute.created": _handle_dispute_created,
    "charge.dispute.funds_withdrawn": _handle_dispute_funds_withdrawn,
    "charge.dispute.funds_reinstated": _handle_dispute_won,
}
assert set(WEBHOOK_HANDLERS) == rules.WEBHOOK_TYPES


@dataclass(frozen=True)
class SweepReport:
    asked: int  # completed checkouts the provider listed
    confirmed: int  # gifts confirmed now (their event never arrived, or is not applied yet)
    refused: int  # listed checkouts carefund's gifts refute (logged and audited)
    requeued: int  # stored events whose task was lost, put back on the queue


def checkouts_sweep(*, days: int = 3, gateway: PaymentGateway | None = None) -> SweepReport:
    """Find lost webhooks: ask the provider for the checkouts completed in the last `days` and confirm each gift
    still pending through the same handler as the event would (`_handle_checkout_completed`); and requeue stored
    events whose task was lost. The provider is asked outside any database transaction."""
    gw = gateway or active_gateway()
    since = int((clock.now() - dt.timedelta(days=days)).timestamp())
    sessions = gw.completed_checkouts(since=since)
    ids = {int(raw) for s in sessions if (raw := rules.gift_id_in(s)) and raw.isdigit() and len(raw) <= 18}
    pending = set(Donation.objects.filter(pk__in=ids, status__in=CONFIRMABLE).values_list("pk", flat=True))
    confirmed = refused = 0
    for session in sessions:
        gift = _gift_id(session) if rules.gift_id_in(session) else None
        if gift not in pending:
            continue
        event = GatewayEvent(
            event_id=f"sweep-{session.get('id')}", type="checkout.session.completed", created=0, data_object=session
        )
        problem = rules.webhook_event_problem(event.type, session) or _checkout_problem(session, gw.name)
        try:
            if problem:
                raise WebhookRejectedError(problem)
            with transaction.atomic():
                _handle_checkout_completed(event, gw.name)
            confirmed += 1
        except DomainError as exc:
            refused += 1
            logger.warning("sweep: checkout %s not confirmed: %s", session.get("id"), exc.message)
            audit_record(
                actor=None, action="webhook.sweep_refused", summary=f"{session.get('id')}: {exc.message}"[:300]
            )
    return SweepReport(
        asked=len(sessions), confirmed=confirmed, refused=refused, requeued=webhook_events_requeue_stale()
    )
