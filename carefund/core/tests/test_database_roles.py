"""Finding 5 of issue 16, on PostgreSQL: TRUNCATE of the audit, transaction and posting tables is refused by triggers,
and the application's role (carefund db_grant) may read and add rows but not update, delete, truncate or drop what is
append-only. Each test creates a role of its own with a unique name and drops it afterwards."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from carefund.core.dbroles import grant_statements
from carefund.core.models import AuditEvent
from carefund.core.services import audit_record
from carefund.ledger.models import Posting, Transaction
from carefund.ledger.tests import books

APPEND_ONLY = ("core_auditevent", "ledger_transaction", "ledger_posting")


def test_the_grants_give_the_append_only_tables_select_and_insert_only() -> None:
    statements = grant_statements(role="carefund_app", tables=["ledger_posting", "campaigns_donation"])
    assert statements == [
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM carefund_app",
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM carefund_app",
        "GRANT USAGE ON SCHEMA public TO carefund_app",
        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "campaigns_donation" TO carefund_app',
        'GRANT SELECT, INSERT ON TABLE "ledger_posting" TO carefund_app',
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO carefund_app",
    ]
    with pytest.raises(ValueError, match="lower-case letters"):
        grant_statements(role="app; DROP TABLE x", tables=[])


def _book() -> tuple[int, int, int]:
    txn = books.gift(1, 500, dt.date(2026, 1, 5))
    event = audit_record(actor=None, action="test.event", target=None, summary="kept")
    return event.pk, txn.pk, Posting.objects.filter(transaction=txn).first().pk  # type: ignore[union-attr]


def _refused(sql: str, *, role: str | None = None) -> str:
    """Run `sql` (as `role`, if given) in a transaction rolled back; return the database's refusal."""
    with pytest.raises(DatabaseError) as refusal, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL carefund.allow_truncate = 'off'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred balance checks run now, not at TRUNCATE
        if role:
            cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute(sql)
    return str(refusal.value)


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("table", APPEND_ONLY)
def test_truncate_of_an_append_only_table_is_refused(table: str) -> None:
    _book()
    assert f"{table} is append-only: TRUNCATE refused" in _refused(f"TRUNCATE {table} CASCADE")
    assert AuditEvent.objects.filter(summary="kept").count() == 1 and Transaction.objects.count() == 1


@pytest.fixture
def app_role() -> Iterator[str]:
    role = f"carefund_test_app_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        out = io.StringIO()
        call_command("db_grant", role, stdout=out)
        assert f"granted {role} the application's privileges" in out.getvalue()
        yield role
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_application_role_cannot_update_delete_truncate_or_drop(app_role: str) -> None:
    event_id, txn_id, posting_id = _book()
    with transaction.atomic(), connection.cursor() as cursor:  # what it needs, it has
        cursor.execute(f"SET LOCAL ROLE {app_role}")
        cursor.execute("SELECT count(*) FROM ledger_posting")
        assert cursor.fetchone()[0] == 2
        cursor.execute(
            "INSERT INTO core_auditevent (occurred_at, actor_id, action, target_type, target_id, summary, details) "
            "VALUES (now(), NULL, 'test.insert', '', '', 'as the app', '{}')"
        )
        cursor.execute("UPDATE campaigns_donation SET message = '' WHERE false")
        cursor.execute("RESET ROLE")  # a role set in a savepoint that is kept lasts to the end of the transaction
    attempts = [
        f"UPDATE core_auditevent SET summary = 'forged' WHERE id = {event_id}",
        f"DELETE FROM core_auditevent WHERE id = {event_id}",
        f"UPDATE ledger_posting SET amount_pence = 1 WHERE id = {posting_id}",
        f"DELETE FROM ledger_posting WHERE id = {posting_id}",
        f"UPDATE ledger_transaction SET memo = 'forged' WHERE id = {txn_id}",
        f"DELETE FROM ledger_transaction WHERE id = {txn_id}",
        *[f"TRUNCATE {table} CASCADE" for table in APPEND_ONLY],
        *[f"DROP TABLE {table} CASCADE" for table in APPEND_ONLY],
        "DROP TRIGGER ledger_posting_guard ON ledger_posting",
        "ALTER TABLE ledger_posting DISABLE TRIGGER ALL",
        "DROP FUNCTION carefund_refuse_truncate() CASCADE",
    ]
    for sql in attempts:
        refusal = _refused(sql, role=app_role)
        assert "permission denied" in refusal or "must be owner" in refusal, (sql, refusal)
    assert AuditEvent.objects.filter(summary="kept").count() == 1
    assert Transaction.objects.filter(pk=txn_id, memo="Gift").exists() and Posting.objects.count() == 2
