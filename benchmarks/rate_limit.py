"""Cost of one rate-limit check (`web.middleware.is_over_limit`, as the giving page makes it on each POST) with the
counts in the shared database cache ("ratelimit", docs/adr/0031-shared-rate-limits.md) against the same check in
the per-process memory cache it replaced, and against a trivial baseline (one memory-cache read), same run.

    .venv/bin/python -m benchmarks.rate_limit [--checks 2000] [--addresses 50] [--postgres]

What it does: makes a fresh SQLite database in a temporary folder (or, with --postgres, `carefund_bench_ratelimit` at
127.0.0.1:5432) and migrates it; then times `--checks` checks spread over `--addresses` client addresses, each in its
own transaction (autocommit, as a request), for each cache; prints CPU and wall time per check and the ratio to the
baseline. The limit is set high so every check counts and none is refused."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.ledger_post import setup_django, teardown

PG_NAME = "carefund_bench_ratelimit"


def timed(label: str, n: int, call: Callable[[int], object]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        call(i)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:<44} {cpu / n * 1e6:9.1f} µs CPU  {wall / n * 1e6:9.1f} µs wall per check")
    return cpu / n, wall / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--addresses", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-ratelimit-"))
    try:
        setup_django(postgres=args.postgres, workdir=workdir, pg_name=PG_NAME)
        from django.conf import settings
        from django.core.cache import caches
        from django.test import RequestFactory

        from carefund.web.middleware import is_over_limit

        factory = RequestFactory()
        requests = [
            factory.post("/campaigns/x/give/", REMOTE_ADDR=f"198.51.100.{i % 250}") for i in range(args.addresses)
        ]
        memory = caches["default"]
        base, _ = timed("baseline: one memory-cache read", args.checks, lambda i: memory.get(f"k{i % 50}"))
        results = {}
        for cache_name in ("default", "ratelimit"):
            settings.RATELIMIT_USE_CACHE = cache_name
            results[cache_name] = timed(
                f"check with counts in '{cache_name}' cache",
                args.checks,
                lambda i: is_over_limit(requests[i % len(requests)], group="bench", rate="1000000/h"),
            )
        for name, (cpu, _wall) in results.items():
            print(f"ratio to baseline, '{name}': {cpu / base:,.0f}x CPU")
    finally:
        teardown(postgres=args.postgres, workdir=workdir, pg_name=PG_NAME)


if __name__ == "__main__":
    main()
