"""Concurrency as production runs it, on PostgreSQL: 50 deliveries at once through the real endpoint and
verification, each event stored and its task put on the database queue, then two task workers (django-tasks-db's
own Worker) draining the queue at the same time; the books end exact."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from carefund.campaigns.gateways.test import event_payload
from carefund.campaigns.models import Donation, WebhookEvent
from carefund.campaigns.tests.factories import (
    completed_event,
    deliver,
    make_campaign,
    make_pending,
    refund_event,
    run_worker,
)
from carefund.ledger import chart
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("db_queue")]


def _at_once(jobs: list[Any]) -> list[Any]:
    results: list[Any] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs))

    def run(job: Any) -> None:
        try:
            barrier.wait()
            result = job()
            with lock:
                results.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _deliver_at_once(payloads: list[bytes]) -> Counter[int]:
    return Counter(_at_once([lambda p=p: deliver(p, client=Client()).status_code for p in payloads]))


def _two_workers() -> None:
    _at_once([run_worker, run_worker])
    assert not WebhookEvent.objects.filter(state="queued").exists()


def test_fifty_distinct_gifts_concurrently() -> None:
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=100 + i, costs=i % 3) for i in range(50)]
    statuses = _deliver_at_once([completed_event(g, event_id=f"evt_distinct_{g.pk}", fee_pence=20) for g in gifts])
    assert statuses == Counter({200: 50})
    assert Transaction.objects.count() == 0  # stored and queued; the workers post
    _two_workers()
    expected_fund = sum(100 + i for i in range(50))
    expected_total = expected_fund + sum(i % 3 for i in range(50))
    assert Donation.objects.filter(status="succeeded").count() == 50
    assert fund_balance_pence(child_id=campaign.child_id) == expected_fund
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == expected_total - 50 * 20
    assert Transaction.objects.filter(kind="donation").count() == Transaction.objects.count() == 50
    assert WebhookEvent.objects.filter(state="applied").count() == 50
    assert ledger_check() == []


def test_fifty_duplicates_of_one_gift_concurrently() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    statuses = _deliver_at_once([completed_event(gift, event_id="evt_dup", fee_pence=58)] * 50)
    assert statuses == Counter({200: 50})
    _two_workers()
    assert fund_balance_pence(child_id=campaign.child_id) == 2500
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 2500 - 58
    assert Transaction.objects.count() == 1
    assert WebhookEvent.objects.count() == 1


def test_fifty_deliveries_of_one_gift_under_distinct_event_ids() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    statuses = _deliver_at_once([completed_event(gift, event_id=f"evt_retry_{i}") for i in range(50)])
    assert statuses == Counter({200: 50})
    _two_workers()
    assert fund_balance_pence(child_id=campaign.child_id) == 2500
    assert Transaction.objects.count() == 1
    assert WebhookEvent.objects.filter(state="applied").count() == 50


def test_concurrent_partial_refunds_of_one_gift_post_its_running_total_exactly_once() -> None:
    """30 `charge.refunded` events for one gift, each with a running total of £1 to £30, delivered at once in a
    shuffled order and each twice (the provider retries), applied by two workers: what is posted adds up to the
    largest total, once (services.donation_partial_refund)."""
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=5000)
    assert deliver(completed_event(gift, fee_pence=90)).status_code == 200
    run_worker()
    payloads = [refund_event(gift, event_id=f"evt_refund_{p}", amount_refunded=p * 100) for p in range(1, 31)] * 2
    random.Random(5).shuffle(payloads)
    assert _deliver_at_once(payloads) == Counter({200: 60})
    _two_workers()
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
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=5000)
    assert deliver(completed_event(gift, fee_pence=90)).status_code == 200
    run_worker()
    withdrawn = {"id": "txn_w", "object": "balance_transaction", "amount": -5000, "fee": 2000, "currency": "gbp"}
    reinstated = {"id": "txn_r", "object": "balance_transaction", "amount": 5000, "fee": -2000, "currency": "gbp"}

    def event(event_type: str, i: int, *bts: dict[str, Any]) -> bytes:
        obj = {
            "id": "dp_1",
            "object": "dispute",
            "currency": "gbp",
            "amount": 5000,
            "payment_intent": f"pi_test_{gift.pk}",
            "balance_transactions": bts,
        }
        return event_payload(event_type=event_type, event_id=f"evt_{event_type}_{i}", data_object=obj)

    first = [event("charge.dispute.created", i, withdrawn) for i in range(10)]
    first += [event("charge.dispute.funds_withdrawn", i, withdrawn) for i in range(10)]
    assert _deliver_at_once(first) == Counter({200: 20})
    _two_workers()
    gift.refresh_from_db()
    assert (gift.status, gift.dispute_fees_pence) == ("disputed", 2000)
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 90 + 2000
    won = [event("charge.dispute.funds_reinstated", i, withdrawn, reinstated) for i in range(10)]
    assert _deliver_at_once(won) == Counter({200: 10})
    _two_workers()
    gift.refresh_from_db()
    assert (gift.status, gift.dispute_fees_pence) == ("succeeded", 0)
    assert fund_balance_pence(child_id=campaign.child_id) == 5000
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 90
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 5000 - 90
    assert Transaction.objects.filter(idempotency_key__startswith="dispute-fee-").count() == 2
    assert ledger_check() == []
