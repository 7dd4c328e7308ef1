"""ledger_post_many: the same book as ledger_post called for each entry, in a constant number of statements when
the entries are simple, and the same refusals (writing nothing) when they are not."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carefund.core.models import AuditEvent
from carefund.ledger import chart
from carefund.ledger.errors import ClosedAccountError, FundOverdrawnError, IdempotencyConflictError
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import AccountDayBalance, Posting, Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence
from carefund.ledger.services import (
    LedgerEntry,
    PostingSpec,
    account_close,
    account_open,
    ledger_post,
    ledger_post_many,
)

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)
STRIPE = chart.clearing_account("stripe")


def gift(key: str, child: int, amount: int, fee: int = 0, on_date: dt.date = DAY) -> LedgerEntry:
    postings = [PostingSpec(STRIPE, amount - fee), PostingSpec(chart.child_fund(child), -amount)]
    if fee:
        postings.append(PostingSpec(chart.PAYMENT_FEES, fee))
    return LedgerEntry(kind="donation", postings=postings, memo=f"Gift {key}", on_date=on_date, idempotency_key=key)


def snapshot() -> dict[str, object]:
    return {
        "postings": sorted(
            Posting.objects.values_list("transaction__idempotency_key", "account__name", "amount_pence")
        ),
        "txns": sorted(Transaction.objects.values_list("idempotency_key", "kind", "memo", "content_hash", "is_posted")),
        "days": sorted(AccountDayBalance.objects.values_list("account__name", "on_date", "closing_pence")),
        "balances": {
            name: account_balance_pence(name=name)
            for name in (STRIPE, chart.PAYMENT_FEES, chart.child_fund(1), chart.child_fund(2))
        },
        "audits": sorted(AuditEvent.objects.filter(action="ledger.post").values_list("summary", "details")),
    }


ENTRIES = [gift("g1", 1, 500, 27), gift("g2", 2, 1000), gift("g3", 1, 250, 20), gift("g4", 2, 120, 21)]


def test_many_and_one_by_one_give_identical_rows() -> None:
    account_open(name=STRIPE)
    many = ledger_post_many(entries=ENTRIES)
    together = snapshot()
    renamed = [
        LedgerEntry(
            kind=e.kind,
            postings=[PostingSpec(p.account.replace("Child-", "Child-9"), p.amount_pence) for p in e.postings],
            memo=e.memo,
            on_date=e.on_date,
            idempotency_key="x" + e.idempotency_key,
        )
        for e in ENTRIES
    ]
    for e in renamed:
        ledger_post(kind=e.kind, postings=e.postings, memo=e.memo, on_date=e.on_date, idempotency_key=e.idempotency_key)
    one = sorted(
        (key[1:], name.replace("Child-9", "Child-"), amount)
        for key, name, amount in Posting.objects.values_list(
            "transaction__idempotency_key", "account__name", "amount_pence"
        )
        if key.startswith("x")
    )
    assert one == together["postings"]
    assert fund_balance_pence(child_id=91) == fund_balance_pence(child_id=1) == 750
    assert fund_balance_pence(child_id=92) == fund_balance_pence(child_id=2) == 1120
    assert AuditEvent.objects.filter(action="ledger.post").count() == 8
    assert len(many) == 4
    assert ledger_check() == []


def test_many_is_idempotent_and_takes_constant_queries() -> None:
    account_open(name=STRIPE)
    ledger_post_many(entries=[gift("w1", 1, 100, 1), gift("w2", 2, 100)])  # opens the accounts
    entries = [gift(f"k{i}", 1 + i % 2, 300 + i, 5) for i in range(10)]
    with CaptureQueriesContext(connection) as queries:
        first = ledger_post_many(entries=entries)
    # savepoints (atomic, set-based attempt) set and released = 4; transactions insert, balances update, postings
    # insert, mark posted, day balances upsert, audits = 6
    assert len(queries.captured_queries) == 10, [q["sql"][:60] for q in queries.captured_queries]
    again = ledger_post_many(entries=entries)  # every key exists: one by one, each returns its transaction
    assert [t.pk for t in again] == [t.pk for t in first]
    assert Transaction.objects.count() == 12
    assert ledger_check() == []


def test_a_key_posted_before_is_returned_and_the_rest_posted() -> None:
    account_open(name=STRIPE)
    earlier = ledger_post_many(entries=[ENTRIES[0]])[0]
    txns = ledger_post_many(entries=ENTRIES)
    assert txns[0].pk == earlier.pk
    assert Transaction.objects.count() == 4
    assert fund_balance_pence(child_id=1) == 750 and fund_balance_pence(child_id=2) == 1120
    assert ledger_check() == []


def test_refusals_write_nothing() -> None:
    account_open(name=STRIPE)
    ledger_post_many(entries=[ENTRIES[0]])
    before = snapshot()
    conflicting = gift("g1", 1, 999)
    with pytest.raises(IdempotencyConflictError):
        ledger_post_many(entries=[gift("n1", 2, 100), conflicting])
    spend = LedgerEntry(
        kind="payment",
        postings=[PostingSpec(chart.child_fund(1), 600), PostingSpec(chart.BANK, -600)],
        memo="More than the fund holds",
        on_date=DAY,
        idempotency_key="spend",
    )
    with pytest.raises(FundOverdrawnError):
        ledger_post_many(entries=[gift("n2", 2, 100), spend])
    account_open(name="Assets:Clearing:Old")
    account_close(name="Assets:Clearing:Old")
    closed = LedgerEntry(
        kind="donation",
        postings=[PostingSpec("Assets:Clearing:Old", 100), PostingSpec(chart.child_fund(2), -100)],
        memo="To a closed account",
        on_date=DAY,
        idempotency_key="closed",
    )
    with pytest.raises(ClosedAccountError):
        ledger_post_many(entries=[gift("n3", 2, 100), closed])
    assert snapshot() == before
    assert ledger_check() == []


def test_a_spend_the_fund_can_cover_posts_in_order() -> None:
    account_open(name=STRIPE)
    spend = LedgerEntry(
        kind="payment",
        postings=[PostingSpec(chart.child_fund(1), 400), PostingSpec(chart.BANK, -400)],
        memo="Physiotherapy",
        on_date=DAY,
        idempotency_key="spend",
    )
    ledger_post_many(entries=[gift("g1", 1, 500), spend])  # a gift, then a spend it covers: one by one
    assert fund_balance_pence(child_id=1) == 100
    with pytest.raises(FundOverdrawnError):  # the spend before the gift would overdraw the fund
        ledger_post_many(entries=[spend.__class__(**{**spend.__dict__, "idempotency_key": "s2"}), gift("g2", 1, 500)])
    assert fund_balance_pence(child_id=1) == 100
    assert ledger_check() == []


def test_the_returned_transactions_are_the_rows_as_stored() -> None:
    account_open(name=STRIPE)
    txns = ledger_post_many(entries=ENTRIES)  # the set-based path: no query builds the instances

    def fields(txn: Transaction) -> list[object]:
        return [getattr(txn, f.attname) for f in Transaction._meta.concrete_fields]

    assert [fields(t) for t in txns] == [fields(Transaction.objects.get(pk=t.pk)) for t in txns]
    assert all(t._state.adding is False and t._state.db == "default" for t in txns)
