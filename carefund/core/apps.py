from typing import Any

from django.apps import AppConfig

# psycopg remembers up to `prepared_max` (100 by default) statements a connection ran, by their full text, to count
# them towards preparing; with the prepare_threshold our settings give PostgreSQL (so petition signing's statements
# can ask to be prepared) every distinct statement is remembered, and Django binds values into the text, so a bulk
# INSERT of 5,000 rows stays in memory as a megabyte of text: a process's memory grew with the work it did, up to 100
# such statements (docs/benchmarks.md "Gift Aid claims"). The few statements that ask to be prepared (three in
# `petitions.signing._execute_hot`) fit in a short list, and nothing is prepared by count (the threshold is never met).
PREPARED_MAX = 8


def limit_prepared_statements(*, connection: Any, **_: Any) -> None:
    """Receiver of `connection_created`: a PostgreSQL connection remembers at most PREPARED_MAX statements."""
    if connection.vendor == "postgresql":
        connection.connection.prepared_max = PREPARED_MAX


class CoreConfig(AppConfig):
    name = "carefund.core"
    label = "core"
    verbose_name = "Core: audit and roles"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from carefund.core import checks  # noqa: F401  (registers the system checks)
        from carefund.core.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="carefund-core-roles")
        connection_created.connect(limit_prepared_statements, dispatch_uid="carefund-core-prepared-max")
