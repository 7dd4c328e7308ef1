"""How long one fund's balance takes to read as the book grows: 10^3, 10^5 and 10^6 postings.

    .venv/bin/python -m benchmarks.ledger_balance [--sizes 1000,100000,1000000] [--repeat 500] [--postgres]

What it does:
1. makes a fresh SQLite database in a temporary folder (or, with --postgres, a fresh PostgreSQL database
   `carefund_bench_ledger_balance`) and migrates it;
2. grows one book in stages to each size: gifts of two postings each (a gateway clearing account and one of
   1,000 children's restricted funds), spread over three years of days; rows are written in bulk with the
   raw driver (on SQLite through the append-only triggers; on PostgreSQL with triggers off for the bulk load,
   `session_replication_role = replica`), then the maintained balances (per account, and per account and
   day) are rebuilt from the postings with one SQL statement each, exactly what ledger_post keeps;
3. at each size, times `fund_balance_pence(child_id=...)` now and as of a date mid-book (median of R runs),
   beside the naive read, SUM(amount_pence) over the fund's postings up to that date;
4. prints each figure and its ratio to the 10^3 figure measured in the same run (goal: the 10^6 read within
   1.5x of the 10^3 read). The best of R runs is compared across sizes; the median is printed beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.ledger_post import setup_django, teardown

PG_NAME = "carefund_bench_ledger_balance"
CHILDREN = 1000
DAYS = 3 * 365
START = dt.date(2024, 1, 1)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) seconds per call. The best run is the figure compared across sizes: on a shared machine
    the median carries other processes' load, the best run is the read's own cost."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return min(samples), statistics.median(samples)


def grow(cursor, *, postgres: bool, first: int, last: int, clearing: int, funds: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Add gifts number first..last-1 (two postings each), as raw rows."""
    ph = "%s" if postgres else "?"
    posted = True if postgres else 0
    txn_sql = (
        "INSERT INTO ledger_transaction (id, kind, on_date, memo, group_id, idempotency_key, content_hash, metadata,"
        f" is_posted, created_at) VALUES ({ph}, 'donation', {ph}, 'Gift', '', {ph}, '', '{{}}', {ph}, {ph})"
    )
    post_sql = (
        f"INSERT INTO ledger_posting (id, transaction_id, account_id, amount_pence) VALUES ({ph}, {ph}, {ph}, {ph})"
    )
    created = "2026-01-01T00:00:00+00:00"
    chunk = 20000
    for lo in range(first, last, chunk):
        hi = min(last, lo + chunk)
        txns = []
        posts = []
        for i in range(lo, hi):
            day = (START + dt.timedelta(days=i % DAYS)).isoformat()
            txn_id = i + 1
            amount = 100 + i % 4900
            txns.append((txn_id, day, f"bulk-{i}", posted, created))
            posts.append((2 * i + 1, txn_id, clearing, amount))
            posts.append((2 * i + 2, txn_id, funds[i % len(funds)], -amount))
        cursor.executemany(txn_sql, txns)
        cursor.executemany(post_sql, posts)
        if not postgres:
            cursor.execute("UPDATE ledger_transaction SET is_posted = 1 WHERE id > ? AND id <= ?", (lo, hi))


def rebuild_maintained(cursor) -> None:  # type: ignore[no-untyped-def]
    cursor.execute("DELETE FROM ledger_accountdaybalance")
    cursor.execute(
        "INSERT INTO ledger_accountdaybalance (account_id, on_date, closing_pence) "
        "SELECT account_id, on_date, SUM(day_total) OVER (PARTITION BY account_id ORDER BY on_date) FROM "
        "(SELECT p.account_id AS account_id, t.on_date AS on_date, SUM(p.amount_pence) AS day_total "
        " FROM ledger_posting p JOIN ledger_transaction t ON t.id = p.transaction_id "
        " GROUP BY p.account_id, t.on_date) d"
    )
    cursor.execute(
        "UPDATE ledger_account SET "
        "balance_pence = COALESCE((SELECT SUM(amount_pence) FROM ledger_posting p"
        " WHERE p.account_id = ledger_account.id), 0), "
        "last_day = (SELECT MAX(on_date) FROM ledger_accountdaybalance b WHERE b.account_id = ledger_account.id)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000", help="book sizes in postings, ascending")
    parser.add_argument("--repeat", type=int, default=500)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-ledger-balance-"))
    try:
        setup_django(postgres=args.postgres, workdir=workdir, pg_name=PG_NAME)
        from django.db import connection, transaction

        from carefund.ledger import chart
        from carefund.ledger.selectors import fund_balance_pence
        from carefund.ledger.services import account_open

        clearing = account_open(name=chart.clearing_account("stripe")).pk
        funds = [account_open(name=chart.child_fund(c)).pk for c in range(1, CHILDREN + 1)]
        child = CHILDREN // 2
        fund_id = funds[child - 1]
        mid = START + dt.timedelta(days=DAYS // 2)
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(f"fund balance read, {backend}, {CHILDREN} funds, {DAYS} days, median of {args.repeat} runs")
        naive_sql = (
            "SELECT COALESCE(SUM(p.amount_pence), 0) FROM ledger_posting p JOIN ledger_transaction t "
            "ON t.id = p.transaction_id WHERE p.account_id = %s AND t.on_date <= %s"
        )
        done = 0
        first: dict[str, float] = {}
        for size in sizes:
            t0 = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                if args.postgres:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                grow(
                    cursor.cursor,
                    postgres=args.postgres,
                    first=done // 2,
                    last=size // 2,
                    clearing=clearing,
                    funds=funds,
                )
                rebuild_maintained(cursor.cursor)
            if args.postgres:
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            done = size
            load = time.perf_counter() - t0

            def naive() -> object:
                with connection.cursor() as cursor:
                    cursor.execute(naive_sql, [fund_id, connection.ops.adapt_datefield_value(mid)])
                    return cursor.fetchone()

            figures = {
                "now": timed(lambda: fund_balance_pence(child_id=child), args.repeat),
                "as of mid-book": timed(lambda: fund_balance_pence(child_id=child, as_of=mid), args.repeat),
                "naive SUM as of mid-book": timed(naive, max(5, args.repeat // 50)),
            }
            assert fund_balance_pence(child_id=child, as_of=mid) == -int(naive()[0])  # type: ignore[index]
            if not first:
                first = {name: best for name, (best, _) in figures.items()}
            parts = [
                f"{name} best {best * 1e6:6.0f} µs (x{best / first[name]:5.2f}), median {median * 1e6:6.0f} µs"
                for name, (best, median) in figures.items()
            ]
            print(f"  {size:>9,} postings (loaded in {load:5.1f} s): " + "   ".join(parts))
        print("  ratios (best runs) are to the first size in this run; goal: the largest book's reads within 1.5x")
    finally:
        teardown(postgres=args.postgres, workdir=workdir, pg_name=PG_NAME)


if __name__ == "__main__":
    main()
