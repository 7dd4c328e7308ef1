"""`carefund privacy export (--donor EMAIL | --child ID) [-o FILE] | erase (--donor EMAIL | --child ID) | sweep`
(carefund.core.privacy; a child's: carefund.care.privacy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.core import privacy
from carefund.core.errors import DomainError


def _subject(parser: CommandParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--donor", help="the donor's (or petition signer's) email address")
    who.add_argument("--child", type=int, help="the child's number (as in the address of their page)")


class Command(BaseCommand):
    help = "Subject-access exports, erasure on request, and the retention schedule (UK GDPR)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{export,erase,sweep}")
        exp = sub.add_parser("export", help="everything held about a donor or a child, as a JSON file")
        _subject(exp)
        exp.add_argument("--output", "-o", default="-", help="file to write (default: stdout)")
        era = sub.add_parser("erase", help="erase a person's personal data (amounts and dates stay in the books)")
        _subject(era)
        sub.add_parser("sweep", help="erase everything past its retention period (run daily)")

    def handle(self, *args: Any, **options: Any) -> None:
        from carefund.care import privacy as child_privacy  # core's command may name care: it runs above the apps

        try:
            if options["action"] == "export":
                data = (
                    child_privacy.child_data_export(child_id=options["child"])
                    if options["child"] is not None
                    else privacy.donor_data_export(email=options["donor"])
                )
                text = json.dumps(data, indent=2, ensure_ascii=False)
                if options["output"] == "-":
                    self.stdout.write(text)
                else:
                    Path(options["output"]).write_text(text + "\n", encoding="utf-8")
                    self.stdout.write(f"export written: {options['output']}")
            elif options["action"] == "erase":
                report = (
                    child_privacy.child_data_erase(child_id=options["child"])
                    if options["child"] is not None
                    else privacy.donor_data_erase(email=options["donor"])
                )
                self.stdout.write(f"erased: {json.dumps(report.erased, sort_keys=True)}")
                for line in report.kept:
                    self.stdout.write(f"kept: {line}")
            else:
                self.stdout.write(f"retention schedule: {json.dumps(privacy.retention_apply(), sort_keys=True)}")
        except DomainError as exc:
            raise CommandError(exc.message) from None
