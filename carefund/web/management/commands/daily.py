"""`carefund daily`: every job carefund needs once a day, in one command for one line of cron (docs/operations.md,
"Daily jobs"; docs/adr/0090-daily-jobs-from-cron.md). The task queue has no clock of its own, so the system's
scheduler starts this, and this runs each job here and now, in order:

- payments: the sweep for lost webhooks (asks the provider for completed checkouts, confirms gifts still pending,
  requeues events whose task was lost) and the expiry of unpaid test checkouts;
- petitions: close those whose time is up, anonymise signers past the retention period, recount the open ones;
- outcomes: email each centre its children due or overdue for a follow-up visit;
- data protection: erase what is past its retention period.

A job that fails is reported and the others still run; the command then exits with status 1, so cron reports it.
`--only NAME` runs one job (names as printed). Backups are a separate line (`carefund backup DIR`), as they need a
place to write to."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def _payments() -> str:
    from carefund.campaigns.tasks import checkouts_sweep_daily

    return str(checkouts_sweep_daily.call())


def _petitions() -> str:
    from carefund.petitions.counting import petition_recount
    from carefund.petitions.models import Petition, PetitionState
    from carefund.petitions.retention import petitions_anonymise_due
    from carefund.petitions.services import petitions_close_expired

    closed = petitions_close_expired()
    anonymised = petitions_anonymise_due()
    open_ids = list(Petition.objects.filter(state=PetitionState.OPEN).values_list("pk", flat=True))
    for pk in open_ids:
        petition_recount(petition_id=pk)
    return f"{closed} closed, signatures of {anonymised} anonymised, {len(open_ids)} open recounted"


def _outcomes() -> str:
    from carefund.outcomes.tasks import follow_up_remind

    return f"{follow_up_remind.call()} reminder email(s) sent to centres"


def _retention() -> str:
    from carefund.core.tasks import retention_task

    erased = retention_task.call()
    return ", ".join(f"{what}: {n}" for what, n in erased.items()) or "nothing past its retention period"


JOBS: dict[str, Callable[[], str]] = {
    "payments": _payments,
    "petitions": _petitions,
    "outcomes": _outcomes,
    "retention": _retention,
}

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run carefund's daily jobs (payments sweep, petitions, outcome reminders, retention): once a day, from cron."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", choices=sorted(JOBS), help="run this one job")

    def handle(self, *args: Any, **options: Any) -> None:
        names = [options["only"]] if options["only"] else list(JOBS)
        failed: list[str] = []
        for name in names:
            try:
                outcome = JOBS[name]()
            except Exception as exc:  # one job's failure must not stop the others; cron hears of it by the exit
                logger.exception("daily job %s failed", name)
                failed.append(name)
                self.stdout.write(f"{name}: FAILED: {type(exc).__name__}: {exc}")
            else:
                self.stdout.write(f"{name}: {outcome}")
        if failed:
            raise CommandError(f"{len(failed)} daily job(s) failed: {', '.join(failed)}; the others ran.")
