"""PostgreSQL: TRUNCATE of the transactions and postings is refused, as UPDATE and DELETE of posted rows already are
(core 0003 defines the function; docs/security.md, "Database"). SQLite has no TRUNCATE."""

from django.db import migrations

TABLES = ("ledger_transaction", "ledger_posting")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};", None)
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION carefund_refuse_truncate();",
            None,
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};", None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_journal_entries"), ("core", "0003_refuse_truncate")]
    operations = [migrations.RunPython(forwards, backwards)]
