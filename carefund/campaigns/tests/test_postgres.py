"""On PostgreSQL: 50 concurrent webhook deliveries for distinct gifts, and 50 concurrent duplicates of one gift,
each through the real endpoint and verification, ending with exact totals."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from carefund.campaigns.models import Donation, WebhookEvent
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign, make_pending
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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


def test_fifty_distinct_gifts_concurrently() -> None:
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=100 + i, costs=i % 3) for i in range(50)]
    statuses = _run_concurrently([completed_event(g, event_id=f"evt_distinct_{g.pk}", fee_pence=20) for g in gifts])
    assert statuses == Counter({200: 50})
    expected_fund = sum(100 + i for i in range(50))
    expected_total = expected_fund + sum(i % 3 for i in range(50))
    assert Donation.objects.filter(status="succeeded").count() == 50
    assert fund_balance_pence(child_id=campaign.child_id) == expected_fund
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == expected_total - 50 * 20
    assert Transaction.objects.filter(kind="donation").count() == 50
    assert Transaction.objects.count() == 50
    assert WebhookEvent.objects.count() == 50


def test_fifty_duplicates_of_one_gift_concurrently() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    payload = completed_event(gift, event_id="evt_dup", fee_pence=58)
    statuses = _run_concurrently([payload] * 50)
    assert statuses == Counter({200: 50})
    assert fund_balance_pence(child_id=campaign.child_id) == 2500
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 2500 - 58
    assert Transaction.objects.count() == 1
    assert WebhookEvent.objects.count() == 1


def test_fifty_deliveries_of_one_gift_under_distinct_event_ids() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    statuses = _run_concurrently([completed_event(gift, event_id=f"evt_retry_{i}") for i in range(50)])
    assert statuses == Counter({200: 50})
    assert fund_balance_pence(child_id=campaign.child_id) == 2500
    assert Transaction.objects.count() == 1
