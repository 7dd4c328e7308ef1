"""`carefund webhooks confirm [--watch SECONDS]`: apply the checkout completions the webhook accepted and queued.

Once (prints what it did), or with --watch for ever: the confirmer process that runs beside the server (`make run`
starts it with --watch 0.1; carefund/web/campaigns/confirmer.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from carefund.web.campaigns.confirmer import drain, watch


class Command(BaseCommand):
    help = "Payment webhooks: `confirm` applies queued checkout completions now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["confirm"], help="confirm: apply every queued event now")
        parser.add_argument("--watch", type=float, default=0, help="keep confirming, looking every N seconds")

    def handle(self, *args: Any, **options: Any) -> None:
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
