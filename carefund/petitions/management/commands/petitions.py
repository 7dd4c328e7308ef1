"""`carefund petitions load-postcodes FILE [--areas FILE] | load-shipped | recount [SLUG] | close-expired | anonymise |
send-confirmations`.

`close-expired`, `anonymise` and `recount` are the daily jobs (run them from cron: docs/petitions.md);
`send-confirmations` is the backstop of the batched confirmation emails (cron, every few minutes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from carefund.petitions.counting import petition_recount
from carefund.petitions.models import Petition, PetitionState, Signature
from carefund.petitions.postcodes import PostcodeFileError, areas_load, load_shipped, postcodes_load
from carefund.petitions.retention import petitions_anonymise_due
from carefund.petitions.services import petitions_close_expired
from carefund.petitions.tasks import signature_confirmations_send


class Command(BaseCommand):
    help = "Load the ONS Postcode Directory, recount petitions, close expired ones, anonymise old signatures."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load-postcodes", help="load an ONSPD CSV (columns pcds, doterm, pcon, icb, nhser, ctry)")
        load.add_argument("file", help="the ONSPD CSV, e.g. Data/ONSPD_FEB_2025_UK.csv")
        load.add_argument("--areas", default="", help="a CSV of area names (kind, code, name, mp)")
        sub.add_parser("load-shipped", help="load the small extract shipped for tests and the demo")
        recount = sub.add_parser("recount", help="count petitions again from their signatures (drift repair)")
        recount.add_argument("slug", nargs="?", default="", help="one petition (default: every open one)")
        sub.add_parser("close-expired", help="close open petitions whose time is up")
        sub.add_parser("anonymise", help="remove signers' personal data once the retention period has passed")
        sub.add_parser(
            "send-confirmations", help="queue the confirmation emails of any signature still waiting for one"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(file=self.stdout, highlight=False, soft_wrap=True)  # type: ignore[arg-type]
        action = options["action"]
        if action == "load-postcodes":
            self._load(console, Path(options["file"]), options["areas"])
        elif action == "load-shipped":
            console.print(f"Loaded {load_shipped()} postcodes from the shipped extract.")
        elif action == "recount":
            petitions = Petition.objects.filter(state=PetitionState.OPEN)
            if options["slug"]:
                petitions = Petition.objects.filter(slug=options["slug"])
                if not petitions.exists():
                    raise CommandError(f"No petition has the address name {options['slug']!r}.")
            for petition in petitions:
                console.print(f"{petition.slug}: {petition_recount(petition_id=petition.pk)} signatures")
        elif action == "close-expired":
            console.print(f"Closed {petitions_close_expired()} petitions.")
        elif action == "anonymise":
            console.print(f"Anonymised the signatures of {petitions_anonymise_due()} petitions.")
        elif action == "send-confirmations":
            due = Signature.objects.filter(confirmation_due=True).count()
            if due:
                signature_confirmations_send.enqueue()
            console.print(
                f"{due} signatures wait for their confirmation email" + ("; a batch is queued." if due else ".")
            )

    def _load(self, console: Console, path: Path, areas: str) -> None:
        if not path.is_file():
            raise CommandError(f"No file at {path}: give the path of the ONSPD CSV you downloaded.")
        try:
            with console.status("Loading postcodes...") as status, path.open(encoding="utf-8-sig", newline="") as fh:
                loaded = postcodes_load(file=fh, progress=lambda n: status.update(f"Loading postcodes... {n:,}"))
            if areas:
                with Path(areas).open(encoding="utf-8-sig", newline="") as fh:
                    console.print(f"Loaded {areas_load(file=fh)} area names.")
        except (PostcodeFileError, UnicodeDecodeError, KeyError) as exc:
            raise CommandError(str(exc)) from None
        console.print(f"Loaded {loaded:,} postcodes.")
