"""`carefund webhooks sweep`: the daily sweep (run it from cron once a day). Puts the sweep task on the queue, for the
task worker (`carefund db_worker`) to run with the others; `--now` runs it here instead and prints what it did. The
sweep asks the provider for the checkouts completed in the last days and confirms any gift still pending (a lost
webhook), puts back on the queue the events whose task was lost, and expires test checkouts left unpaid for a day.

`carefund webhooks fees PAYOUT_ID`: post the fees of the gifts a payout paid out, as the provider lists them (the
worker does it after each payout; this asks again, for instance after the provider was unreachable)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.campaigns.tasks import checkouts_sweep_daily
from carefund.core.errors import DomainError


class Command(BaseCommand):
    help = "Payment webhooks: `sweep` finds lost payments (daily, from cron); `fees PAYOUT_ID` posts a payout's fees."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["sweep", "fees"])
        parser.add_argument("payout_id", nargs="?", default="", help="fees: the provider's payout id (po_...)")
        parser.add_argument("--now", action="store_true", help="sweep: run here and now rather than on the queue")

    def handle(self, *args: Any, **options: Any) -> None:
        from carefund.campaigns.services import payout_fees_record

        if options["action"] == "fees":
            if not options["payout_id"]:
                raise CommandError("say which payout: carefund webhooks fees po_...")
            try:
                done = payout_fees_record(payout_id=options["payout_id"])
            except DomainError as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(
                f"{done.listed} charge(s) listed; {done.recorded} fee(s) posted ({done.recorded_pence} pence)."
            )
            return
        if options["now"]:
            try:
                self.stdout.write(checkouts_sweep_daily.call())
            except DomainError as exc:
                raise CommandError(exc.message) from None
            return
        result = checkouts_sweep_daily.enqueue()
        self.stdout.write(f"sweep queued (task {result.id}); the task worker runs it.")
