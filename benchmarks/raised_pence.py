"""The money a campaign has raised (`selectors.raised_pence`): its one raw SQL statement against the same SUM through
the ORM, called alternately in one process on SQLite, on a campaign grown as benchmarks.campaign_page grows it.

    .venv/bin/python -m benchmarks.raised_pence [--sizes 10,10000] [--repeat 3000]

It is read on every view of the public campaign page and at every gift confirmed to a campaign with a target, so
what the ORM adds to it (building and compiling the query each call) is paid there. Prints the median of each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.campaign_page import grow, setup_django
from benchmarks.giving_webhook import seed_campaign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,10000", help="succeeded gifts at each step (ascending)")
    parser.add_argument("--repeat", type=int, default=3000, help="timed calls of each kind at each size")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-raised-"))
    try:
        setup_django(postgres=False, workdir=workdir)
        run(sizes=[int(s) for s in args.sizes.split(",")], repeat=args.repeat)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(*, sizes: list[int], repeat: int) -> None:
    from django.db import connection
    from django.db.models import F, Sum

    from carefund.campaigns import selectors
    from carefund.campaigns.models import Donation, DonationStatus

    def through_the_orm(campaign_id: int) -> int:
        standing = Donation.objects.filter(campaign_id=campaign_id, status=DonationStatus.SUCCEEDED)
        return int(standing.aggregate(s=Sum(F("amount_pence") - F("refunded_gift_pence")))["s"] or 0)

    print(f"database: {connection.vendor}; load average before: {os.getloadavg()}")
    campaign, done = seed_campaign(), 0
    for size in sizes:
        grow(campaign, start=done, stop=size)
        done = size
        assert through_the_orm(campaign.pk) == selectors.raised_pence(campaign_id=campaign.pk)
        raw: list[float] = []
        orm: list[float] = []
        for _ in range(repeat):
            start = time.perf_counter()
            selectors.raised_pence(campaign_id=campaign.pk)
            middle = time.perf_counter()
            through_the_orm(campaign.pk)
            raw.append(middle - start)
            orm.append(time.perf_counter() - middle)
        print(
            f"{size:,} gifts: raw SQL p50 {statistics.median(raw) * 1e6:.0f} µs, "
            f"ORM p50 {statistics.median(orm) * 1e6:.0f} µs"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
