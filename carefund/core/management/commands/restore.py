"""`carefund restore FILE [--replace]`: restore a backup, then prove the restored book (`ledger check`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.core.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup made by `carefund backup` into the configured database and check the restored book."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a backup file (.sqlite3 or .pgdump)")
        parser.add_argument("--replace", action="store_true", help="overwrite a database that already holds data")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            backup_restore(source=Path(options["file"]), replace=options["replace"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored {options['file']}")
        # the restored book proved whole, or exit 1 listing what is wrong with it
        call_command("ledger", "check", stdout=self.stdout, stderr=self.stderr)
