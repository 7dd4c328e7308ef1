"""Cost of the pure funding rules against the simplest pass over the same data, same run.

    .venv/bin/python -m benchmarks.funding_waterfall [--items 18] [--children 1000] [--repeat 2000]

1. the waterfall (`funding.rules.waterfall`) over a plan of N items (18 = the SDR template), against a baseline
   that only sums the items' costs (one pass, no decisions): the price of deciding and explaining each line;
2. the urgency ranking (`funding.rules.rank_urgency`) over M candidates, against sorting the same candidates by
   their gap alone: the price of the explainable points and reasons.
No database: the rules are pure, so these figures are the rules' own cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        runs.append((time.perf_counter() - start) / repeat)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=18)
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from carefund.funding import rules

    start = dt.date(2015, 4, 22)
    cats = ["assessment", "surgery", "aftercare", "rehabilitation", "orthotics", "travel"]
    items = tuple(
        rules.WaterfallItem(
            i, f"item {i}", cats[i % len(cats)], 100_000 + 7_000 * i, "planned", start + dt.timedelta(days=30 * i)
        )
        for i in range(args.items)
    )
    inp = rules.WaterfallInput(
        items, 3_000_000, 200_000, rules.ProgrammeCover("CtE", frozenset({"surgery"})), contingency_basis_points=1000
    )
    t_waterfall = best_of(lambda: rules.waterfall(inp), args.repeat)
    t_sum = best_of(lambda: sum(i.cost_pence for i in items), args.repeat)
    print(
        f"waterfall, {args.items} items: {t_waterfall * 1e6:.1f} us; baseline sum of costs {t_sum * 1e6:.2f} us; "
        f"ratio {t_waterfall / t_sum:.1f}x"
    )

    today = dt.date(2017, 7, 3)
    cands = [
        rules.UrgencyCandidate(
            child_id=i, name=f"C{i}", eligible=i % 7 != 0, ineligible_reason="GMFCS IV",
            gap_pence=(i * 37_123) % 5_000_000, ages_out_on=today + dt.timedelta(days=(i * 13) % 900),
            surgery_booked_on=today + dt.timedelta(days=(i * 7) % 400),
            waiting_since=today - dt.timedelta(days=(i * 11) % 1000),
        )
        for i in range(args.children)
    ]  # fmt: skip
    reps = max(1, args.repeat // 100)
    t_rank = best_of(lambda: rules.rank_urgency(cands, today=today), reps)
    t_sort = best_of(lambda: sorted(cands, key=lambda c: -c.gap_pence), reps)
    print(
        f"urgency ranking, {args.children} children: {t_rank * 1e3:.2f} ms; baseline sort by gap "
        f"{t_sort * 1e3:.3f} ms; ratio {t_rank / t_sort:.1f}x"
    )


if __name__ == "__main__":
    main()
