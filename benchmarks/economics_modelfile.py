"""PSA of the shipped SDR model file (`carefund/economics/models/sdr.toml`) through `report.run_model` (the model
file converted by `to_engine_model` and run by the engine's `run_psa`), against the engine evaluating the same model
one draw at a time (the baseline a per-draw loop gives), same run.

    .venv/bin/python -m benchmarks.economics_modelfile [--draws 100000] [--baseline-draws 200]

Prints: seconds (wall, CPU) for --draws draws through `report.run_model`, each in a fresh process as the command
runs it: first with glibc's default heap settings, then with the command's `keep_heap_for_psa()` (and a second run
in that process); seconds per draw one at a time (--baseline-draws of them) and the speed-up per draw; and the peak
memory (tracemalloc) at 10,000 and at 50,000 draws to show that working memory does not grow with the draws (only
the (draws x strategies) result arrays do).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc

from carefund.economics.engine import compile_model
from carefund.economics.modelfile import load_model, to_engine_model
from carefund.economics.psa import draw_parameters
from carefund.economics.report import run_model


def child(draws: int, tune: bool) -> None:
    if tune:
        from carefund.economics.cli import keep_heap_for_psa

        keep_heap_for_psa()
    spec = load_model("sdr")
    runs = []
    for _ in range(2):
        t, cpu = time.perf_counter(), time.process_time()
        run_model(spec, psa=draws, seed=1)
        runs.append((time.perf_counter() - t, time.process_time() - cpu))
    print(json.dumps(runs))


def fresh(draws: int, tune: bool) -> list[tuple[float, float]]:
    cmd = [sys.executable, "-m", "benchmarks.economics_modelfile", "--child", str(draws), str(int(tune))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    runs: list[tuple[float, float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--baseline-draws", type=int, default=200)
    parser.add_argument("--child", nargs=2, metavar=("DRAWS", "TUNE"))
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), bool(int(args.child[1])))
        return

    default = fresh(args.draws, tune=False)
    tuned = fresh(args.draws, tune=True)

    spec = load_model("sdr")
    model = to_engine_model(spec)
    compiled = compile_model(model)
    draws = draw_parameters(model, args.baseline_draws, seed=2)
    t = time.perf_counter()
    for i in range(args.baseline_draws):
        compiled.evaluate({k: v[i : i + 1] for k, v in draws.items()})
    per_draw = (time.perf_counter() - t) / args.baseline_draws

    peaks = {}
    for n in (10_000, 50_000):
        tracemalloc.start()
        run_model(spec, psa=n, seed=3)
        peaks[n] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()

    print(f"SDR model file, {args.draws:,} PSA draws through report.run_model, each in a fresh process:")
    for label, runs in (("glibc defaults", default), ("with keep_heap_for_psa (the command)", tuned)):
        (w1, c1), (w2, c2) = runs
        print(
            f"   {label}: first run {w1:.2f} s wall ({w1 / args.draws * 1e6:.1f} us/draw), {c1:.2f} s CPU; "
            f"second run {w2:.2f} s wall, {c2:.2f} s CPU; goal < 5 s: {'met' if w1 < 5 else 'missed'}"
        )
    best = tuned[0][0]
    print(f"baseline, the engine one draw at a time ({args.baseline_draws} draws): {per_draw * 1e3:.2f} ms/draw")
    print(f"ratio (baseline per draw / the command's first run per draw): {per_draw / (best / args.draws):.0f}x")
    print(f"peak traced memory: {peaks[10_000]:.1f} MB at 10,000 draws, {peaks[50_000]:.1f} MB at 50,000 draws")


if __name__ == "__main__":
    main()
