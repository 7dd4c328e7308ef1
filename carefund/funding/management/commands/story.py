"""`carefund story [--json] [--start YYYY-MM-DD]`: play the seed story on a freshly migrated, empty database and
print its timeline."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from carefund.core.errors import DomainError
from carefund.funding.story import STORY_START, play_story


@contextmanager
def _null() -> Iterator[None]:
    yield


class Command(BaseCommand):
    help = (
        "Play the seed story (James, over two years and three months) through the real services and print its "
        "timeline; by default it ends a month before today."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the children's figures as JSON.")
        parser.add_argument(
            "--start",
            type=dt.date.fromisoformat,
            default=None,
            help="The day the story starts, YYYY-MM-DD (as written: 2015-04-01). Default: so it ends a month ago.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_json = bool(options["json"])
        console = Console(
            file=self.stdout,  # type: ignore[arg-type]
            highlight=False,
            soft_wrap=True,
            width=160,
        )
        try:
            start = options["start"]
            with console.status("Playing the story through the services...") if not as_json else _null():
                result = play_story(start=dt.datetime.combine(start, STORY_START.time()) if start else None)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps({"children": result.children}, indent=2))
            return
        for event in result.events:
            console.print(f"[bold]{event.on:%d %b %Y}[/bold]  {event.text}")
        console.print()
        for child in result.children:
            console.print(
                f"{child['name']}: raised {child['raised_pence']}p, NHS {child['nhs_funded_pence']}p, "
                f"spent {child['spent_pence']}p, surplus out {child['surplus_out_pence']}p, "
                f"in {child['surplus_in_pence']}p, balance {child['balance_pence']}p"
            )
