"""Postings per second through `ledger_post`, against raw-driver baselines measured in the same run, same database,
same triggers.

    .venv/bin/python -m benchmarks.ledger_post [--transactions 2000] [--rounds 10] [--postgres] [--pg-name NAME]

What it does:
1. makes a fresh SQLite database in a temporary folder (or, with --postgres, a fresh PostgreSQL database
   `carefund_bench_ledger`, or --pg-name, at 127.0.0.1:5432) and migrates it (so the append-only triggers are in
   place);
2. opens the Stripe clearing account and 100 children's restricted funds (for `ledger_post` and the same-rows
   writers), and the test gateway's clearing account and 100 more funds (for the narrow baseline, whose rows leave
   the maintained balances behind on purpose);
3. posts N gifts (two postings each, one database transaction each) through `ledger_post`: validation,
   idempotency, account locks, restricted-fund check, maintained balances, day balances, audit event;
4. writes N gifts of the same shape, one database transaction each, with the raw driver (sqlite3 / psycopg):
   - same rows (the baseline the goal is judged on: the issue asks for "the same rows"): exactly the rows
     `ledger_post` writes, with the same columns and values, in six statements as `ledger_post`: the two accounts'
     balance UPDATE (balance and latest day, returning the new balances), the transaction inserted unposted, its two
     postings, marking it posted (what the triggers require), the day-balance upsert and the audit event. Everything
     that does not depend on a new row's id (content hash, audit details JSON, timestamps, account ids) is computed
     before the clock starts, so this baseline times the driver and the database only;
   - narrow (the baseline of earlier runs, kept for comparison): the transaction, its two postings and the posted
     mark only (4 statements, 2 tables);
5. for information, writes N gifts with the same-rows statements and values through Django's connection (an atomic
   block, one Django cursor, %s placeholders): the cost of Django's connection layer alone, so that the gap between
   the raw driver and `ledger_post` splits into that layer and `ledger_post`'s own work;
   The writers alternate in --rounds interleaved rounds, so that load from other processes hits them alike;
6. checks that a gift written by the same-rows baseline and one written by `ledger_post` with the same content have
   equal rows, and that `ledger check` finds the book whole apart from the narrow baseline's accounts (so the
   same-rows writers kept the maintained balances and day balances exactly as `ledger_post` does);
7. prints postings per second (wall clock) and CPU time per transaction for each, and both ratios (goal:
   ledger_post >= 0.5 of the same-rows raw rate); then, for information, batches through `ledger_post_many` against
   the narrow raw baseline in the same batches.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_NAME = "carefund_bench_ledger"
DAY = dt.date(2026, 3, 2)
N_FUNDS = 100
NARROW_FUND_OFFSET = 100  # the narrow baseline posts to children 101..200


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


def raw_connection(postgres: bool, pg_name: str = PG_NAME):  # type: ignore[no-untyped-def]
    from django.conf import settings

    if postgres:
        import psycopg

        return psycopg.connect(f"host=127.0.0.1 user=postgres dbname={pg_name}", autocommit=True)
    import sqlite3

    conn = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None, timeout=20)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@dataclass
class Timing:
    """Wall-clock and CPU (this process: Python and the embedded SQLite) seconds of a timed stretch."""

    wall: float = 0.0
    cpu: float = 0.0

    def __iadd__(self, other: Timing) -> Timing:
        self.wall += other.wall
        self.cpu += other.cpu
        return self


@contextmanager
def stopwatch() -> Iterator[Timing]:
    timing = Timing()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield timing
    finally:
        timing.wall, timing.cpu = time.perf_counter() - wall, time.process_time() - cpu


def gift(i: int, *, offset: int = 0) -> tuple[int, int]:
    """The i-th gift of every writer: (child id, amount in pence); the same i gives the same content."""
    return 1 + offset + i % N_FUNDS, 100 + i % 5000


def raw_posts(
    n: int, *, postgres: bool, funds: list[int], clearing: int, start_at: int = 0, conn: Any = None, batch: int = 1
) -> Timing:
    """The narrow baseline: the transaction, its postings and the posted mark only (no maintained balances, no
    day balances, no audit event)."""
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
    now = dt.datetime.now(dt.UTC)
    with stopwatch() as timing:
        for i in range(start_at, start_at + n):
            fund = funds[i % len(funds)]
            amount = 100 + i % 5000
            cur = conn.cursor()
            if (i - start_at) % batch == 0:
                cur.execute("BEGIN" if postgres else "BEGIN IMMEDIATE")
            if postgres:
                cur.execute(insert_txn, (DAY, f"raw-{i}", False, now))
                txn_id = cur.fetchone()[0]
            else:
                cur.execute(insert_txn, (DAY.isoformat(), f"raw-{i}", 0, now.isoformat()))
                txn_id = cur.lastrowid
            cur.executemany(insert_posting, [(txn_id, clearing, amount), (txn_id, fund, -amount)])
            cur.execute(mark, (True if postgres else 1, txn_id))
            if (i - start_at) % batch == batch - 1 or i == start_at + n - 1:
                cur.execute("COMMIT")
    if own:
        conn.close()
    return timing


def same_rows_values(i: int, *, clearing: tuple[str, int], funds: dict[int, tuple[str, int]]) -> tuple[Any, ...]:
    """Everything the same-rows writers write for gift i that does not depend on a new row's id, computed as
    ledger_post computes it (content hash as defined in carefund.ledger.rules.content_hash, audit details and
    summary as in ledger_post), so that they write the rows ledger_post writes."""
    child, amount = gift(i)
    fund_name, fund_id = funds[child]
    postings = [(clearing[0], amount), (fund_name, -amount)]
    payload: dict[str, Any] = {"kind": "donation", "on_date": DAY.isoformat(), "group_id": "", "reverses": None}
    payload["postings"] = sorted(postings)
    fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    details = json.dumps({"postings": [list(p) for p in postings], "group_id": ""})
    # the balance UPDATE and the day-balance upsert name the accounts in name order, as ledger_post does
    moved = sorted([(clearing[0], clearing[1], amount), (fund_name, fund_id, -amount)])
    return amount, fund_id, fingerprint, details, moved


def same_rows_statements(ph: str, *, postgres: bool) -> tuple[str, ...]:
    """The six statements of a same-rows writer, with `ph` as the placeholder."""
    move = (
        f"UPDATE ledger_account SET balance_pence = balance_pence + (CASE id WHEN {ph} THEN {ph} WHEN {ph} THEN {ph}"
        f" END), last_day = CASE WHEN last_day IS NULL OR last_day < {ph} THEN {ph} ELSE last_day END"
        f" WHERE id IN ({ph}, {ph}) RETURNING id, balance_pence"
    )
    insert_txn = (
        "INSERT INTO ledger_transaction (kind, on_date, memo, group_id, reverses_id, idempotency_key, content_hash,"
        f" metadata, is_posted, created_at) VALUES ('donation', {ph}, 'Gift', '', NULL, {ph}, {ph}, '{{}}', {ph}, {ph})"
        + (" RETURNING id" if postgres else "")
    )
    insert_postings = (
        "INSERT INTO ledger_posting (transaction_id, account_id, amount_pence)"
        f" VALUES ({ph}, {ph}, {ph}), ({ph}, {ph}, {ph})"
    )
    mark = f"UPDATE ledger_transaction SET is_posted = {ph} WHERE id = {ph}"
    day_balances = (
        f"INSERT INTO ledger_accountdaybalance (account_id, on_date, closing_pence) VALUES ({ph}, {ph}, {ph}),"
        f" ({ph}, {ph}, {ph}) ON CONFLICT (account_id, on_date) DO UPDATE SET closing_pence = excluded.closing_pence"
    )
    details = f"{ph}::jsonb" if postgres else ph
    summary = f"'donation {DAY.isoformat()}: Gift'"
    audit = (
        "INSERT INTO core_auditevent (occurred_at, actor_id, action, target_type, target_id, summary, details)"
        f" VALUES ({ph}, NULL, 'ledger.post', 'ledger.transaction', {ph}, {summary}, {details})"
    )
    return move, insert_txn, insert_postings, mark, day_balances, audit


def same_rows_posts(
    n: int,
    *,
    postgres: bool,
    clearing: tuple[str, int],
    funds: dict[int, tuple[str, int]],
    start_at: int,
    conn: Any = None,
    prefix: str = "raw-same",
) -> Timing:
    """The same-rows writer: per gift, in one database transaction, the rows ledger_post writes (see the module
    docstring). With `conn` (a raw driver connection in autocommit mode) it is the baseline; without, the same
    statements and values go through Django's connection (an atomic block, one Django cursor per gift)."""
    move, insert_txn, insert_postings, mark, day_balances, audit = same_rows_statements(
        "%s" if postgres or conn is None else "?", postgres=postgres
    )
    now = dt.datetime.now(dt.UTC)
    # as Django adapts them: SQLite stores dates as text and datetimes as naive UTC text, PostgreSQL takes objects
    day: Any = DAY if postgres else DAY.isoformat()
    when: Any = now if postgres else str(now.replace(tzinfo=None))
    posted, unposted = (True, False) if postgres else (1, 0)
    values = [same_rows_values(i, clearing=clearing, funds=funds) for i in range(start_at, start_at + n)]

    def write(cur: Any, i: int, amount: int, fund_id: int, fingerprint: str, details: str, moved: Any) -> None:
        (_, a, delta_a), (_, b, delta_b) = moved
        cur.execute(move, (a, delta_a, b, delta_b, day, day, a, b))
        new_balance = dict(cur.fetchall())
        cur.execute(insert_txn, (day, f"{prefix}-{i}", fingerprint, unposted, when))
        txn_id = cur.fetchone()[0] if postgres else cur.lastrowid
        cur.execute(insert_postings, (txn_id, clearing[1], amount, txn_id, fund_id, -amount))
        cur.execute(mark, (posted, txn_id))
        cur.execute(day_balances, (a, day, new_balance[a], b, day, new_balance[b]))
        cur.execute(audit, (when, str(txn_id), details))

    gifts = list(zip(range(start_at, start_at + n), values, strict=True))
    if conn is not None:
        with stopwatch() as timing:
            cur = conn.cursor()
            for i, gift_values in gifts:
                cur.execute("BEGIN" if postgres else "BEGIN IMMEDIATE")
                write(cur, i, *gift_values)
                cur.execute("COMMIT")
        return timing
    from django.db import connection, transaction

    with stopwatch() as timing:
        for i, gift_values in gifts:
            with transaction.atomic(), connection.cursor() as cur:
                write(cur, i, *gift_values)
    return timing


