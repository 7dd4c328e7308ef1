"""`carefund economics run MODEL_OR_PATH [--psa N] [--seed S] [--evppi NAME[,NAME]]... [--json] [--report DIR]`: run a
cost-effectiveness model (through the engine: `report.run_model`).

Thin: parse, load the model file, run, print. Bad input (a missing file, a malformed model, a negative draw count)
prints one message naming the file/key and what is allowed, and exits with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.economics.modelfile import ModelFileError, load_model
from carefund.economics.report import MAX_PSA_DRAWS, STATUS_CODES, RunResult, icer_text, run_model, write_report

EXIT_BAD_INPUT = 2
M_TOP_PAD = -2  # glibc's mallopt parameter (malloc.h)
HEAP_TOP_PAD = 64 * 2**20


def keep_heap_for_psa() -> bool:
    """Ask glibc to grow and trim the heap in steps of 64 MiB for this (short-lived) command process.

    With glibc's defaults the first large PSA in a process spends about half its time growing, trimming and
    re-faulting the heap for each chunk's temporaries (4.5 s of CPU for 100,000 SDR draws against 2.1 s for a second
    run; docs/benchmarks.md); with this setting the first run is as fast as later ones, and peak RSS did not change.
    Only the command does this: it is process-wide, and the web and task processes reach the fast state after their
    first large run anyway. Returns whether the setting was applied (False on a C library without mallopt)."""
    try:
        return bool(ctypes.CDLL(None).mallopt(M_TOP_PAD, HEAP_TOP_PAD))
    except (OSError, AttributeError):
        return False


def draw_count(raw: str) -> int:
    """argparse type for --psa: a whole number of draws from 0 to MAX_PSA_DRAWS."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not a whole number; allowed: a whole number of draws from 0 to {MAX_PSA_DRAWS:,}"
        ) from None
    if not 0 <= value <= MAX_PSA_DRAWS:
        raise argparse.ArgumentTypeError(f"{value} is out of range; allowed: 0 to {MAX_PSA_DRAWS:,} draws")
    return value


def seed_value(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number; allowed: a whole number 0 or more") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; allowed: a whole number 0 or more")
    return value


class Command(BaseCommand):
    help = "Cost-effectiveness models: `run MODEL_OR_PATH` (a shipped model such as sdr, or a .toml file)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        run = sub.add_parser(
            "run",
            help="run a model and print its results",
            called_from_command_line=getattr(parser, "called_from_command_line", None),
        )
        run.add_argument(
            "model", metavar="MODEL_OR_PATH", help="a shipped model name (e.g. sdr) or a path to a .toml model file"
        )
        run.add_argument(
            "--psa", type=draw_count, default=0, metavar="N", help="probabilistic sensitivity analysis draws"
        )
        run.add_argument(
            "--seed", type=seed_value, default=None, metavar="S", help="random seed (reproduces a PSA exactly)"
        )
        run.add_argument(
            "--evppi",
            action="append",
            default=[],
            metavar="NAME[,NAME]",
            help="EVPPI for this group of parameters (or Dirichlet groups) from the PSA; repeat for several groups",
        )
        run.add_argument("--json", action="store_true", help="print JSON instead of a table")
        run.add_argument(
            "--report", type=Path, default=None, metavar="DIR", help="write an HTML report with its plots here"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            spec = load_model(options["model"])
            result = self._run(spec, options)
        except ModelFileError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from None
        if options["report"] is not None:
            try:
                written = write_report(result, options["report"])
            except OSError as exc:
                raise CommandError(
                    f"{options['report']}: cannot write the report ({exc.strerror}); give a directory you may write to",
                    returncode=EXIT_BAD_INPUT,
                ) from None
            self.stderr.write(f"report written: {written[-1]}")
        if options["json"]:
            self.stdout.write(json.dumps(result.to_json(), indent=2))
        else:
            self._print_table(result)

    def _run(self, spec: Any, options: dict[str, Any]) -> RunResult:
        draws = options["psa"]
        kwargs: dict[str, Any] = {
            "psa": draws,
            "seed": options["seed"],
            "tornado": options["report"] is not None,
            "evppi": tuple(options["evppi"]),
        }
        if draws >= 10_000:
            keep_heap_for_psa()
        if draws and sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("PSA draws", total=draws)
                return run_model(spec, progress=lambda done, _t: bar.update(task, completed=done), **kwargs)
        return run_model(spec, **kwargs)

    def _print_table(self, result: RunResult) -> None:
        spec = result.spec
        self.stdout.write(spec.title or spec.name)
        self.stdout.write(f"{'strategy':<20} {'cost':>14} {'QALYs':>9} {'life years':>11}")
        for s in result.strategies:
            self.stdout.write(f"{s.name:<20} {s.cost:>14,.2f} {s.qalys:>9.4f} {s.life_years:>11.4f}")
        for r in result.incremental:
            self.stdout.write(f"{r.name:<20} {STATUS_CODES[r.status]:<4} {icer_text(r)}")
        if result.psa_iterations:
            ref = result.reference_strategy_name()
            for t in spec.conventions.thresholds:
                p = result.probability_cost_effective(t)[ref]
                self.stdout.write(
                    f"P({ref} cost-effective at £{t:,.0f}/QALY) = {p:.3f}  ({result.psa_iterations:,} draws)"
                )
            for label, by_t in result.evppi.items():
                cells = ", ".join(f"£{float(t):,.0f}: £{v:,.2f}" for t, v in by_t.items())
                self.stdout.write(f"EVPPI per person of {label}: {cells}")
