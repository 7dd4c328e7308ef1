"""`carefund ledger check | balances [--as-of DATE] [--json] | export --format beancount`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.core.money import format_pence
from carefund.ledger.export import export_beancount
from carefund.ledger.integrity import ledger_check
from carefund.ledger.selectors import balances


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of must be a date like 2026-03-31, got {text!r}") from None


class Command(BaseCommand):
    help = "Check, list balances of, or export the restricted-fund ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{check,balances,export}")
        sub.add_parser("check", help="prove the book is whole; exit 1 listing findings")
        bal = sub.add_parser("balances", help="every account's balance (beancount signs: debits positive)")
        bal.add_argument("--as-of", dest="as_of", default=None, help="balances at the end of this date (YYYY-MM-DD)")
        bal.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
        exp = sub.add_parser("export", help="the whole book in beancount format")
        exp.add_argument("--format", dest="fmt", default="beancount", choices=["beancount"])
        exp.add_argument("--output", "-o", dest="output", default="-", help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "check":
            findings = ledger_check()
            if findings:
                for finding in findings:
                    self.stdout.write(f"- {finding}")
                self.stderr.write(f"ledger check: {len(findings)} finding(s)")
                sys.exit(1)
            self.stdout.write("ledger check: clean")
        elif action == "balances":
            as_of = _date(options["as_of"]) if options["as_of"] else None
            rows = balances(as_of=as_of)
            if options["as_json"]:
                payload = {"accounts": [{"account": r.account, "balance_pence": r.balance_pence} for r in rows]}
                self.stdout.write(json.dumps(payload))
            else:
                width = max((len(r.account) for r in rows), default=10)
                for r in rows:
                    self.stdout.write(f"{r.account:<{width}}  {format_pence(r.balance_pence):>16}")
        elif action == "export":
            if options["output"] == "-":
                for chunk in export_beancount():
                    self.stdout.write(chunk, ending="")
            else:
                with open(options["output"], "w", encoding="utf-8") as fh:
                    for chunk in export_beancount():
                        fh.write(chunk)
