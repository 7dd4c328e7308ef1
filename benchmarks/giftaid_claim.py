"""Making and exporting a Gift Aid claim as it grows: 10,000 then 100,000 declared gifts (goal: 100,000 made and
exported in under 30 seconds on PostgreSQL on the 2-core machine, memory flat as it grows).

    .venv/bin/python -m benchmarks.giftaid_claim [--sizes 10000,100000] [--postgres [--pg-name NAME]]

What it does:
1. makes a fresh SQLite database in a temporary folder (or, with --postgres, the database `carefund_i20` or the one
   --pg-name names, dropped and made again) and migrates it;
2. for each size N: writes N confirmed gifts to 100 children's campaigns in bulk, each with its own declaration
   (one donor in ten has a digit in the last name, so their gifts of £20 or less are aggregated), and one gift in
   fifty with no declaration (left out);
3. times `claims.claim_create` (every gift assessed, rows and aggregated lines written) and `schedule.export_ods`
   (every row checked against HMRC's validator, then N/1,000 files written), and, as the baseline in the same run,
   one plain read of the same N gifts (`values_list` over the gifts, streamed); prints the seconds, the ratio to the
   baseline, this process's CPU seconds (the machine is shared), and the peak resident memory of the stretch (Linux
   VmHWM, reset before it with /proc/self/clear_refs).

Memory is flat when the peak at 100,000 is about the peak at 10,000 (the claim is read and written in chunks). Before
the peak is reset, the memory the seeding freed is handed back to the system (`gc.collect()`, then glibc's
`malloc_trim`): the seed's bulk_create of N gifts leaves malloc holding freed memory (17 MB at 10,000 gifts, 23 MB
at 30,000), which the resident size, and so the stretch's peak, would otherwise count though the claim never uses it.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import datetime as dt
import gc
import os
import tempfile
import time
from pathlib import Path

from benchmarks.ledger_post import setup_django, teardown

PG_NAME = "carefund_i20"
CHILDREN = 100


def _release_freed() -> None:
    """Hand back to the system the memory the seeding freed (Python's garbage, then glibc's free lists); a no-op
    where the C library is not glibc."""
    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed(n: int, *, offset: int, campaigns: list, day: dt.date) -> None:  # type: ignore[type-arg]
    from django.utils import timezone

    from carefund.campaigns.models import Donation
    from carefund.giftaid.models import Declaration, donor_key_for

    at = timezone.make_aware(dt.datetime(day.year, day.month, day.day, 12))
    chunk = 5_000
    for lo in range(0, n, chunk):
        gifts = Donation.objects.bulk_create(
            Donation(
                campaign=campaigns[i % len(campaigns)],
                amount_pence=500 + (i * 37) % 9_500,
                status="succeeded",
                kind="cheque",
                donor_name=f"Ann Smith{'1' if i % 10 == 0 else ''}",
                donor_email=f"donor{offset + i}@example.org",
                receipt_token=f"bench-{offset + i}",
                created_at=at,
                succeeded_at=at,
                received_on=day,
            )
            for i in range(lo, min(n, lo + chunk))
        )
        Declaration.objects.bulk_create(
            Declaration(
                title="Mrs",
                first_name="Ann",
                last_name="Smith1" if (g.pk % 10 == 0) else "Smith",
                house_name_or_number="12",
                address="Acacia Avenue, Sheffield",
                postcode="S19 2BD",
                email=g.donor_email,
                donor_key=donor_key_for(g.donor_email),
                scope="this_gift",
                declared_on=day,
                donation=g,
                created_at=at,
            )
            for g in gifts
            if g.pk % 50 != 0
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--pg-name", default=PG_NAME, help=f"the PostgreSQL database to use (default {PG_NAME})")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-giftaid-"))
    try:
        setup_django(postgres=args.postgres, workdir=workdir, pg_name=args.pg_name)
        from django.contrib.auth import get_user_model

        from carefund.campaigns.models import Campaign, Donation
        from carefund.care.models import Child
        from carefund.core import clock
        from carefund.giftaid.claims import claim_create
        from carefund.giftaid.schedule import export_ods

        officer = get_user_model().objects.create_superuser("bench", "bench@example.org", "x")
        campaigns = []
        for c in range(CHILDREN):
            child = Child.objects.create(
                first_name="Child",
                last_name=f"C{c}",
                date_of_birth=dt.date(2020, 1, 1),
                home_postcode="S19 2BD",
                nhs_number_encrypted="x",
                nhs_number_hash=f"bench-{c}",
                nhs_number_last3="000",
                diagnosis="spastic diplegia",
                gmfcs_level=2,
                publicity_consent=True,
            )
            campaigns.append(
                Campaign.objects.create(child=child, slug=f"bench-{c}", title=f"C{c}", created_at=clock.now())
            )
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(f"Gift Aid claim, {backend}: make the claim and export HMRC's schedule (ODS, 1,000 rows a file)")
        print(
            f"{'gifts':>8} {'baseline read s':>16} {'create s':>9} {'export s':>9} {'total s':>8} "
            f"{'ratio':>7} {'files':>6} {'peak MB':>8}"
        )
        offset = 0
        day = clock.today() - dt.timedelta(days=30)
        for n in sizes:
            seed(n, offset=offset, campaigns=campaigns, day=day)
            offset += n
            period_end = day
            t0 = time.perf_counter()
            rows = 0
            for _ in (
                Donation.objects.filter(received_on=day)
                .values_list("id", "amount_pence", "donor_email", "donor_name")
                .iterator(chunk_size=2_000)
            ):
                rows += 1
            baseline = time.perf_counter() - t0
            _release_freed()
            measured = _reset_peak()
            t0, c0 = time.perf_counter(), time.process_time()
            claim = claim_create(period_end=period_end, actor=officer)
            t1, c1 = time.perf_counter(), time.process_time()
            with tempfile.TemporaryDirectory() as out:
                files = export_ods(claim=claim, out_dir=Path(out), today=clock.today(), actor=officer)
            t2, c2 = time.perf_counter(), time.process_time()
            peak = _peak_mb() if measured else float("nan")
            total = t2 - t0
            print(
                f"{n:>8} {baseline:>16.2f} {t1 - t0:>9.2f} {t2 - t1:>9.2f} {total:>8.2f} {total / baseline:>7.1f} "
                f"{len(files):>6} {peak:>8.0f}"
            )
            print(
                f"         this process's CPU: create {c1 - c0:.2f} s, export {c2 - c1:.2f} s (not the database's); "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            print(
                f"         claim {claim.pk}: {claim.gifts_count} gifts, {claim.lines_count} lines "
                f"({claim.aggregated_lines} aggregated), {rows} gifts read by the baseline"
            )
            day = day + dt.timedelta(days=1)  # the next size's gifts are new, on a later day
    finally:
        teardown(postgres=args.postgres, workdir=workdir, pg_name=args.pg_name)


if __name__ == "__main__":
    main()
