"""Speed and memory of the cost-effectiveness engine's probabilistic sensitivity analysis (PSA).

    .venv/bin/python -m benchmarks.economics_psa [--repeat 7] [--sdr-draws 100000] [--chunk N]

What it measures, each figure beside a baseline from the same run:
1. 1,000 PSA draws of a 5-state, 60-cycle, 2-strategy cohort model (`examples.benchmark_model`, the size of the
   hesim/heemod benchmark: hesim 1.2 s, heemod about two minutes): the vectorised `psa.run_psa` (median of
   --repeat runs, parameter sampling included) against the same engine run one draw at a time in a Python loop
   over the same 1,000 parameter sets (the ratio is the gain from vectorising over draws).
2. 100,000 draws of the SDR model (`models/sdr.toml` through `modelfile.to_engine_model`; if that cannot be loaded,
   `benchmark_model(cycles=94)` stands in and the output says so), against the one-draw-at-a-time loop over 200
   draws, scaled per draw; then the same 100,000 draws through `report.run_model`, the only path the command, the
   page and the API use (model file -> engine), to show its overhead over the bare `run_psa`.
3. Memory: each PSA is run in a fresh subprocess for 10,000 and 100,000 draws, reporting the peak memory traced by
   tracemalloc (numpy reports its buffers to it) and the peak resident set size, with the parameter draws kept
   (needed for EVPPI) and without. The working set is bounded by the chunk size; what grows is only the results.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

from carefund.economics.engine import CompiledModel, compile_model
from carefund.economics.examples import benchmark_model
from carefund.economics.model import Model
from carefund.economics.psa import draw_parameters, run_psa


def sdr_model() -> tuple[Model, str]:
    try:
        from carefund.economics.modelfile import load_model, to_engine_model

        model = to_engine_model(load_model("sdr"))
        return model, "models/sdr.toml"
    except Exception as exc:  # the stand-in is reported, never hidden
        return benchmark_model(cycles=94), f"benchmark_model(cycles=94) (SDR model unavailable: {exc})"


def per_draw_loop(compiled: CompiledModel, draws: dict[str, np.ndarray], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        compiled.evaluate({k: v[i : i + 1] for k, v in draws.items()})
    return time.perf_counter() - start


def child(which: str, draws: int, chunk: int | None, keep: bool) -> None:
    model = sdr_model()[0] if which == "sdr" else benchmark_model()
    compiled = compile_model(model)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    run_psa(compiled, draws=draws, seed=1, chunk_size=chunk, keep_parameters=keep)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps({"seconds": seconds, "peak_traced": peak, "max_rss": rss_kb * 1024, "rss_before": rss_before * 1024})
    )


def in_subprocess(which: str, draws: int, chunk: int | None, keep: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.economics_psa", "--child", which, str(draws), str(chunk or 0)]
    cmd.append(str(int(keep)))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--sdr-draws", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=None, help="draws per chunk (default: run_psa's own choice)")
    parser.add_argument("--child", nargs=4, metavar=("MODEL", "DRAWS", "CHUNK", "KEEP"))
    args = parser.parse_args()
    if args.child:
        which, draws, chunk, keep = args.child
        child(which, int(draws), int(chunk) or None, bool(int(keep)))
        return

    # 1. the 5-state, 60-cycle model, 1,000 draws
    bench = compile_model(benchmark_model())
    run_psa(bench, draws=1000, seed=1)  # warm-up
    times, cpu = [], []
    for r in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run_psa(bench, draws=1000, seed=r)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    vectorised, vectorised_cpu = statistics.median(times), statistics.median(cpu)
    start_cpu = time.process_time()
    loop = per_draw_loop(bench, draw_parameters(benchmark_model(), 1000, seed=1), 1000)
    loop_cpu = time.process_time() - start_cpu
    print("1. 1,000 PSA draws, 5 states x 60 cycles x 2 strategies (benchmark_model)")
    print(
        f"   vectorised run_psa (median of {args.repeat}, sampling included): {vectorised * 1000:.1f} ms wall, "
        f"{vectorised_cpu * 1000:.1f} ms CPU"
    )
    print(f"   baseline, one draw at a time: {loop * 1000:.0f} ms wall, {loop_cpu * 1000:.0f} ms CPU")
    print(
        f"   ratio: {loop / vectorised:.0f}x faster (CPU {loop_cpu / vectorised_cpu:.0f}x); goal < 50 ms: "
        f"{'met' if vectorised < 0.05 else 'missed'}"
    )

    # 2. the SDR model, 100,000 draws
    model, label = sdr_model()
    compiled = compile_model(model)
    chunk = args.chunk or max(100, min(5000, 50_000 // compiled.T))  # run_psa's default, shown in the output
    run_psa(compiled, draws=min(2000, args.sdr_draws), seed=1, chunk_size=chunk)  # warm-up
    start, start_cpu = time.perf_counter(), time.process_time()
    run_psa(compiled, draws=args.sdr_draws, seed=1, chunk_size=chunk)
    big, big_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    sample = draw_parameters(model, 200, seed=2)
    per_draw = per_draw_loop(compiled, sample, 200) / 200
    print(
        f"2. {args.sdr_draws:,} PSA draws of {label}: {len(model.states)} states x {model.cycles} cycles x "
        f"{len(model.strategies)} strategies, chunks of {chunk:,}"
    )
    print(f"   vectorised: {big:.2f} s wall ({big / args.sdr_draws * 1e6:.0f} us/draw), {big_cpu:.2f} s CPU")
    print(f"   baseline, one draw at a time: {per_draw * 1000:.2f} ms/draw (200 draws)")
    print(
        f"   ratio: {per_draw / (big / args.sdr_draws):.0f}x faster per draw; goal < 5 s: "
        f"{'met' if big < 5 else 'missed'}"
    )

    # 2b. the whole model-file path the command takes (`report.run_model`: to_engine_model, compile, base case,
    # incremental analysis and run_psa): its overhead over the bare run_psa above
    from carefund.economics import report
    from carefund.economics.modelfile import load_model

    spec = load_model("sdr")
    start, start_cpu = time.perf_counter(), time.process_time()
    report.run_model(spec, psa=args.sdr_draws, seed=1)
    whole, whole_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(
        f"   the command's path, report.run_model(sdr, psa={args.sdr_draws:,}): {whole:.2f} s wall, {whole_cpu:.2f} s "
        f"CPU ({whole / big:.2f}x the bare run_psa); goal < 5 s: {'met' if whole < 5 else 'missed'}"
    )

    # 3. memory, each in a fresh process
    print("3. memory (fresh process each): draws, keep_parameters -> peak traced, peak RSS (growth over the RSS after")
    print("   imports and compiling), seconds")
    for keep in (True, False):
        for n in (10_000, 100_000):
            m = in_subprocess("sdr", n, args.chunk, keep)
            print(
                f"   {n:>7,} draws, keep={keep!s:5}: {m['peak_traced'] / 2**20:7.1f} MiB traced, "
                f"{m['max_rss'] / 2**20:7.1f} MiB RSS (+{(m['max_rss'] - m['rss_before']) / 2**20:.1f}), "
                f"{m['seconds']:.2f} s"
            )


if __name__ == "__main__":
    main()
