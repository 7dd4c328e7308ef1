"""`carefund economics run MODEL_OR_PATH [--psa N] [--seed S] [--evppi NAME[,NAME]]... [--json] [--report DIR]`.

Pure: no Django. `carefund.manage.main` sends `economics run` here before Django is imported (the engine needs no
web framework; Django's start-up was about 2.6 s of a command whose model runs in milliseconds), unless an option
that needs the database is given (`needs_django`): then the Django command (`management/commands/economics.py`)
runs, sharing this module's arguments and `execute`, with a `transform` of the model file (e.g. evidence from the
outcomes registry). Numpy and the engine are imported when the run starts; scipy only when a draw needs it.

Bad input (a missing file, a malformed model, a negative draw count) prints one message naming the file/key and
what is allowed, and exits with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from carefund.economics.modelfile import ModelSpec
    from carefund.economics.report import RunResult

EXIT_BAD_INPUT = 2
MAX_PSA_DRAWS = 1_000_000  # the most PSA draws a run may ask for (report.py checks it too)
# glibc's mallopt parameters (malloc.h) and the values the command sets for a large PSA (`keep_heap_for_psa`)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
HEAP_TOP_PAD = 64 * 2**20
HEAP_TRIM_THRESHOLD = 256 * 2**20
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value on 64-bit (HEAP_MAX_SIZE / 2)
DJANGO_OPTIONS = ("--evidence",)
"""Options of `economics run` that need the database: given one, the Django command runs instead."""

Transform = Callable[["ModelSpec"], "ModelSpec"]


class CommandFailed(Exception):
    """Bad input the command reports in one line and exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def needs_django(argv: Sequence[str]) -> bool:
    """Whether `economics run` arguments include an option that needs Django and the database."""
    return any(a == opt or a.startswith(opt + "=") for a in argv for opt in DJANGO_OPTIONS)


def keep_heap_for_psa() -> bool:
    """Ask glibc to keep the memory of a large PSA's temporaries in this (short-lived) command process.

    A PSA chunk allocates arrays of a few hundred KiB to a few MiB and frees them again, thousands of times. Once any
    mallopt setting is made glibc stops raising its mmap threshold by itself, so with only a top pad (the setting
    before 2026-12-07) each such array could be a fresh `mmap`, faulted in again. Measured 2026-12-07 for 10,000 SDR
    draws (docs/benchmarks.md): at 04:28, with only the top pad, 151,000 page faults and 0.5 s of system time (the
    lead saw 0.41 to 0.53 s of system time at 04:23); with these settings 10,000 faults and 0.05 s in every run; at
    05:00 the top pad alone gave 14,000 faults and 0.06 to 0.09 s, glibc's defaults 80,000 and 0.28 s. The cost of
    the old setting depended on the machine's state; with these it did not in any run. Same results, same peak RSS
    (61 to 63 MiB): arrays up to 32 MiB come from the heap (M_MMAP_THRESHOLD), the heap grows in 64 MiB steps
    (M_TOP_PAD) and is given back only when 256 MiB are free at its top (M_TRIM_THRESHOLD). Only the command does
    this: it is process-wide, and the web and task processes are long-lived. Returns whether every setting was
    applied (False on a C library without mallopt)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
        settings = (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD),
            (M_TOP_PAD, HEAP_TOP_PAD),
        )
        return all([bool(mallopt(param, value)) for param, value in settings])
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


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The arguments of `economics run` (both entry points)."""
    run.add_argument(
        "model", metavar="MODEL_OR_PATH", help="a shipped model name (e.g. sdr) or a path to a .toml model file"
    )
    run.add_argument("--psa", type=draw_count, default=0, metavar="N", help="probabilistic sensitivity analysis draws")
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


def execute(options: dict[str, Any], stdout: TextIO, stderr: TextIO, *, transform: Transform | None = None) -> None:
    """Load, (transform,) run and print; raises CommandFailed on bad input."""
    from carefund.economics.modelfile import ModelFileError, load_model

    try:
        spec = load_model(options["model"])
        if transform is not None:
            spec = transform(spec)
        result = _run(spec, options, stderr)
    except ModelFileError as exc:
        raise CommandFailed(str(exc)) from None
    if options["report"] is not None:
        from carefund.economics.report import write_report

        try:
            written = write_report(result, options["report"])
        except OSError as exc:
            raise CommandFailed(
                f"{options['report']}: cannot write the report ({exc.strerror}); give a directory you may write to"
            ) from None
        stderr.write(f"report written: {written[-1]}\n")
    if options["json"]:
        stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        _print_table(result, stdout)


def _run(spec: ModelSpec, options: dict[str, Any], stderr: TextIO) -> RunResult:
    from carefund.economics.report import run_model

    draws = options["psa"]
    kwargs: dict[str, Any] = {
        "psa": draws,
        "seed": options["seed"],
        "tornado": options["report"] is not None,
        "evppi": tuple(options["evppi"]),
    }
    if draws >= 10_000:
        keep_heap_for_psa()
    if draws and stderr.isatty():
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("PSA draws", total=draws)
            return run_model(spec, progress=lambda done, _t: bar.update(task, completed=done), **kwargs)
    return run_model(spec, **kwargs)


def _print_table(result: RunResult, out: TextIO) -> None:
    from carefund.economics.report import STATUS_CODES, icer_text

    spec = result.spec
    lines = [spec.title or spec.name, f"{'strategy':<20} {'cost':>14} {'QALYs':>9} {'life years':>11}"]
    lines += [f"{s.name:<20} {s.cost:>14,.2f} {s.qalys:>9.4f} {s.life_years:>11.4f}" for s in result.strategies]
    lines += [f"{r.name:<20} {STATUS_CODES[r.status]:<4} {icer_text(r)}" for r in result.incremental]
    if result.psa is not None:
        lines.append(f"PSA, {result.psa_iterations:,} draws (seed {result.seed}): mean (95% interval)")
        for row in result.psa.summary().strategies:
            c, q, ly = row.cost, row.qalys, row.life_years
            lines.append(
                f"{row.name:<20} cost {c.mean:,.2f} ({c.low:,.2f} to {c.high:,.2f}); QALYs {q.mean:.4f} "
                f"({q.low:.4f} to {q.high:.4f}); life years {ly.mean:.4f} ({ly.low:.4f} to {ly.high:.4f})"
            )
        ref = result.reference_strategy_name()
        for t in spec.conventions.thresholds:
            p = result.probability_cost_effective(t)[ref]
            lines.append(f"P({ref} cost-effective at £{t:,.0f}/QALY) = {p:.3f}; EVPI per person £{result.evpi(t):,.2f}")
        for label, by_t in result.evppi.items():
            cells = ", ".join(f"£{float(t):,.0f}: £{v:,.2f}" for t, v in by_t.items())
            lines.append(f"EVPPI per person of {label}: {cells}")
    out.write("\n".join(lines) + "\n")


def main(argv: Sequence[str]) -> int:
    """`economics run ARGS` without Django; returns the exit code (messages already printed)."""
    parser = argparse.ArgumentParser(
        prog="carefund economics run", description="Run a cost-effectiveness model and print its results."
    )
    add_run_arguments(parser)
    options = vars(parser.parse_args(list(argv)))  # exits 2 with argparse's message on bad arguments
    try:
        execute(options, sys.stdout, sys.stderr)
    except CommandFailed as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.code
    return 0
