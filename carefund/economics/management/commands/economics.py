"""`carefund economics run MODEL_OR_PATH ...` through Django: the same arguments and run as `carefund.economics.cli`
(which `carefund` uses without Django unless an option needs the database, `cli.DJANGO_OPTIONS`). Thin."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.economics.cli import CommandFailed, add_run_arguments, execute


class Command(BaseCommand):
    help = "Cost-effectiveness models: `run MODEL_OR_PATH` (a shipped model such as sdr, or a .toml file)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        run = sub.add_parser(
            "run",
            help="run a model and print its results",
            called_from_command_line=getattr(parser, "called_from_command_line", None),
        )
        add_run_arguments(run)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            execute(options, self.stdout, self.stderr)  # type: ignore[arg-type]
        except CommandFailed as exc:
            raise CommandError(str(exc), returncode=exc.code) from None
