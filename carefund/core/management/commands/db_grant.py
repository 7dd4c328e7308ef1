"""`carefund db_grant ROLE`: give the application's PostgreSQL role exactly the privileges it needs
(carefund.core.dbroles). Run as the owner role after each `carefund migrate`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.core.dbroles import app_role_grant


class Command(BaseCommand):
    help = "Grant the application's PostgreSQL role its privileges (run as the owner, after migrate)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the role the application connects as, e.g. carefund_app")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            statements = app_role_grant(role=options["role"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"granted {options['role']} the application's privileges ({len(statements)} statements)")
