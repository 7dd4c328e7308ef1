"""`carefund giftaid claim create --period-end YYYY-MM-DD [--as USER] [--json]`,
`carefund giftaid claim show N [--json]`, `carefund giftaid claim export N --format ods|csv --out DIR`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.core import clock
from carefund.core.errors import DomainError
from carefund.core.money import format_pence
from carefund.giftaid.claim_selectors import claim_get_for_user, claim_summary, left_out_of
from carefund.giftaid.claims import claim_create
from carefund.giftaid.schedule import export_csv, export_ods


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--period-end must be a date like 2027-04-05, got {text!r}") from None


class Command(BaseCommand):
    help = "Gift Aid claims: create one for a period, show one, or export HMRC's schedule."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="noun", required=True, metavar="{claim}")
        claim = sub.add_parser("claim", help="Gift Aid claims")
        actions = claim.add_subparsers(dest="action", required=True, metavar="{create,show,export}")
        create = actions.add_parser("create", help="a draft claim of the gifts received by the period end")
        create.add_argument("--period-end", dest="period_end", required=True, help="YYYY-MM-DD")
        create.add_argument("--json", dest="as_json", action="store_true")
        show = actions.add_parser("show", help="a claim, with the gifts it left out and why")
        show.add_argument("claim_id", type=int)
        show.add_argument("--json", dest="as_json", action="store_true")
        export = actions.add_parser("export", help="HMRC's schedule (ods, 1,000 rows a file) or the rows as CSV")
        export.add_argument("claim_id", type=int)
        export.add_argument("--format", dest="fmt", choices=["ods", "csv"], default="ods")
        export.add_argument("--out", dest="out", required=True, help="the folder to write into")
        for p in (create, show, export):
            p.add_argument(
                "--as", dest="username", default="", help="the finance officer acting (default: the only superuser)"
            )

    def _actor(self, username: str) -> Any:
        users = get_user_model().objects
        if username:
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"--as: there is no user {username!r}.")
            return user
        supers = list(users.filter(is_superuser=True, is_active=True)[:2])
        if len(supers) != 1:
            raise CommandError("--as USER: name the finance officer acting (there is not exactly one superuser).")
        return supers[0]

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self._actor(options["username"])
        try:
            if options["action"] == "create":
                claim = claim_create(period_end=_date(options["period_end"]), actor=actor)
                self._show(claim, as_json=options["as_json"])
            elif options["action"] == "show":
                self._show(claim_get_for_user(user=actor, claim_id=options["claim_id"]), as_json=options["as_json"])
            else:
                claim = claim_get_for_user(user=actor, claim_id=options["claim_id"])
                writer = export_ods if options["fmt"] == "ods" else export_csv
                for path in writer(claim=claim, out_dir=Path(options["out"]), today=clock.today(), actor=actor):
                    self.stdout.write(str(path))
        except DomainError as exc:
            raise CommandError(exc.message) from None

    def _show(self, claim: Any, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(claim_summary(claim)))
            return
        self.stdout.write(
            f"Claim {claim.pk} to {claim.period_end:%d %B %Y}: {claim.get_state_display()}\n"
            f"  {claim.gifts_count} gifts of {format_pence(claim.amount_pence)}, Gift Aid "
            f"{format_pence(claim.gift_aid_pence)} on {claim.lines_count} lines ({claim.aggregated_lines} aggregated)\n"
            f"  GASDS top-up {format_pence(claim.gasds_pence)}; previously overclaimed "
            f"{format_pence(claim.overclaimed_pence)}; HMRC should pay {format_pence(claim.expected_pence)}"
        )
        for row in left_out_of(claim):
            self.stdout.write(f"  left out: gift #{row['donation']}: {row['words']}")
