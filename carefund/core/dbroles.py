"""PostgreSQL: the application connects as a role with only the privileges it needs; an owner role runs the
migrations and owns the tables, so only it can drop a table or a trigger (docs/operations.md, "Database roles").

`grant_statements` gives the application role SELECT, INSERT, UPDATE and DELETE on the ordinary tables, and on the
append-only ones only what writing them needs: SELECT and INSERT on the audit events and postings, and on the
transactions also UPDATE of the one column that marks a transaction posted (the triggers refuse any change after).
Never TRUNCATE, REFERENCES, TRIGGER or ownership."""

from __future__ import annotations

import re

from django.db import connection

# table -> the privileges the application role gets on it (every other table: SELECT, INSERT, UPDATE, DELETE)
APPEND_ONLY = {
    "core_auditevent": "SELECT, INSERT",
    "ledger_posting": "SELECT, INSERT",
    "ledger_transaction": "SELECT, INSERT, UPDATE (is_posted)",
}
_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_statements(*, role: str, tables: list[str]) -> list[str]:
    """The statements that leave `role` with exactly the application's privileges on `tables` (idempotent: all it had
    is revoked first)."""
    if not _ROLE_RE.match(role):
        raise ValueError(f"role {role!r}: use lower-case letters, digits and underscores (at most 63)")
    out = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
    ]
    for table in sorted(tables):
        privileges = APPEND_ONLY.get(table, "SELECT, INSERT, UPDATE, DELETE")
        out.append(f'GRANT {privileges} ON TABLE "{table}" TO {role}')
    out.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    return out


def app_role_grant(*, role: str) -> list[str]:
    """Run `grant_statements` for every table of the database (as the owner, after each migrate); returns them."""
    if connection.vendor != "postgresql":
        raise ValueError("database roles are PostgreSQL's: SQLite has none (a file's permissions guard it)")
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor, include_views=False)
        statements = grant_statements(role=role, tables=tables)
        for sql in statements:
            cursor.execute(sql)
    return statements
