"""`carefund webhooks confirm [--watch SECONDS]`: apply the checkout completions the webhook accepted and queued.

Once (prints what it did), or with --watch for ever: the confirmer process that runs beside the server (`make run`
starts it with --watch 0.1; carefund/web/campaigns/confirmer.py).

`carefund webhooks fees`: post the provider's fees of gifts confirmed before their fee was known
(`services.donation_fees_fill`); the --watch process also does it every WEBHOOK_FEES_FILL_SECONDS (an hour)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from carefund.campaigns.services import donation_fees_fill
from carefund.core.money import format_pence
from carefund.web.campaigns.confirmer import drain, watch


class Command(BaseCommand):
    help = "Payment webhooks: `confirm` applies queued checkout completions now; `fees` posts fees learnt late."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            choices=["confirm", "fees"],
            help="confirm: apply every queued event now; fees: post the fees of gifts confirmed without one",
        )
        parser.add_argument("--watch", type=float, default=0, help="keep confirming, looking every N seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "fees":
            filled = donation_fees_fill(limit=None)  # every fee still unknown (a cron job's run)
            self.stdout.write(
                f"{filled.looked_up} confirmed gift(s) without a fee looked up; {filled.recorded} fee(s) posted "
                f"({format_pence(filled.recorded_pence)}); the others are not known yet and are asked for next time."
            )
            return
        if options["watch"]:
            self.stdout.write(f"confirming queued webhook events every {options['watch']} s (stop with Ctrl-C)")
            watch(interval=options["watch"])
            return
        report = drain()
        self.stdout.write(
            f"{report.applied} queued event(s) applied, {report.refused} refused (see the audit log: "
            f"webhook.refused_after_accept), {report.left_queued} left queued after a fault (see the log); "
            f"waterfalls recomputed for {len(report.child_ids)} child(ren)."
        )
