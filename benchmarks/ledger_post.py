"""Postings per second through `ledger_post`, against a raw-driver baseline inserting the same rows (the
transaction, its two postings, and marking it posted) in the same run, same database, same triggers.

    .venv/bin/python -m benchmarks.ledger_post [--transactions 2000] [--postgres]

What it does:
1. makes a fresh SQLite database in a temporary folder (or, with --postgres, a fresh PostgreSQL database
   `carefund_bench_ledger` at 127.0.0.1:5432) and migrates it (so the append-only triggers are in place);
2. opens the Stripe clearing account and 100 children's restricted funds;
3. posts N gifts (two postings each, one database transaction each) through `ledger_post`: validation,
   idempotency check, account locks, restricted-fund check, maintained balances, audit event;
4. inserts N gifts of the same shape with the raw driver (sqlite3 / psycopg), one database transaction each:
   INSERT the transaction unposted, INSERT its two postings, UPDATE it posted (what the triggers require);
   On PostgreSQL both run in 10 interleaved rounds, so that load from other processes hits both alike (on SQLite
   one after the other: a connection loses its page cache whenever the other one writes);
5. prints postings per second for both and the ratio (goal: ledger_post >= 0.5 of the raw rate).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_NAME = "carefund_bench_ledger"


def setup_django(*, postgres: bool, workdir: Path, pg_name: str = PG_NAME) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CAREFUND_VAR_DIR"] = str(workdir)
    if postgres:
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", pg_name], check=True)
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", pg_name], check=True)
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{pg_name}"
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def teardown(*, postgres: bool, workdir: Path, pg_name: str = PG_NAME) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    if postgres:
        from django.db import connections

        connections.close_all()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", pg_name], check=False)


def raw_connection(postgres: bool):  # type: ignore[no-untyped-def]
    from django.conf import settings

    if postgres:
        import psycopg

        return psycopg.connect(f"host=127.0.0.1 user=postgres dbname={PG_NAME}", autocommit=True)
    import sqlite3

    conn = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None, timeout=20)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def raw_posts(
    n: int, *, postgres: bool, funds: list[int], clearing: int, start_at: int = 0, conn=None, batch: int = 1
) -> float:  # type: ignore[no-untyped-def]
    own = conn is None
    conn = conn or raw_connection(postgres)
    ph = "%s" if postgres else "?"
    insert_txn = (
        "INSERT INTO ledger_transaction (kind, on_date, memo, group_id, idempotency_key, content_hash, metadata,"
        f" is_posted, created_at) VALUES ('donation', {ph}, 'Gift', '', {ph}, '', '{{}}', {ph}, {ph})"
        + (" RETURNING id" if postgres else "")
    )
    insert_posting = f"INSERT INTO ledger_posting (transaction_id, account_id, amount_pence) VALUES ({ph}, {ph}, {ph})"
    mark = f"UPDATE ledger_transaction SET is_posted = {ph} WHERE id = {ph}"
    day = dt.date(2026, 3, 2)
    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    for i in range(start_at, start_at + n):
        fund = funds[i % len(funds)]
        amount = 100 + i % 5000
        cur = conn.cursor()
        if (i - start_at) % batch == 0:
            cur.execute("BEGIN" if postgres else "BEGIN IMMEDIATE")
        if postgres:
            cur.execute(insert_txn, (day, f"raw-{i}", False, now))
            txn_id = cur.fetchone()[0]
        else:
            cur.execute(insert_txn, (day.isoformat(), f"raw-{i}", 0, now.isoformat()))
            txn_id = cur.lastrowid
        cur.executemany(insert_posting, [(txn_id, clearing, amount), (txn_id, fund, -amount)])
        cur.execute(mark, (True if postgres else 1, txn_id))
        if (i - start_at) % batch == batch - 1 or i == start_at + n - 1:
            cur.execute("COMMIT")
    elapsed = time.perf_counter() - start
    if own:
        conn.close()
    return elapsed


def orm_posts(n: int) -> float:
    from carefund.ledger import chart
    from carefund.ledger.services import PostingSpec, ledger_post

    stripe = chart.clearing_account("stripe")
    day = dt.date(2026, 3, 2)
    start = time.perf_counter()
    for i in range(n):
        amount = 100 + i % 5000
        ledger_post(
            kind="donation",
            postings=[PostingSpec(stripe, amount), PostingSpec(chart.child_fund(1 + i % 100), -amount)],
            memo="Gift",
            on_date=day,
            idempotency_key=f"orm-{i}",
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-ledger-"))
    try:
        setup_django(postgres=args.postgres, workdir=workdir)
        from carefund.ledger import chart
        from carefund.ledger.integrity import ledger_check
        from carefund.ledger.models import Account
        from carefund.ledger.services import account_open

        clearing = account_open(name=chart.clearing_account("stripe")).pk
        funds = [account_open(name=chart.child_fund(c)).pk for c in range(1, 101)]
        n = args.transactions
        orm_posts(min(100, n))  # warm up (and first day-balance rows), not timed
        # interleave rounds of both so that load from other processes hits both alike
        conn = raw_connection(args.postgres)
        orm = raw = 0.0
        rounds = 10 if args.postgres else 1  # SQLite: two connections alternating would each lose their page cache
        per = n // rounds
        for r in range(rounds):
            orm += orm_posts_offset(per, start_at=r * per)
            raw += raw_posts(per, postgres=args.postgres, funds=funds, clearing=clearing, start_at=r * per, conn=conn)
        conn.close()
        n = per * rounds
        backend = "PostgreSQL" if args.postgres else "SQLite"
        orm_rate = 2 * n / orm
        raw_rate = 2 * n / raw
        print(f"ledger_post throughput, {n} transactions of 2 postings, {backend}, one database transaction each")
        print(f"  raw driver baseline: {raw_rate:9.0f} postings/s ({raw / n * 1e6:7.0f} µs per transaction)")
        print(f"  ledger_post:         {orm_rate:9.0f} postings/s ({orm / n * 1e6:7.0f} µs per transaction)")
        print(f"  ratio ledger_post / raw: {orm_rate / raw_rate:.2f} (goal >= 0.5)")
        # for information: the share of the audit event (core.services.audit_record, an ORM insert) in that cost
        from carefund.ledger import services

        real_audit = services.audit_record
        services.audit_record = lambda **kwargs: None  # type: ignore[assignment]
        try:
            quiet = orm_posts_offset(per, start_at=n + 1_000_000)
        finally:
            services.audit_record = real_audit
        print(
            f"  (for information) ledger_post without its audit event: {2 * per / quiet:9.0f} postings/s, "
            f"ratio {2 * per / quiet / raw_rate:.2f}"
        )
        # for information: batches (ledger_post_many) against the raw driver inserting the same batches, each batch
        # one database transaction on both sides
        batch = 50
        many = raw_many = 0.0
        conn = raw_connection(args.postgres)
        for r in range(rounds):
            base = 2_000_000 + r * per
            many += many_posts(per, batch=batch, start_at=base)
            raw_many += raw_posts(
                per, postgres=args.postgres, funds=funds, clearing=clearing, start_at=base, conn=conn, batch=batch
            )
        conn.close()
        print(
            f"  (for information) batches of {batch}, one database transaction per batch: raw driver "
            f"{2 * n / raw_many:9.0f} postings/s, ledger_post_many {2 * n / many:9.0f} postings/s, "
            f"ratio {raw_many / many:.2f}"
        )
        # the raw rows bypassed the maintained balances on purpose; only the ledger_post rows are checked
        assert Account.objects.filter(pk=clearing).values_list("balance_pence", flat=True).first() is not None
        findings = [f for f in ledger_check() if "maintained" not in f and "day balance" not in f]
        print(f"  ledger check (apart from the raw rows' missing maintained balances): {findings or 'clean'}")
    finally:
        teardown(postgres=args.postgres, workdir=workdir)


def many_posts(n: int, *, batch: int, start_at: int) -> float:
    from carefund.ledger import chart
    from carefund.ledger.services import LedgerEntry, PostingSpec, ledger_post_many

    stripe = chart.clearing_account("stripe")
    day = dt.date(2026, 3, 2)
    start = time.perf_counter()
    for b in range(start_at, start_at + n, batch):
        entries = []
        for i in range(b, min(b + batch, start_at + n)):
            amount = 100 + i % 5000
            postings = [PostingSpec(stripe, amount), PostingSpec(chart.child_fund(1 + i % 100), -amount)]
            entries.append(
                LedgerEntry(kind="donation", postings=postings, memo="Gift", on_date=day, idempotency_key=f"many-{i}")
            )
        ledger_post_many(entries=entries)
    return time.perf_counter() - start


def orm_posts_offset(n: int, start_at: int = 0) -> float:
    from carefund.ledger import chart
    from carefund.ledger.services import PostingSpec, ledger_post

    stripe = chart.clearing_account("stripe")
    day = dt.date(2026, 3, 2)
    start = time.perf_counter()
    for i in range(start_at, start_at + n):
        amount = 100 + i % 5000
        ledger_post(
            kind="donation",
            postings=[PostingSpec(stripe, amount), PostingSpec(chart.child_fund(1 + i % 100), -amount)],
            memo="Gift",
            on_date=day,
            idempotency_key=f"timed-{i}",
        )
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