def ledger_posts(n: int, start_at: int = 0, prefix: str = "timed") -> Timing:
    """N gifts through ledger_post, one database transaction each. The inputs (account names and amounts, keys) are
    made before the clock starts, as the same-rows writers' values are."""
    from carefund.ledger import chart
    from carefund.ledger.services import PostingSpec, ledger_post

    stripe = chart.clearing_account("stripe")
    inputs = []
    for i in range(start_at, start_at + n):
        child, amount = gift(i)
        inputs.append(([PostingSpec(stripe, amount), PostingSpec(chart.child_fund(child), -amount)], f"{prefix}-{i}"))
    with stopwatch() as timing:
        for postings, key in inputs:
            ledger_post(kind="donation", postings=postings, memo="Gift", on_date=DAY, idempotency_key=key)
    return timing


def many_posts(n: int, *, batch: int, start_at: int) -> Timing:
    """N gifts through ledger_post_many in batches of `batch` (each one database transaction)."""
    from carefund.ledger import chart
    from carefund.ledger.services import LedgerEntry, PostingSpec, ledger_post_many

    stripe = chart.clearing_account("stripe")
    batches = []
    for b in range(start_at, start_at + n, batch):
        entries = []
        for i in range(b, min(b + batch, start_at + n)):
            child, amount = gift(i)
            postings = [PostingSpec(stripe, amount), PostingSpec(chart.child_fund(child), -amount)]
            entries.append(
                LedgerEntry(kind="donation", postings=postings, memo="Gift", on_date=DAY, idempotency_key=f"many-{i}")
            )
        batches.append(entries)
    with stopwatch() as timing:
        for entries in batches:
            ledger_post_many(entries=entries)
    return timing


