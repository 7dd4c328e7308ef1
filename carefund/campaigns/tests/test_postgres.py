"""On PostgreSQL: 50 concurrent webhook deliveries for distinct gifts, and 50 concurrent duplicates of one gift,
each through the real endpoint and verification, ending with exact totals: applied before the answer, and answered
at once then posted by two confirmers running at the same time (as the server does, docs/adr/0020)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from carefund.campaigns import spool
from carefund.campaigns.models import Donation, WebhookEvent, WebhookSpoolSegment
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign, make_pending
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence
from carefund.web.campaigns import confirmer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["apply-on-arrival", "confirm-after-answer", "spool"])
def mode(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> str:
    settings.WEBHOOK_CONFIRM_AFTER_ANSWER = request.param != "apply-on-arrival"
    settings.WEBHOOK_SPOOL_DIR = str(tmp_path / "spool") if request.param == "spool" else ""
    return str(request.param)


def _confirm_concurrently(mode: str) -> None:
    """Unless applied on arrival: two confirmers drain the queue (or the spool) at the same time, in small batches."""
    if mode == "apply-on-arrival":
        return
    if mode == "spool":  # answered from the spool: nothing in the database yet
        assert spool.segments(settings.WEBHOOK_SPOOL_DIR)
    else:
        assert WebhookEvent.objects.filter(state="queued").exists()

    def run() -> None:
        try:
            confirmer.drain(limit=7)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not WebhookEvent.objects.filter(state="queued").exists()
    if mode == "spool":  # every segment read to its end; the writers' segments are still open, so kept
        positions = dict(WebhookSpoolSegment.objects.values_list("name", "read_to"))
        assert spool.unread(settings.WEBHOOK_SPOOL_DIR, positions) == {}


def _run_concurrently(payloads: list[bytes]) -> Counter[int]:
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(payloads))

    def worker(payload: bytes) -> None:
        try:
            barrier.wait()
            status = deliver(payload, client=Client()).status_code
            with lock:
                statuses[status] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_fifty_distinct_gifts_concurrently(mode: str) -> None:
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=100 + i, costs=i % 3) for i in range(50)]
    statuses = _run_concurrently([completed_event(g, event_id=f"evt_distinct_{g.pk}", fee_pence=20) for g in gifts])
    _confirm_concurrently(mode)
    assert statuses == Counter({200: 50})
    expected_fund = sum(100 + i for i in range(50))
    expected_total = expected_fund + sum(i % 3 for i in range(50))
    assert Donation.objects.filter(status="succeeded").count() == 50
    assert fund_balance_pence(child_id=campaign.child_id) == expected_fund
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == expected_total - 50 * 20
    assert Transaction.objects.filter(kind="donation").count() == 50
    assert Transaction.objects.count() == 50
    assert WebhookEvent.objects.count() == 50


def test_fifty_duplicates_of_one_gift_concurrently(mode: str) -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    payload = completed_event(gift, event_id="evt_dup", fee_pence=58)
    statuses = _run_concurrently([payload] * 50)
    _confirm_concurrently(mode)
    assert statuses == Counter({200: 50})
    assert fund_balance_pence(child_id=campaign.child_id) == 2500
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 2500 - 58
    assert Transaction.objects.count() == 1
    assert WebhookEvent.objects.count() == 1


def test_fifty_deliveries_of_one_gift_under_distinct_event_ids(mode: str) -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    statuses = _run_concurrently([completed_event(gift, event_id=f"evt_retry_{i}") for i in range(50)])
    _confirm_concurrently(mode)
    assert statuses == Counter({200: 50})
    assert fund_balance_pence(child_id=campaign.child_id) == 2500
    assert Transaction.objects.count() == 1


def test_concurrent_partial_refunds_of_one_gift_post_its_running_total_exactly_once() -> None:
    """30 `charge.refunded` events for one gift, each with a running total of £1 to £30, delivered at once in a
    shuffled order and each twice (the provider retries): whatever order they are applied in, what is posted adds up
    to the largest total, once (services.donation_partial_refund)."""
    import random

    from carefund.campaigns.tests.factories import refund_event
    from carefund.ledger.integrity import ledger_check

    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=5000)
    assert deliver(completed_event(gift, fee_pence=90)).status_code == 200
    confirmer.drain()
    payloads = [refund_event(gift, event_id=f"evt_refund_{p}", amount_refunded=p * 100) for p in range(1, 31)]
    payloads *= 2
    random.Random(5).shuffle(payloads)
    statuses = _run_concurrently(payloads)
    assert statuses == Counter({200: 60})
    gift.refresh_from_db()
    assert (gift.status, gift.refunded_pence, gift.refunded_gift_pence) == ("succeeded", 3000, 3000)
    assert fund_balance_pence(child_id=campaign.child_id) == 2000
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 5000 - 90 - 3000
    assert WebhookEvent.objects.filter(event_id__startswith="evt_refund_").count() == 30
    assert ledger_check() == []


def test_concurrent_dispute_events_post_each_dispute_fee_exactly_once() -> None:
    """The dispute's created, funds-withdrawn and funds-reinstated events, each under 10 event ids and delivered at
    once, all carrying the same balance transactions: the gift is reversed and reinstated once, and each dispute
    fee (£20 taken, then given back) is posted once (services.donation_dispute_fees_record, under the gift's lock)."""
    from carefund.campaigns.gateways.test import event_payload
    from carefund.ledger import chart
    from carefund.ledger.integrity import ledger_check

    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=5000)
    assert deliver(completed_event(gift, fee_pence=90)).status_code == 200
    confirmer.drain()
    withdrawn = {"id": "txn_w", "object": "balance_transaction", "amount": -5000, "fee": 2000, "currency": "gbp"}
    reinstated = {"id": "txn_r", "object": "balance_transaction", "amount": 5000, "fee": -2000, "currency": "gbp"}

    def event(event_type: str, i: int, *bts: dict[str, Any]) -> bytes:
        obj = {"id": "dp_1", "object": "dispute", "payment_intent": f"pi_test_{gift.pk}", "balance_transactions": bts}
        return event_payload(event_type=event_type, event_id=f"evt_{event_type}_{i}", data_object=obj)

    first = [event("charge.dispute.created", i, withdrawn) for i in range(10)]
    first += [event("charge.dispute.funds_withdrawn", i, withdrawn) for i in range(10)]
    assert _run_concurrently(first) == Counter({200: 20})
    gift.refresh_from_db()
    assert (gift.status, gift.dispute_fees_pence) == ("disputed", 2000)
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 90 + 2000
    assert _run_concurrently(
        [event("charge.dispute.funds_reinstated", i, withdrawn, reinstated) for i in range(10)]
    ) == (Counter({200: 10}))
    gift.refresh_from_db()
    assert (gift.status, gift.dispute_fees_pence) == ("succeeded", 0)
    assert fund_balance_pence(child_id=campaign.child_id) == 5000
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 90
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 5000 - 90
    assert Transaction.objects.filter(idempotency_key__startswith="dispute-fee-").count() == 2
    assert ledger_check() == []
