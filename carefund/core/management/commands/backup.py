"""`carefund backup DIR`: a consistent backup of the whole database while the server runs (carefund.core.backups)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.core.backups import BackupError, backup_make


class Command(BaseCommand):
    help = "Back up the whole database into DIR (SQLite: online backup API; PostgreSQL: pg_dump)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="folder for the backup file (created if missing)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = backup_make(directory=Path(options["directory"]))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"backup written: {path} ({path.stat().st_size:,} bytes)")
