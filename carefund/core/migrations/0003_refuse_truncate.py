"""PostgreSQL: TRUNCATE of an append-only table is refused (the row triggers cover UPDATE and DELETE only, and TRUNCATE
fires no row trigger). Statement triggers call one function; a session that sets carefund.allow_truncate = 'on' may
truncate (the test suite's flush between tests does; docs/security.md, "Database"). SQLite has no TRUNCATE."""

from django.db import migrations

FUNCTION = """CREATE OR REPLACE FUNCTION carefund_refuse_truncate() RETURNS trigger AS $$
    BEGIN
      IF current_setting('carefund.allow_truncate', true) = 'on' THEN RETURN NULL; END IF;
      RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = '42501';
    END; $$ LANGUAGE plpgsql;"""


def _refuse_truncate_sql(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION carefund_refuse_truncate();",
    ]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in [FUNCTION, *_refuse_truncate_sql("core_auditevent")]:
        schema_editor.execute(sql, None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent;", None)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
