"""PSA of the shipped SDR model file (`carefund/economics/models/sdr.toml`) through `report.run_model` (the model
file converted by `to_engine_model` and run by the engine's `run_psa`), against the engine evaluating the same model
one draw at a time (the baseline a per-draw loop gives), same run.

    .venv/bin/python -m benchmarks.economics_modelfile [--draws 100000] [--baseline-draws 200]

Prints: seconds for --draws draws through `report.run_model`, seconds per draw one at a time (--baseline-draws of
them), the speed-up per draw, and the peak memory (tracemalloc) at 10,000 and at 50,000 draws to show that working
memory does not grow with the draws (only the (draws x strategies) result arrays do).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from carefund.economics.engine import compile_model
from carefund.economics.modelfile import load_model, to_engine_model
from carefund.economics.psa import draw_parameters
from carefund.economics.report import run_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--baseline-draws", type=int, default=200)
    args = parser.parse_args()
    spec = load_model("sdr")
    run_model(spec, psa=100, seed=0)  # warm up

    t = time.perf_counter()
    run_model(spec, psa=args.draws, seed=1)
    vectorised = time.perf_counter() - t

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

    us = vectorised / args.draws * 1e6
    print(f"SDR model file, {args.draws:,} PSA draws through report.run_model: {vectorised:.2f} s ({us:.1f} us/draw)")
    print(f"baseline, the engine one draw at a time ({args.baseline_draws} draws): {per_draw * 1e3:.2f} ms/draw")
    print(f"ratio (baseline per draw / vectorised per draw): {per_draw / (vectorised / args.draws):.0f}x")
    print(f"peak traced memory: {peaks[10_000]:.1f} MB at 10,000 draws, {peaks[50_000]:.1f} MB at 50,000 draws")


if __name__ == "__main__":
    main()
