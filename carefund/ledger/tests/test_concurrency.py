"""On PostgreSQL, concurrent writers posting to and spending from one fund end exact and never below zero."""

from __future__ import annotations

import datetime as dt
import random
import threading

import pytest
from django.db import connection

from carefund.ledger import chart
from carefund.ledger.errors import FundOverdrawnError
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import fund_balance_pence
from carefund.ledger.services import PostingSpec, account_open, ledger_post

D = dt.date(2026, 3, 2)
FUND = chart.child_fund(1)
STRIPE = chart.clearing_account("stripe")
PAYABLE = chart.provider_payable(7)


def _run_threads(target, n: int) -> list[BaseException]:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_gifts_and_spends_on_one_fund_end_exact_and_never_below_zero():
    for name in (FUND, STRIPE, PAYABLE):
        account_open(name=name)
    given: list[int] = []
    spent: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        rng = random.Random(i)
        for j in range(20):
            if j % 2 == 0:
                amount = rng.randint(1, 500)
                ledger_post(
                    kind="donation",
                    postings=[PostingSpec(STRIPE, amount), PostingSpec(FUND, -amount)],
                    memo="gift",
                    on_date=D,
                    idempotency_key=f"gift-{i}-{j}",
                )
                with lock:
                    given.append(amount)
            else:
                amount = rng.randint(1, 900)
                try:
                    ledger_post(
                        kind="invoice",
                        postings=[PostingSpec(FUND, amount), PostingSpec(PAYABLE, -amount)],
                        memo="invoice",
                        on_date=D,
                        idempotency_key=f"spend-{i}-{j}",
                    )
                except FundOverdrawnError:
                    with lock:
                        refused.append(amount)
                else:
                    with lock:
                        spent.append(amount)

    errors = _run_threads(worker, 10)

    assert errors == []
    assert len(given) == 100
    assert len(spent) + len(refused) == 100
    assert fund_balance_pence(child_id=1) == sum(given) - sum(spent)
    assert fund_balance_pence(child_id=1) >= 0
    assert Transaction.objects.count() == 100 + len(spent)
    assert ledger_check() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_event_arriving_concurrently_posts_once():
    for name in (FUND, STRIPE):
        account_open(name=name)
    results: list[int] = []

    def worker(i: int) -> None:
        txn = ledger_post(
            kind="donation",
            postings=[PostingSpec(STRIPE, 2500), PostingSpec(FUND, -2500)],
            memo="gift",
            on_date=D,
            idempotency_key="webhook-evt-1",
        )
        results.append(txn.pk)

    errors = _run_threads(worker, 8)

    assert errors == []
    assert len(set(results)) == 1
    assert Transaction.objects.count() == 1
    assert fund_balance_pence(child_id=1) == 2500
