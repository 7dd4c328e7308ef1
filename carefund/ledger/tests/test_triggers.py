"""The database itself refuses edits and deletes of posted rows and unbalanced transactions (direct SQL),
on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction

from carefund.ledger import chart
from carefund.ledger.models import Account, Posting, Transaction
from carefund.ledger.tests import books

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 2)


def sql(statement: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def refused(statement: str, params: list[object] | None = None, *, match: str = "ledger:") -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        sql(statement, params)
        if connection.vendor == "postgresql":
            sql("SET CONSTRAINTS ALL IMMEDIATE")


def insert_txn(key: str, *, posted: bool = False) -> int:
    sql(
        "INSERT INTO ledger_transaction (kind, on_date, memo, group_id, idempotency_key, content_hash, metadata,"
        " is_posted, created_at) VALUES (%s, %s, %s, '', %s, '', '{}', %s, %s)",
        ["adjustment", D, "direct", key, posted, dt.datetime(2026, 3, 2, tzinfo=dt.UTC)],
    )
    return Transaction.objects.get(idempotency_key=key).pk


def insert_posting(txn_id: int, account_id: int, amount: int) -> None:
    sql(
        "INSERT INTO ledger_posting (transaction_id, account_id, amount_pence) VALUES (%s, %s, %s)",
        [txn_id, account_id, amount],
    )


@pytest.fixture
def posted() -> Transaction:
    return books.gift(1, 5000, D)


def test_updating_a_posted_posting_is_refused(posted):
    posting = posted.postings.first()
    refused("UPDATE ledger_posting SET amount_pence = 1 WHERE id = %s", [posting.pk])
    posting.refresh_from_db()
    assert posting.amount_pence == 5000


def test_deleting_a_posted_posting_is_refused(posted):
    refused("DELETE FROM ledger_posting WHERE transaction_id = %s", [posted.pk])
    assert Posting.objects.filter(transaction=posted).count() == 2


def test_updating_a_posted_transaction_is_refused(posted):
    refused("UPDATE ledger_transaction SET memo = 'changed' WHERE id = %s", [posted.pk])
    refused("UPDATE ledger_transaction SET is_posted = %s WHERE id = %s", [False, posted.pk])
    posted.refresh_from_db()
    assert (posted.memo, posted.is_posted) == ("Gift", True)


def test_deleting_a_posted_transaction_is_refused(posted):
    refused("DELETE FROM ledger_transaction WHERE id = %s", [posted.pk])
    assert Transaction.objects.filter(pk=posted.pk).exists()


def test_the_orm_cannot_delete_or_update_either(posted):
    with pytest.raises(DatabaseError), transaction.atomic():
        Posting.objects.filter(transaction=posted).update(amount_pence=7)
    with pytest.raises(DatabaseError), transaction.atomic():
        Transaction.objects.filter(pk=posted.pk).update(memo="edited")
    assert Posting.objects.filter(transaction=posted, amount_pence=7).count() == 0


def test_adding_a_posting_to_a_posted_transaction_is_refused(posted):
    bank = Account.objects.get(name=books.STRIPE)
    refused(
        "INSERT INTO ledger_posting (transaction_id, account_id, amount_pence) VALUES (%s, %s, %s)",
        [posted.pk, bank.pk, 1],
    )
    assert posted.postings.count() == 2


def test_marking_an_unbalanced_transaction_posted_is_refused(posted):
    fund = Account.objects.get(name=chart.child_fund(1))
    bank = Account.objects.get(name=books.STRIPE)
    with transaction.atomic():
        txn_id = insert_txn("direct-1")
        insert_posting(txn_id, bank.pk, 100)
        insert_posting(txn_id, fund.pk, -99)
        refused("UPDATE ledger_transaction SET is_posted = %s WHERE id = %s", [True, txn_id], match="sum to zero")
        transaction.set_rollback(True)
    assert not Transaction.objects.filter(idempotency_key="direct-1").exists()


def test_marking_a_transaction_without_postings_posted_is_refused(posted):
    with transaction.atomic():
        txn_id = insert_txn("direct-2")
        refused("UPDATE ledger_transaction SET is_posted = %s WHERE id = %s", [True, txn_id], match="two postings")
        transaction.set_rollback(True)
    assert not Transaction.objects.filter(idempotency_key="direct-2").exists()


def test_a_balanced_transaction_written_directly_is_accepted(posted):
    fund = Account.objects.get(name=chart.child_fund(1))
    bank = Account.objects.get(name=books.STRIPE)
    txn_id = insert_txn("direct-3")
    insert_posting(txn_id, bank.pk, 100)
    insert_posting(txn_id, fund.pk, -100)
    sql("UPDATE ledger_transaction SET is_posted = %s WHERE id = %s", [True, txn_id])
    if connection.vendor == "postgresql":
        sql("SET CONSTRAINTS ALL IMMEDIATE")
    assert Transaction.objects.get(pk=txn_id).is_posted is True


@pytest.mark.postgres
def test_postgres_checks_the_sum_at_commit_even_for_rows_inserted_posted(posted):
    fund = Account.objects.get(name=chart.child_fund(1))
    bank = Account.objects.get(name=books.STRIPE)
    with pytest.raises(DatabaseError, match="sum to zero"), transaction.atomic():
        sql(
            "INSERT INTO ledger_transaction (kind, on_date, memo, group_id, idempotency_key, content_hash, metadata,"
            " is_posted, created_at) VALUES ('adjustment', %s, 'x', '', 'direct-4', '', '{}', false, now())",
            [D],
        )
        txn_id = Transaction.objects.get(idempotency_key="direct-4").pk
        insert_posting(txn_id, bank.pk, 100)
        insert_posting(txn_id, fund.pk, -1)
        sql("SET CONSTRAINTS ALL IMMEDIATE")  # what COMMIT does
    assert not Transaction.objects.filter(idempotency_key="direct-4").exists()


@pytest.mark.postgres
def test_postgres_refuses_a_transaction_without_postings_at_commit():
    with pytest.raises(DatabaseError, match="two postings"), transaction.atomic():
        insert_txn("direct-5")
        sql("SET CONSTRAINTS ALL IMMEDIATE")
    assert not Transaction.objects.filter(idempotency_key="direct-5").exists()


def test_sqlite_refuses_inserting_a_transaction_already_posted():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite-only: PostgreSQL checks such rows at commit instead")
    refused(
        "INSERT INTO ledger_transaction (kind, on_date, memo, group_id, idempotency_key, content_hash, metadata,"
        " is_posted, created_at) VALUES ('adjustment', %s, 'x', '', 'direct-6', '', '{}', 1, %s)",
        [D, dt.datetime(2026, 3, 2, tzinfo=dt.UTC)],
        match="insert a transaction unposted",
    )
    assert Transaction.objects.count() == 0