def compare_rows(*, orm_key: str, raw_key: str) -> list[str]:
    """Differences between the rows of two gifts of the same content, one written by ledger_post and one by the
    same-rows baseline (ids, keys and timestamps aside). An empty list: the baseline writes what ledger_post
    writes."""
    from carefund.core.models import AuditEvent
    from carefund.ledger.models import Posting, Transaction

    differences: list[str] = []
    txns = {t.idempotency_key: t for t in Transaction.objects.filter(idempotency_key__in=[orm_key, raw_key])}
    columns = ["kind", "on_date", "memo", "group_id", "reverses_id", "content_hash", "metadata", "is_posted"]
    orm, raw = txns[orm_key], txns[raw_key]
    for column in columns:
        if getattr(orm, column) != getattr(raw, column):
            differences.append(f"transaction.{column}: {getattr(orm, column)!r} != {getattr(raw, column)!r}")

    def postings(txn: Transaction) -> list[tuple[int, int]]:
        return list(Posting.objects.filter(transaction=txn).order_by("id").values_list("account_id", "amount_pence"))

    if postings(orm) != postings(raw):
        differences.append(f"postings: {postings(orm)} != {postings(raw)}")
    events = {
        e.target_id: e
        for e in AuditEvent.objects.filter(target_type="ledger.transaction", target_id__in=[str(orm.pk), str(raw.pk)])
    }
    if set(events) != {str(orm.pk), str(raw.pk)}:
        differences.append(f"audit events: found for {sorted(events)}, expected one for each of {orm.pk}, {raw.pk}")
    else:
        a, b = events[str(orm.pk)], events[str(raw.pk)]
        for column in ["actor_id", "action", "target_type", "summary", "details"]:
            if getattr(a, column) != getattr(b, column):
                differences.append(f"audit.{column}: {getattr(a, column)!r} != {getattr(b, column)!r}")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds of the writers")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--pg-name", default=PG_NAME, help="PostgreSQL database to create (and drop) for the run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-ledger-"))
    try:
        setup_django(postgres=args.postgres, workdir=workdir, pg_name=args.pg_name)
        from carefund.ledger import chart
        from carefund.ledger.integrity import ledger_check
        from carefund.ledger.services import account_open

        stripe = account_open(name=chart.clearing_account("stripe"))
        clearing = (stripe.name, stripe.pk)
        funds = {c: (chart.child_fund(c), account_open(name=chart.child_fund(c)).pk) for c in range(1, N_FUNDS + 1)}
        narrow_clearing = account_open(name=chart.clearing_account("test")).pk
        narrow_names = {chart.clearing_account("test")}
        narrow_funds = []
        for c in range(NARROW_FUND_OFFSET + 1, NARROW_FUND_OFFSET + N_FUNDS + 1):
            narrow_funds.append(account_open(name=chart.child_fund(c)).pk)
            narrow_names.add(chart.child_fund(c))
        pg = args.postgres
        # warm up every writer (and make the first day-balance rows), not timed
        conn = raw_connection(pg, args.pg_name)
        ledger_posts(100, start_at=1_000_000, prefix="warm")
        same_rows_posts(100, postgres=pg, clearing=clearing, funds=funds, start_at=1_000_000, conn=conn)
        same_rows_posts(100, postgres=pg, clearing=clearing, funds=funds, start_at=1_000_100, prefix="warm-django")
        raw_posts(100, postgres=pg, funds=narrow_funds, clearing=narrow_clearing, start_at=1_000_000, conn=conn)
        orm, same, django_same, narrow = Timing(), Timing(), Timing(), Timing()
        rounds = args.rounds
        per = args.transactions // rounds
        for r in range(rounds):
            at = r * per
            orm += ledger_posts(per, start_at=at)
            same += same_rows_posts(per, postgres=pg, clearing=clearing, funds=funds, start_at=at, conn=conn)
            django_same += same_rows_posts(
                per, postgres=pg, clearing=clearing, funds=funds, start_at=at, prefix="django-same"
            )
            narrow += raw_posts(per, postgres=pg, funds=narrow_funds, clearing=narrow_clearing, start_at=at, conn=conn)
        conn.close()
        n = per * rounds
        backend = "PostgreSQL" if pg else "SQLite"
        print(f"ledger_post throughput, {n} transactions of 2 postings, {backend}, one database transaction each,")
        print(f"{rounds} interleaved rounds")
        print(f"  {'writer':52s} {'postings/s':>10s} {'µs a transaction':>17s} {'of it CPU':>10s}")
        for label, t in [
            ("raw driver, same rows (the baseline)", same),
            ("same rows through Django's connection (information)", django_same),
            ("ledger_post", orm),
            ("raw driver, narrow: 4 statements, 2 tables (earlier)", narrow),
        ]:
            print(f"  {label:52s} {2 * n / t.wall:10.0f} {t.wall / n * 1e6:17.0f} {t.cpu / n * 1e6:10.0f}")
        print(f"  ratio ledger_post / raw same rows: {same.wall / orm.wall:.2f} (the goal: >= 0.5)")
        print(f"  ratio ledger_post / raw narrow:    {narrow.wall / orm.wall:.2f} (the baseline of earlier runs)")
        print(
            f"  where ledger_post's extra time goes, a transaction: Django's connection layer (atomic block, cursor, "
            f"placeholders) {(django_same.wall - same.wall) / n * 1e6:.0f} µs, ledger_post's own work "
            f"{(orm.wall - django_same.wall) / n * 1e6:.0f} µs"
        )
        # for information: batches (ledger_post_many) against the narrow raw baseline in the same batches, each
        # batch one database transaction on both sides
        batch = 50
        many, raw_many = Timing(), Timing()
        conn = raw_connection(pg, args.pg_name)
        for r in range(rounds):
            at = 2_000_000 + r * per
            many += many_posts(per, batch=batch, start_at=at)
            raw_many += raw_posts(
                per, postgres=pg, funds=narrow_funds, clearing=narrow_clearing, start_at=at, conn=conn, batch=batch
            )
        conn.close()
        print(
            f"  (for information) batches of {batch}, one database transaction per batch: raw driver narrow "
            f"{2 * n / raw_many.wall:9.0f} postings/s, ledger_post_many {2 * n / many.wall:9.0f} postings/s, "
            f"ratio {raw_many.wall / many.wall:.2f}"
        )
        differences = compare_rows(orm_key="timed-7", raw_key="raw-same-7")
        differences += compare_rows(orm_key="timed-7", raw_key="django-same-7")
        print(f"  same-rows writers against ledger_post, gift 7: {'; '.join(differences) or 'equal rows'}")
        findings = [f for f in ledger_check() if not any(f"account {name}:" in f for name in narrow_names)]
        print(f"  ledger check (apart from the narrow baseline's accounts): {findings or 'clean'}")
        if differences or findings:
            sys.exit(1)
    finally:
        teardown(postgres=args.postgres, workdir=workdir, pg_name=args.pg_name)


if __name__ == "__main__":
    main()
