"""`carefund demo`: leave the site in the story's state, idempotently, and print the demo logins.

Refuses to create demo accounts (known passwords) unless DEBUG is on or --allow-demo-accounts is given."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from carefund.campaigns.models import Campaign
from carefund.care.demo import seed_care
from carefund.care.models import Child
from carefund.core.errors import DomainError
from carefund.funding.demo import seed_programmes
from carefund.funding.story import is_played, play_story
from carefund.giftaid.demo import seed_claim, seed_declarations
from carefund.outcomes.demo import seed_outcomes
from carefund.petitions.demo import seed_petitions


class Command(BaseCommand):
    help = "Load the demo: the care seed, the funding story (once) and one login per role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-demo-accounts",
            action="store_true",
            help="Create the demo accounts (known passwords) even with DEBUG off. Never on a real site.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        allow = bool(settings.DEBUG or options["allow_demo_accounts"])
        if not allow:
            raise CommandError(
                "Refusing to create demo accounts with known passwords: DEBUG is off. Run with DEBUG=1 on a "
                "development machine, or pass --allow-demo-accounts if you really mean it."
            )
        console = Console(
            file=self.stdout,  # type: ignore[arg-type]
            highlight=False,
            soft_wrap=True,
            width=160,
        )
        try:
            if not is_played() and not Child.objects.exists():
                result = play_story(allow_accounts=True)
                console.print(
                    f"Played the story: {len(result.events)} events, "
                    f"{result.events[0].on:%d %b %Y} to {result.events[-1].on:%d %b %Y}."
                )
            elif not is_played():
                console.print("Children already exist, so the story (which needs an empty database) is not played.")
            demo = seed_care(allow_accounts=True)
            seed_programmes()
            declared = seed_declarations()
            if declared:
                console.print(f"Gift Aid declarations by {len(declared)} of the campaign's online donors.")
            claim = seed_claim()
            if claim is not None:
                console.print(
                    f"Gift Aid claim {claim.pk} made by {claim.created_by} as a draft: a second finance officer files "
                    "it at /giftaid/claims/."
                )
            petitions = seed_petitions(
                campaign=Campaign.objects.filter(child=demo.children["james"]).order_by("pk").first(),
                creator=get_user_model().objects.filter(username="guardian").first(),
            )
            console.print(
                f"Petition '{petitions.open_petition.action}': "
                f"{petitions.open_petition.signature_count:,} confirmed signatures."
            )
            outcomes = seed_outcomes(james=demo.children.get("james"))
            console.print(
                f"Outcomes registry: James's measurements; a SYNTHETIC cohort of {outcomes.synthetic_children} "
                "children at the five CtE centres for the evaluation."
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        table = Table(title="Demo logins")
        for column in ("username", "password", "role", "who"):
            table.add_column(column)
        for login in demo.logins:
            table.add_row(login.username, login.password, login.role, login.description)
        console.print(table)
