"""hesim's total hip replacement model as a carefund model file, checked against hesim's PSA means and timed as
hesim's benchmark times it; and the whole `carefund economics run` command beside Python's own start-up.

    .venv/bin/python -m benchmarks.economics_thr [--check-draws 205000] [--repeat 5] [--seed 1] [--command-only]

1. The model (`benchmarks/models/thr.toml`, docs/sources.md "hesim THR") is hesim's `sim_markov_hesim_cohort`:
   its states, the Weibull revision hazard in the time since surgery with its five correlated regression
   coefficients, mortality by age band and sex, its distributions, right-Riemann counting, continuous discounting
   and the prosthesis paid at time 0. Its PSA means over --check-draws draws are compared with hesim's, measured with
   205,000 draws (the issue: standard 512.1, 14.6312 QALYs; NP1 612.4, 14.6755): each difference is printed in
   standard errors of the difference (both runs' Monte Carlo errors, hesim's taken as equal to ours per draw).
2. Time as hesim's benchmark takes it (`proc.time()` around setting the model up, drawing and simulating, then
   summarising): here loading the file, compiling, drawing and running every strategy and the summary of means,
   for 10, 100 and 1,000 draws (median of --repeat), beside hesim's and heemod's times for the same model: the
   figures hesim publishes (vignettes/benchmarks, 2021) and those measured on this machine for issue 21.
3. The whole command in a fresh process (median wall, user and system time and minor page faults of --repeat runs,
   and the least CPU of them): `carefund economics run sdr --json` (deterministic) and `--psa 10000` (also with
   OPENBLAS_NUM_THREADS=1, to show BLAS threads are not the cost), beside `python -c pass` (Python's start-up, the
   floor), `python -c "import numpy"` (the engine's one unavoidable import) and numpy plus pydantic and the model
   file's schema (what reading a file adds, ADR 0064).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MODEL = Path(__file__).resolve().parent / "models" / "thr.toml"
HESIM_MEANS = {"standard": (512.1, 14.6312), "np1": (612.4, 14.6755)}  # 205,000 draws, measured for issue 21
HESIM_DRAWS = 205_000
PUBLISHED = {10: (0.097, 1.5), 100: (0.12, 12.0), 1000: (1.2, 120.0)}  # hesim cohort, heemod (s): vignette, 2021
HERE_1000 = {"hesim": 1.50, "heemod": 191.0}  # 1,000 draws on this machine (issue 21)


def psa_once(draws: int, seed: int) -> tuple[float, float, object]:
    """Load, compile, draw, run, summarise: wall and CPU seconds, and the result."""
    from carefund.economics.engine import compile_model
    from carefund.economics.modelfile import load_model, to_engine_model
    from carefund.economics.psa import run_psa

    wall, cpu = time.perf_counter(), time.process_time()
    compiled = compile_model(to_engine_model(load_model(str(MODEL))))
    result = run_psa(compiled, draws=draws, seed=seed, keep_parameters=False)
    result.summary()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def check(draws: int, seed: int) -> None:
    wall, _, result = psa_once(draws, seed)
    print(f"1. THR model file, {draws:,} PSA draws (seed {seed}, {wall:.2f} s) against hesim's {HESIM_DRAWS:,}:")
    print(f"   {'strategy':<10} {'outcome':<6} {'carefund':>10} {'hesim':>10} {'difference':>11} {'in SE':>7}")
    worst = 0.0
    for k, name in enumerate(result.strategies):  # type: ignore[attr-defined]
        for label, values, ref in (
            ("cost", result.cost[:, k], HESIM_MEANS[name][0]),  # type: ignore[attr-defined]
            ("QALYs", result.qalys[:, k], HESIM_MEANS[name][1]),  # type: ignore[attr-defined]
        ):
            sd = float(np.std(values, ddof=1))
            se = sd * math.sqrt(1 / draws + 1 / HESIM_DRAWS)
            mean = float(values.mean())
            z = (mean - ref) / se
            worst = max(worst, abs(z))
            print(f"   {name:<10} {label:<6} {mean:>10.4f} {ref:>10.4f} {mean - ref:>+11.4f} {z:>+7.2f}")
    print(
        f"   largest difference {worst:.2f} standard errors: {'within' if worst < 3 else 'OUTSIDE'} Monte Carlo error"
    )


def timings(repeat: int, seed: int) -> None:
    print("2. Time as hesim's benchmark takes it (load + compile + draw + run + summary), median of", repeat)
    print(f"   {'draws':>6} {'carefund wall':>14} {'CPU':>8} {'hesim (pub.)':>13} {'heemod (pub.)':>14}")
    for draws in (10, 100, 1000):
        runs = [psa_once(draws, seed)[:2] for _ in range(repeat)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        hesim, heemod = PUBLISHED[draws]
        print(f"   {draws:>6,} {wall:>12.3f} s {cpu:>6.3f} s {hesim:>11.3f} s {heemod:>12.1f} s")
    wall = statistics.median(psa_once(1000, seed)[0] for _ in range(repeat))
    print(
        f"   1,000 draws on this machine: carefund {wall:.3f} s, hesim {HERE_1000['hesim']:.2f} s "
        f"({HERE_1000['hesim'] / wall:.0f}x), heemod {HERE_1000['heemod']:.0f} s ({HERE_1000['heemod'] / wall:,.0f}x)"
    )


def timed(argv: list[str], repeat: int, env: dict[str, str] | None = None) -> tuple[float, float, float, float, float]:
    """Medians of wall, user, system seconds and minor page faults of running argv, and the least CPU (user + system)
    of the runs (on a shared machine the least is the nearest to the work itself)."""
    walls, users, systems, faults = [], [], [], []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "", **(env or {})}  # as installed: byte code cached
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        users.append(after.ru_utime - before.ru_utime)
        systems.append(after.ru_stime - before.ru_stime)
        faults.append(after.ru_minflt - before.ru_minflt)
    least = min(u + s for u, s in zip(users, systems, strict=True))
    median = statistics.median
    return median(walls), median(users), median(systems), median(faults), least


def command(repeat: int) -> None:
    python = sys.executable
    carefund = str(Path(python).with_name("carefund"))
    subprocess.run([python, "-m", "compileall", "-q", "carefund"], check=True)
    psa = [carefund, "economics", "run", "sdr", "--psa", "10000", "--json"]
    rows: list[tuple[str, list[str], dict[str, str]]] = [
        ("python -c pass (Python's start-up: the floor)", [python, "-c", "pass"], {}),
        ('python -c "import numpy" (the engine\'s one import)', [python, "-c", "import numpy"], {}),
        (
            "python: numpy, then pydantic and the file schema",
            [python, "-c", "import numpy; import carefund.economics.modelfile.schema"],
            {},
        ),
        ("carefund economics run sdr --json", [carefund, "economics", "run", "sdr", "--json"], {}),
        ("carefund economics run sdr --psa 10000 --json", psa, {}),
        ("  the same, OPENBLAS_NUM_THREADS=1", psa, {"OPENBLAS_NUM_THREADS": "1"}),
    ]
    print(f"3. The whole command in a fresh process, median of {repeat} (load average {os.getloadavg()[0]:.1f})")
    print(f"   {'':<52} {'wall':>7} {'user':>6} {'sys':>6} {'least CPU':>9} {'faults':>7}  wall / floor")
    floor = None
    for label, argv, env in rows:
        wall, user, system, faults, least = timed(argv, repeat, env)
        floor = floor or wall
        print(
            f"   {label:<52} {wall:>6.3f}s {user:>5.3f}s {system:>5.3f}s {least:>8.3f}s {faults:>7,.0f}  "
            f"{wall / floor:.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check-draws", type=int, default=HESIM_DRAWS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--command-only", action="store_true", help="only part 3, the whole command")
    args = parser.parse_args()
    if not args.command_only:
        check(args.check_draws, args.seed)
        timings(args.repeat, args.seed)
    command(args.repeat)


if __name__ == "__main__":
    main()
