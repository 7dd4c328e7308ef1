"""`carefund privacy export --donor EMAIL [-o FILE] | erase --donor EMAIL | sweep` (carefund.core.privacy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.core import privacy
from carefund.core.errors import DomainError


class Command(BaseCommand):
    help = "Subject-access exports, erasure on request, and the retention schedule (UK GDPR)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{export,erase,sweep}")
        exp = sub.add_parser("export", help="everything held about a donor, as a JSON file")
        exp.add_argument("--donor", required=True, help="the donor's email address")
        exp.add_argument("--output", "-o", default="-", help="file to write (default: stdout)")
        era = sub.add_parser("erase", help="erase a donor's personal data (amounts and dates stay in the books)")
        era.add_argument("--donor", required=True, help="the donor's email address")
        sub.add_parser("sweep", help="erase everything past its retention period (run daily)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "export":
                text = json.dumps(privacy.donor_data_export(email=options["donor"]), indent=2, ensure_ascii=False)
                if options["output"] == "-":
                    self.stdout.write(text)
                else:
                    Path(options["output"]).write_text(text + "\n", encoding="utf-8")
                    self.stdout.write(f"export written: {options['output']}")
            elif options["action"] == "erase":
                report = privacy.donor_data_erase(email=options["donor"])
                self.stdout.write(f"erased: {json.dumps(report.erased, sort_keys=True)}")
                for line in report.kept:
                    self.stdout.write(f"kept: {line}")
            else:
                self.stdout.write(f"retention schedule: {json.dumps(privacy.retention_apply(), sort_keys=True)}")
        except DomainError as exc:
            raise CommandError(exc.message) from None
