"""The public campaign page's time as its gifts grow, against the trivial `/health/` view, same process, same run.

    .venv/bin/python -m benchmarks.campaign_page [--sizes 10,1000,10000] [--repeat 200] [--postgres]

What it does, in one process with Django's test Client (no server, no network):
1. makes a fresh SQLite database in a temporary folder (or, with --postgres, a fresh PostgreSQL database
   `carefund_bench_campaign_page` at 127.0.0.1:5432) and migrates it;
2. registers one child and publishes one campaign through the services, then grows the campaign to each size in
   turn (10, 1,000, 10,000 succeeded gifts by default). The gifts are written in bulk, shaped as the campaigns and
   giftaid services leave them (the page reads only these rows): online card gifts and some offline ones (cash,
   cheques, a bucket collection), a tenth with an approved message, one in twenty anonymous, a fifth of the
   donors giving twice, a third of the gifts with a Gift Aid declaration of one of the three scopes, and one
   pending and one refunded gift per hundred (which must not count);
3. at each size, times `GET /campaigns/<slug>/` (the page as the public sees it) and `GET /health/` alternately:
   *cold*, the cache cleared before every request (every figure computed, as on the first view after the time to
   live runs out), and *warm* (the page's cached parts reused; the money raised is read live every time); prints
   the median and the 99th percentile of each, their ratios to `/health/`, and the page's database queries;
4. checks the page shows the exact money raised (the sum of the succeeded gifts, to the penny) and the Gift Aid to
   come (`gift_aid_due_for_campaign`) at every size.

The machine is shared: repeat the run and report the range.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.giving_webhook import seed_campaign

PG_NAME = "carefund_bench_campaign_page"


def setup_django(*, postgres: bool, workdir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["CAREFUND_VAR_DIR"] = str(workdir)
    os.environ["DEBUG"] = "0"
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    if postgres:
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", PG_NAME], check=True)
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", PG_NAME], check=True)
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{PG_NAME}"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The pages' static files as in production (hashed names from the manifest), collected into the temporary
    # folder rather than the checkout's shared staticfiles/, which other runs may be serving.
    settings.STATIC_ROOT = workdir / "static"
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def grow(campaign: Any, *, start: int, stop: int) -> None:
    """Add gifts number `start` to `stop - 1` (succeeded, plus a pending and a refunded one per hundred) and their
    Gift Aid declarations, in bulk."""
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from carefund.campaigns.models import Donation, DonationKind, DonationStatus, MessageStatus
    from carefund.giftaid import rules
    from carefund.giftaid.models import Declaration, donor_key_for

    scopes = list(rules.Scope)
    first_day = dt.date(2026, 1, 1)
    gifts: list[Donation] = []
    for i in range(start, stop):
        day = first_day + dt.timedelta(days=i % 300)
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(12, i % 60)))
        donor = i if i % 5 else i // 5  # a fifth of the gifts come from a donor who gave before
        kind = (
            (DonationKind.CASH, DonationKind.CHEQUE, DonationKind.BUCKET_COLLECTION)[i % 3] if i % 25 == 7 else "card"
        )
        status = DonationStatus.SUCCEEDED
        if i % 100 == 50:
            status = DonationStatus.PENDING
        elif i % 100 == 51:
            status = DonationStatus.REFUNDED
        has_message = i % 10 == 3
        gifts.append(
            Donation(
                campaign=campaign,
                amount_pence=500 + (i % 50) * 100,
                status=status,
                kind=kind,
                gateway="test" if kind == "card" else "",
                donor_name=f"Donor{donor} Smith",
                donor_email=f"donor{donor}@example.org",
                is_anonymous=i % 20 == 9,
                message="Good luck James!" if has_message else "",
                message_status=MessageStatus.APPROVED if has_message else MessageStatus.NONE,
                receipt_token=f"bench-{i}-{os.urandom(8).hex()}",
                created_at=moment,
                succeeded_at=moment if status != DonationStatus.PENDING else None,
                received_on=day if status != DonationStatus.PENDING else None,
            )
        )
    made = Donation.objects.bulk_create(gifts, batch_size=500)
    declarations = []
    for i, gift in zip(range(start, stop), made, strict=True):
        if i % 3 or gift.kind != "card":
            continue
        scope = scopes[(i // 3) % 3]
        terms = rules.DeclarationTerms(scope=scope, declared_on=gift.received_on or first_day, donation_id=gift.pk)
        declarations.append(
            Declaration(
                first_name="Donor",
                last_name="Smith",
                house_name_or_number="1",
                address="1 High Street, Hythe",
                postcode="CT21 5AB",
                email=gift.donor_email,
                donor_key=donor_key_for(gift.donor_email),
                scope=scope.value,
                declared_on=terms.declared_on,
                covers_from=None if scope is rules.Scope.THIS_GIFT else rules.earliest_covered_date(terms),
                wording=rules.declaration_wording(charity_name=settings.CHARITY_NAME, amount="£5.00", scope=scope),
                donation=gift,
                created_at=gift.created_at,
            )
        )
    Declaration.objects.bulk_create(declarations, batch_size=500)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def count_queries(fn: Callable[[], object]) -> int:
    """How many SQL statements `fn` runs (counted by an execute wrapper: the test Client's request signals clear
    Django's own query log)."""
    from django.db import connection

    seen = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        fn()
    return len(seen)


def time_pair(
    page: Callable[[], object], baseline: Callable[[], object], repeat: int
) -> tuple[list[float], list[float]]:
    """Seconds per call of `page` and of `baseline`, alternating so that both see the same machine load."""
    page_times, base_times = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        baseline()
        t1 = time.perf_counter()
        page()
        t2 = time.perf_counter()
        base_times.append(t1 - t0)
        page_times.append(t2 - t1)
    return page_times, base_times


@dataclass(frozen=True)
class Row:
    """One size's timings (seconds per request) and query counts."""

    gifts: int
    cold_queries: int
    warm_queries: int
    cold_page: list[float]
    cold_health: list[float]
    warm_page: list[float]
    warm_health: list[float]

    def __str__(self) -> str:
        return (
            f"cold page p50 {ms(self.cold_page)} p99 {ms(self.cold_page, 99)} ({self.cold_queries} queries); "
            f"warm p50 {ms(self.warm_page)} p99 {ms(self.warm_page, 99)} ({self.warm_queries} queries); "
            f"/health/ p50 {ms(self.warm_health)}"
        )

    def markdown(self) -> str:
        def ratio(page: list[float], health: list[float]) -> str:
            p50 = statistics.median(page) / statistics.median(health)
            return f"x{p50:.1f} (x{percentile(page, 99) / percentile(health, 99):.1f})"

        cold, warm = (self.cold_page, self.cold_health), (self.warm_page, self.warm_health)
        return (
            f"| {self.gifts:,} | {ms(self.cold_page)} / {ms(self.cold_page, 99)} | {ms(self.cold_health)} "
            f"| {ratio(*cold)} | {ms(self.warm_page)} / {ms(self.warm_page, 99)} | {ms(self.warm_health)} "
            f"| {ratio(*warm)} | {self.cold_queries} / {self.warm_queries} |"
        )


def ms(values: list[float], q: float | None = None) -> str:
    """The median (or the q-th percentile) of `values` seconds, in milliseconds."""
    return f"{(statistics.median(values) if q is None else percentile(values, q)) * 1e3:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000", help="succeeded gifts at each step (ascending)")
    parser.add_argument("--repeat", type=int, default=200, help="timed requests of each kind at each size")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes != sorted(sizes):
        sys.exit("--sizes must be ascending")
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-page-"))
    try:
        run(sizes=sizes, repeat=args.repeat, postgres=args.postgres, workdir=workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(*, sizes: list[int], repeat: int, postgres: bool, workdir: Path) -> None:
    setup_django(postgres=postgres, workdir=workdir)
    from django.core.cache import cache
    from django.db import connection
    from django.db.models import Sum
    from django.test import Client

    from carefund.campaigns.models import Donation, DonationStatus
    from carefund.core.money import format_pence
    from carefund.giftaid.selectors import gift_aid_due_for_campaign

    print(f"database: {connection.vendor}; load average before: {os.getloadavg()}")
    campaign = seed_campaign()
    client = Client()
    path = f"/campaigns/{campaign.slug}/"

    def page() -> object:
        response = client.get(path)
        assert response.status_code == 200, response.status_code
        return response

    def health() -> object:
        response = client.get("/health/")
        assert response.status_code == 200, response.status_code
        return response

    def cold_page() -> object:
        cache.clear()
        return page()

    def cold_health() -> object:
        cache.clear()  # the same call on both sides, so the ratio is the page's own cost
        return health()

    rows: list[Row] = []
    made = 0
    # Each step also writes a pending and a refunded gift per hundred: write until there are `size` succeeded ones.
    for size in sizes:
        succeeded = Donation.objects.filter(campaign=campaign, status=DonationStatus.SUCCEEDED)
        while (count := succeeded.count()) < size:
            grow(campaign, start=made, stop=made + size - count)
            made += size - count
        raised = int(succeeded.aggregate(s=Sum("amount_pence"))["s"] or 0)
        gift_aid = gift_aid_due_for_campaign(campaign_id=campaign.pk)
        cache.clear()
        body = page().content.decode()  # type: ignore[attr-defined]
        assert f"<strong>{format_pence(raised)}</strong> raised" in body, "the page does not show the exact total"
        if gift_aid:
            assert f"<strong>{format_pence(gift_aid)}</strong> Gift Aid to come" in body, "Gift Aid figure wrong"
        for _ in range(10):  # warm up both paths (template loading, connection)
            page()
            health()
        cache.clear()
        cold_queries = count_queries(page)
        warm_queries = count_queries(page)
        cold_page_s, cold_health_s = time_pair(cold_page, cold_health, repeat)
        page()
        warm_page_s, warm_health_s = time_pair(page, health, repeat)
        row = Row(size, cold_queries, warm_queries, cold_page_s, cold_health_s, warm_page_s, warm_health_s)
        rows.append(row)
        print(f"{size:>6} gifts ({format_pence(raised)} raised, {format_pence(gift_aid)} Gift Aid to come): {row}")
    print(f"\nload average after: {os.getloadavg()}")
    print("| gifts | page cold p50 / p99 | health p50 | ratio p50 (p99) | page warm p50 / p99 | health p50 ", end="")
    print("| ratio p50 (p99) | queries cold / warm |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row.markdown())
    first, last = rows[0], rows[-1]
    cold_growth = statistics.median(last.cold_page) / statistics.median(first.cold_page)
    warm_growth = statistics.median(last.warm_page) / statistics.median(first.warm_page)
    print(f"\ngrowth from {first.gifts:,} to {last.gifts:,} gifts: ", end="")
    print(f"cold p50 x{cold_growth:.2f}, warm p50 x{warm_growth:.2f}")
    if postgres:
        connection.close()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", PG_NAME], check=False)


if __name__ == "__main__":
    main()
