"""`carefund outcomes evaluate [--measure SLUG] [--programme SLUG] [--json]`,
`carefund outcomes export --format csv [--programme SLUG] [--output FILE]`,
`carefund outcomes import FILE --centre SLUG [--programme SLUG]` and `carefund outcomes remind`.

Thin: parse, call one selector or service, print. Bad input prints what to fix and exits with code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.care.models import Provider
from carefund.core.errors import DomainError
from carefund.outcomes import selectors
from carefund.outcomes.transfer import ImportRefusedError, export_csv, import_rows, read_csv

EXIT_BAD_INPUT = 2


def _cell_text(cell: dict[str, Any], key: str = "mean_change") -> str:
    if cell.get("suppressed"):
        return "< 5 children"
    value = cell.get(key)
    lo, hi = cell.get("ci95") or (None, None)
    if value is None:
        return "-"
    interval = f" ({lo:.1f} to {hi:.1f})" if lo is not None and hi is not None else ""
    return f"{value:+.2f}{interval}"


class Command(BaseCommand):
    help = "The outcomes registry: evaluate, export (pseudonymous CSV), import a centre's spreadsheet, remind."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        kwargs: dict[str, Any] = {"called_from_command_line": getattr(parser, "called_from_command_line", None)}
        ev = sub.add_parser("evaluate", help="the evaluation tables (small cells suppressed)", **kwargs)
        ev.add_argument("--measure", default=None, help="one measure, e.g. gmfm66 (default: every analysed measure)")
        ev.add_argument("--programme", default=None, help="the evaluation programme's short name")
        ev.add_argument("--json", action="store_true", help="print JSON")
        ex = sub.add_parser("export", help="pseudonymous CSV of consenting children's measurements", **kwargs)
        ex.add_argument("--format", dest="fmt", default="csv", choices=["csv"])
        ex.add_argument("--programme", default=None)
        ex.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
        im = sub.add_parser("import", help="record a centre's spreadsheet (CSV): all rows or none", **kwargs)
        im.add_argument("file", type=Path, metavar="FILE")
        im.add_argument("--centre", required=True, help="the centre's short name (slug), e.g. nottingham-university")
        im.add_argument("--programme", default=None)
        sub.add_parser("remind", help="enqueue the follow-up reminders to every centre", **kwargs)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except ImportRefusedError as exc:
            self.stderr.write(str(exc))
            sys.exit(EXIT_BAD_INPUT)
        except DomainError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from None

    def _evaluate(self, options: dict[str, Any]) -> None:
        programme = selectors.programme_get(slug=options["programme"])
        measure = options["measure"]
        result = selectors.evaluation_run(programme=programme, measure_slugs=[measure] if measure else None)
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        if result["synthetic"]:
            self.stdout.write("SYNTHETIC DATA (demo cohort): not real children.")
        self.stdout.write(f"{result['programme']}: {result['n_children']} consenting children")
        for m in result["measures"]:
            self.stdout.write(f"\n{m['name']}: change from baseline, mean (95% CI)")
            for tp in m["time_points"]:
                cells = [*tp["centres"], tp["overall"]]
                self.stdout.write(f"  {tp['months']:>2} months")
                for cell in cells:
                    self.stdout.write(f"    {cell['centre']:<60} n={cell['n']:<5} {_cell_text(cell)}")
            annual = m["annual_change"]
            self.stdout.write("  annual change (mixed model)")
            for cell in [*annual["centres"], annual["overall"]]:
                line = f"    {cell['centre']:<60} n={cell['n_children']:<5} {_cell_text(cell, 'estimate')}"
                self.stdout.write(line)

    def _export(self, options: dict[str, Any]) -> None:
        programme = selectors.programme_get(slug=options["programme"])
        if options["output"] == "-":
            n = export_csv(programme=programme, out=self.stdout)
        else:
            try:
                with open(options["output"], "w", newline="", encoding="utf-8") as out:
                    n = export_csv(programme=programme, out=out)
            except OSError as exc:
                raise CommandError(
                    f"{options['output']}: cannot write ({exc.strerror}); give a file you may write to",
                    returncode=EXIT_BAD_INPUT,
                ) from None
        self.stderr.write(f"exported {n} rows" + (" (SYNTHETIC DATA)" if programme.is_synthetic else ""))

    def _import(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"{path}: cannot read ({exc.strerror})", returncode=EXIT_BAD_INPUT) from None
        except UnicodeDecodeError:
            raise CommandError(f"{path}: not UTF-8 text; save the spreadsheet as CSV UTF-8", returncode=2) from None
        centre = Provider.objects.filter(slug=options["centre"]).first()
        if centre is None:
            raise CommandError(f"--centre: no centre called {options['centre']!r}", returncode=EXIT_BAD_INPUT)
        programme = selectors.programme_get(slug=options["programme"])
        n = import_rows(programme=programme, centre=centre, rows=read_csv(text))
        self.stdout.write(f"imported {n} measurements for {centre.name}")

    def _remind(self, options: dict[str, Any]) -> None:
        from carefund.outcomes.tasks import follow_up_remind

        result = follow_up_remind.enqueue()
        self.stdout.write(f"follow-up reminders enqueued ({result.id})")
