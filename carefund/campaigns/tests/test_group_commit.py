"""Webhook events applied together: the set-based path for several checkout completions gives exactly the rows
and answers of applying them one by one; refusals, duplicates and database failures inside a batch; the group
commit that lets concurrent deliveries share a database transaction; and query counts as regression guards."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from django.core import mail
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from carefund.campaigns import services
from carefund.campaigns.gateways.base import GatewayEvent
from carefund.campaigns.gateways.test import TestGateway
from carefund.campaigns.models import Campaign, CampaignState, Donation, WebhookEvent
from carefund.campaigns.tests.factories import SECRET, completed_event, deliver, make_campaign, make_pending
from carefund.core.models import AuditEvent
from carefund.ledger import chart
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Posting, Transaction
from carefund.ledger.selectors import fund_balance_pence

pytestmark = pytest.mark.django_db

GATEWAY = TestGateway(webhook_secret=SECRET, tolerance_seconds=300)


def _verified(payload: bytes) -> tuple[GatewayEvent, str]:
    return GATEWAY.verify_webhook(payload=payload, signature_header=GATEWAY.sign(payload)), "test"


def _gifts(campaign: Campaign, n: int) -> list[Donation]:
    return [make_pending(campaign, amount_pence=500 + 100 * i, costs=i % 2 * 50) for i in range(n)]


def _book(campaign: Campaign, gifts: list[Donation]) -> dict[str, Any]:
    """Everything confirming these gifts wrote, with ids made relative to the first gift and without times."""
    first = gifts[0].pk
    ids = [g.pk for g in gifts]
    keys = [f"donation-{pk}" for pk in ids]
    fund = chart.child_fund(campaign.child_id)
    txns = Transaction.objects.filter(idempotency_key__in=keys)
    return {
        "donations": sorted(
            (d.pk - first, d.status, d.fee_pence, d.payment_intent_id.replace(str(d.pk), "#"), d.received_on)
            for d in Donation.objects.filter(pk__in=ids)
        ),
        "txns": sorted(
            (t.idempotency_key, t.kind, t.group_id == t.idempotency_key, t.is_posted, t.on_date) for t in txns
        ),
        "postings": sorted(
            (p.transaction.idempotency_key, "FUND" if p.account.name == fund else p.account.name, p.amount_pence)
            for p in Posting.objects.filter(transaction__in=txns).select_related("transaction", "account")
        ),
        "audits": sorted(
            (a.action, re.sub(r"#\d+", "#", a.summary.replace(campaign.title, "CAMPAIGN")))
            for a in AuditEvent.objects.filter(
                target_type__in=["campaigns.donation", "ledger.transaction"],
                action__in=["donation.succeeded", "ledger.post"],
            )
            if (a.target_type == "campaigns.donation" and int(a.target_id) in ids)
            or (a.target_type == "ledger.transaction" and txns.filter(pk=int(a.target_id)).exists())
        ),
        "events": sorted(
            e.outcome.replace(str(e.event_id[4:]), "#")
            for e in WebhookEvent.objects.filter(event_id__in=[f"evt_{pk}" for pk in ids])
        ),
        "fund": fund_balance_pence(child_id=campaign.child_id),
    }


def _fund(campaign: Campaign) -> int:
    return fund_balance_pence(child_id=campaign.child_id)


def _payloads(gifts: list[Donation]) -> list[bytes]:
    return [completed_event(g, event_id=f"evt_{g.pk}", fee_pence=20 + g.pk % 7) for g in gifts]


def test_together_writes_what_one_by_one_writes(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """Two campaigns with gifts of the same amounts and fees: one confirmed together, one event per transaction;
    the rows each wrote are the same (ids made relative), and so are the receipts and the check."""
    books = []
    for together in (True, False):
        campaign = make_campaign(target_pence=0)
        gifts = _gifts(campaign, 5)
        events = [_verified(completed_event(g, event_id=f"evt_{g.pk}", fee_pence=25 + i)) for i, g in enumerate(gifts)]
        with django_capture_on_commit_callbacks(execute=True):
            if together:
                results = services._apply_events(events)
            else:
                results = [services._apply_events([event])[0] for event in events]
        assert [(r.status_code, r.outcome) for r in results] == [(200, f"gift #{g.pk} confirmed") for g in gifts]
        books.append(_book(campaign, gifts))
    assert books[0]["donations"] == books[1]["donations"]
    assert sorted(row[1:] for row in books[0]["txns"]) == sorted(row[1:] for row in books[1]["txns"])
    assert sorted(row[1:] for row in books[0]["postings"]) == sorted(row[1:] for row in books[1]["postings"])
    assert books[0]["audits"] == books[1]["audits"] and len(books[0]["audits"]) == 10
    assert books[0]["events"] == books[1]["events"] == ["gift ## confirmed"] * 5
    assert books[0]["fund"] == books[1]["fund"] == 500 + 600 + 700 + 800 + 900
    assert len(mail.outbox) == 10
    assert ledger_check() == []


def test_refused_and_duplicate_events_in_a_batch_get_their_own_answers() -> None:
    campaign = make_campaign(target_pence=0)
    a, b, c = _gifts(campaign, 3)
    services._apply_events([_verified(completed_event(a, event_id="evt_a", fee_pence=30))])
    batch = [
        _verified(completed_event(a, event_id="evt_a", fee_pence=30)),  # a duplicate delivery
        _verified(completed_event(b, event_id="evt_b", amount_total=1)),  # a different amount: refused
        _verified(completed_event(c, event_id="evt_c", fee_pence=31)),
    ]
    results = services._apply_events(batch)
    assert [r.status_code for r in results] == [200, 400, 200]
    assert results[0].outcome == "duplicate event evt_a: already handled"
    assert results[2].outcome == f"gift #{c.pk} confirmed"
    assert sorted(WebhookEvent.objects.values_list("event_id", flat=True)) == ["evt_a", "evt_c"]
    statuses = dict(Donation.objects.values_list("pk", "status"))
    assert statuses == {a.pk: "succeeded", b.pk: "pending", c.pk: "succeeded"}
    assert _fund(campaign) == a.amount_pence + c.amount_pence
    assert ledger_check() == []


def test_same_gift_twice_in_one_batch_under_two_event_ids_posts_once() -> None:
    campaign = make_campaign(target_pence=0)
    (a,) = _gifts(campaign, 1)
    results = services._apply_events(
        [_verified(completed_event(a, event_id="evt_1")), _verified(completed_event(a, event_id="evt_2"))]
    )
    assert [r.status_code for r in results] == [200, 200]
    assert Transaction.objects.filter(idempotency_key=f"donation-{a.pk}").count() == 1
    assert _fund(campaign) == a.amount_pence


def test_a_database_failure_mid_batch_writes_nothing_and_the_retry_posts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    campaign = make_campaign(target_pence=0)
    gifts = _gifts(campaign, 4)
    payloads = _payloads(gifts)

    def broken(**kwargs: Any) -> None:
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(services, "audit_record_many", broken)
    with pytest.raises(DatabaseError):
        services._apply_events([_verified(p) for p in payloads])
    assert WebhookEvent.objects.count() == 0 and Transaction.objects.count() == 0
    assert set(Donation.objects.values_list("status", flat=True)) == {"pending"}
    monkeypatch.undo()
    results = services._apply_events([_verified(p) for p in payloads])
    assert {r.status_code for r in results} == {200}
    assert Transaction.objects.count() == 4 and _fund(campaign) == sum(g.amount_pence for g in gifts)
    assert [r.outcome for r in services._apply_events([_verified(p) for p in payloads])] == [
        f"duplicate event evt_{g.pk}: already handled" for g in gifts
    ]
    assert Transaction.objects.count() == 4
    assert ledger_check() == []


def test_the_view_answers_503_when_the_database_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    (gift,) = _gifts(make_campaign(target_pence=0), 1)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("database is locked")

    monkeypatch.setattr(services, "_apply_events", broken)
    response = deliver(completed_event(gift, event_id="evt_x"))
    assert response.status_code == 503
    assert WebhookEvent.objects.count() == 0


def test_reaching_the_target_is_checked_once_per_batch() -> None:
    campaign = make_campaign(target_pence=1500)
    gifts = _gifts(campaign, 3)  # 500 + 600 + 700 = 1800 >= 1500
    services._apply_events([_verified(p) for p in _payloads(gifts)])
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.TARGET_REACHED
    assert AuditEvent.objects.filter(action="campaign.transition").count() == 1


def test_out_of_order_refund_in_the_same_batch_as_its_payment_is_retried() -> None:
    from carefund.campaigns.tests.factories import refund_event

    campaign = make_campaign(target_pence=0)
    (gift,) = _gifts(campaign, 1)
    other = make_pending(campaign, amount_pence=900)
    results = services._apply_events(
        [
            _verified(refund_event(gift, event_id="evt_refund")),
            _verified(completed_event(gift, event_id="evt_pay")),
            _verified(completed_event(other, event_id="evt_other")),
        ]
    )
    # the completions are applied first (together); the refund then finds its gift confirmed
    assert [r.status_code for r in results] == [200, 200, 200]
    gift.refresh_from_db()
    assert gift.status == "refunded"
    assert _fund(campaign) == other.amount_pence
    assert ledger_check() == []


# --- query counts (regression guards) ---------------------------------------------------------------------------


def test_one_confirmation_takes_a_fixed_number_of_queries() -> None:
    campaign = make_campaign(target_pence=0)
    gifts = _gifts(campaign, 3)
    services._apply_events([_verified(p) for p in _payloads(gifts[:2])])  # opens the accounts (fees, general fund)
    with CaptureQueriesContext(connection) as queries:
        services._apply_events([_verified(completed_event(gifts[2], event_id="evt_one", fee_pence=30))])
    # 4 savepoints, each set and released (the batch's transaction -- BEGIN/COMMIT outside a test --, the event,
    # the gift, ledger_post) = 8; event insert, gift select; ledger: transaction insert, balances update, postings
    # insert, mark posted, day balances upsert, audit; gift update, audit, event outcome = 11. (Was 47 before.)
    assert len(queries.captured_queries) == 19, [q["sql"][:80] for q in queries.captured_queries]


@pytest.mark.parametrize("size", [3, 8])
def test_a_batch_of_confirmations_takes_the_same_number_of_queries_whatever_its_size(size: int) -> None:
    campaign = make_campaign(target_pence=0)
    gifts = _gifts(campaign, size + 2)
    services._apply_events([_verified(p) for p in _payloads(gifts[:2])])  # opens the accounts
    with CaptureQueriesContext(connection) as queries:
        results = services._apply_events([_verified(p) for p in _payloads(gifts[2:])])
    assert {r.status_code for r in results} == {200}
    # 4 savepoints set and released (the batch's transaction, the set-based attempt, ledger_post_many and its
    # set-based attempt) = 8; gifts select, events insert (with their outcomes); ledger: transactions insert,
    # balances update, postings insert, mark posted, day balances upsert, audits; gifts update (one executemany),
    # audits = 10: the same 18 for 3 gifts or 8.
    assert len(queries.captured_queries) == 18, [q["sql"][:80] for q in queries.captured_queries]
    recorded = set(WebhookEvent.objects.values_list("outcome", "state"))
    assert {(f"gift #{g.pk} confirmed", "applied") for g in gifts} == recorded


# --- the group commit itself (no database: the batch function is replaced) ---------------------------------------


def test_group_commit_batches_concurrent_callers_and_answers_each(monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[list[str]] = []
    first_started, release = threading.Event(), threading.Event()

    def fake_apply(events: list[tuple[GatewayEvent, str]]) -> list[services.WebhookResult]:
        batches.append([e.event_id for e, _ in events])
        if len(batches) == 1:
            first_started.set()
            assert release.wait(10)
        if any(e.event_id == "boom" for e, _ in events):
            raise DatabaseError("failed")
        return [services.WebhookResult(200, f"applied {e.event_id}") for e, _ in events]

    monkeypatch.setattr(services, "_apply_events", fake_apply)
    group = services._GroupCommit()
    answers: dict[str, Any] = {}

    def call(event_id: str) -> None:
        try:
            answers[event_id] = group.submit(GatewayEvent(event_id, "checkout.session.completed", 0, {}), "test")
        except DatabaseError as exc:
            answers[event_id] = exc

    leader = threading.Thread(target=call, args=("e0",))
    leader.start()
    assert first_started.wait(10)
    others = [threading.Thread(target=call, args=(f"e{i}",)) for i in range(1, 6)]
    others.append(threading.Thread(target=call, args=("boom",)))
    for t in others:
        t.start()
    deadline = time.monotonic() + 10
    while len(group._queue) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in [leader, *others]:
        t.join(10)
    assert batches[0] == ["e0"]
    assert sorted(batches[1]) == sorted([f"e{i}" for i in range(1, 6)] + ["boom"])  # everyone queued: one batch
    assert answers["e0"] == services.WebhookResult(200, "applied e0")
    for i in range(1, 6):  # the batch failed as a whole: every caller in it gets the failure
        assert isinstance(answers[f"e{i}"], DatabaseError)
    assert isinstance(answers["boom"], DatabaseError)
    assert group._queue == [] and group._busy is False
