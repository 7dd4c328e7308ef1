"""On PostgreSQL, a connection remembers only a few statements' texts (psycopg's `prepared_max`), so a process's
memory does not grow with the distinct statements it runs (docs/benchmarks.md "Gift Aid claims")."""

from __future__ import annotations

import pytest
from django.db import connection

from carefund.core.apps import PREPARED_MAX

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_a_connection_remembers_at_most_a_few_statements() -> None:
    with connection.cursor() as cursor:
        for i in range(3 * PREPARED_MAX):
            cursor.execute("SELECT %s::text", [f"statement {i} " + "x" * 1_000])
    assert connection.connection.prepared_max == PREPARED_MAX
