"""Confirmed gifts per second through the real webhook endpoint and the task worker, as `make run` starts them.

    .venv/bin/python -m benchmarks.giving_webhook [--gifts 3000] [--clients 8] [--postgres [--pg-name NAME]]
        [--kill server|worker] [--task-workers 1]

What it does, all on loopback and bounded in count and time:
1. makes a fresh SQLite database in a temporary folder (or, with --postgres, a fresh PostgreSQL database
   `carefund_bench_giving` at 127.0.0.1:5432, or `--pg-name`) and migrates it;
2. creates one published campaign and N pending gifts through the campaigns services (`checkout_start`, the test
   gateway), exactly as the giving page does;
3. starts the production setup as `make run` does: gunicorn with config/gunicorn.conf.py (2 workers of 16 threads)
   on a free 127.0.0.1 port, and the task worker (`carefund db_worker`);
4. alternates `--rounds` times: a burst of GETs of the trivial view `/health/` (the baseline, same run), then one
   signed `checkout.session.completed` per gift of the round (the real verification path), from a bounded pool of
   client threads, timing each answer; the round's clock stops when the database shows every gift confirmed
   (posted by the worker), polled every 20 ms;
5. with --kill, kill -9 the web server or the worker half-way through the last round's burst and start it again
   (the clients deliver again whatever got no 200, as the provider does; after a worker's death the sweep's requeue
   runs at once), and that round is left out of the rates;
6. checks every gift confirmed exactly once and the books exact to the penny (the child's fund equal to the gifts,
   the clearing account to the gifts less their fees);
7. reports the CPU milliseconds per request of the trivial view and per confirmed gift (from a round's first
   delivery until its last gift is confirmed) used by the server, the task worker, the PostgreSQL backends of the
   benchmark's database and this client (from /proc): on a shared machine the comparable figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
TIME_LIMIT_SECONDS = 300  # the whole run stops waiting after this
PG_NAME = "carefund_bench_giving"  # the default of --pg-name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_environment(*, postgres: bool, pg_name: str, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        CAREFUND_VAR_DIR=str(workdir),
        SECRET_KEY="benchmark-" + os.urandom(8).hex(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DEBUG="0",
        LOG_LEVEL="ERROR",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        STRIPE_SECRET_KEY="",
        STRIPE_WEBHOOK_SECRET="",
        PAYMENTS_TEST_MODE="1",  # the built-in test gateway, with DEBUG off as a server runs
    )
    if postgres:
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{pg_name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    return env


def reset_postgres(pg_name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {pg_name}")


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's scheme: v1 = HMAC-SHA256(secret, "<t>.<raw body>")."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class Client:
    """One keep-alive HTTP connection per thread (reconnecting when the server closes it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.local.conn = conn
        return conn

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self.local.conn = None
                return int(response.status)
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
                conn.close()
                self.local.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def fire(jobs: list[Callable[[], int]], *, clients: int) -> tuple[float, list[int]]:
    """Run the jobs from a bounded pool; return (elapsed seconds, status codes in job order)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        statuses = list(pool.map(lambda job: job(), jobs, timeout=TIME_LIMIT_SECONDS))
    return time.perf_counter() - started, statuses


def wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start within 30 s")


def ms(stat: Callable[[list[float]], float], values: list[float]) -> float | None:
    return round(1000 * stat(values), 1) if values else None


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# --- data: made through the campaigns services, checked through the ledger's selectors -------------------------


@dataclass(frozen=True)
class Seeded:
    campaign_id: int
    campaign_path: str
    child_id: int
    gifts: tuple[tuple[int, str, int], ...]  # (donation id, checkout session id, amount in pence)


def seed_campaign() -> Any:
    """One child and one published campaign, through the services (also used by benchmarks.campaign_page)."""
    import datetime as dt

    from django.contrib.auth import get_user_model

    from carefund.campaigns.models import CampaignState
    from carefund.campaigns.services import campaign_create, campaign_transition
    from carefund.care.services import child_register

    admin = get_user_model().objects.create_superuser(username="bench-admin", password=os.urandom(8).hex())
    child = child_register(
        first_name="James",
        last_name="Bench",
        date_of_birth=dt.date(2020, 3, 1),
        home_postcode="S19 2BD",
        nhs_number="9434765919",  # NHS Digital's published test number (valid check digit)
        diagnosis="spastic diplegia",
        gmfcs_level=2,
        publicity_consent=True,
        actor=admin,
    )
    campaign = campaign_create(child=child, title="Benchmark campaign", actor=admin)
    return campaign_transition(campaign=campaign, to_state=CampaignState.PUBLISHED, actor=admin)


def seed(*, gifts: int) -> Seeded:
    """One child, one published campaign and `gifts` pending online gifts with test-gateway checkouts."""
    from carefund.campaigns.services import checkout_start, donation_create_pending

    campaign = seed_campaign()
    child = campaign.child
    made = []
    for i in range(gifts):
        amount = 500 + (i % 50) * 100  # £5 to £54
        donation = donation_create_pending(
            campaign=campaign,
            amount_pence=amount,
            donor_name=f"Donor {i}",
            donor_email=f"donor{i}@example.org",
            message="Good luck James!" if i % 10 == 0 else "",
            gateway="test",
        )
        started = checkout_start(donation=donation, success_url="/thanks/", cancel_url="/give/")
        made.append((donation.pk, started.donation.checkout_session_id or "", amount))
    return Seeded(
        campaign_id=campaign.pk,
        campaign_path=f"/campaigns/{campaign.slug}/",
        child_id=child.pk,
        gifts=tuple(made),
    )


def event_body(*, donation_id: int, session_id: str, amount_pence: int) -> bytes:
    """A Stripe-shaped checkout.session.completed event for one gift (fee known at once, as the test gateway does)."""
    event = {
        "id": f"evt_bench_{donation_id}_{os.urandom(6).hex()}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "amount_total": amount_pence,
                "currency": "gbp",
                "payment_status": "paid",
                "payment_intent": f"pi_bench_{donation_id}",
                "client_reference_id": str(donation_id),
                "metadata": {"donation_id": str(donation_id)},
                "carefund_fee_pence": 20 + amount_pence * 14 // 1000,  # 1.4% + 20p, a UK card fee shape
            }
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


def check_books(seeded: Seeded) -> dict[str, Any]:
    """Every gift confirmed exactly once, and the book's accounts equal the sums of the gifts to the penny."""
    from django.db import connections

    from carefund.campaigns.models import Donation, DonationStatus
    from carefund.ledger import chart
    from carefund.ledger.models import Transaction
    from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

    connections.close_all()  # read what the server wrote, through a fresh connection
    ids = [g[0] for g in seeded.gifts]
    amounts = sum(g[2] for g in seeded.gifts)
    fees = sum(20 + g[2] * 14 // 1000 for g in seeded.gifts)
    succeeded = Donation.objects.filter(pk__in=ids, status=DonationStatus.SUCCEEDED).count()
    gift_transactions = Transaction.objects.filter(idempotency_key__in=[f"donation-{i}" for i in ids]).count()
    fund = fund_balance_pence(child_id=seeded.child_id)
    clearing = account_balance_pence(name=chart.clearing_account("test"))
    return {
        "confirmed": succeeded,
        "lost": len(ids) - succeeded,
        "duplicated": max(0, gift_transactions - len(ids)),
        "gift_transactions": gift_transactions,
        "child_fund_pence": fund,
        "clearing_pence": clearing,
        "expected_fund_pence": amounts,
        "expected_clearing_pence": amounts - fees,
        "ledger_exact": fund == amounts and clearing == amounts - fees and gift_transactions == len(ids),
    }


def wait_confirmed(ids: list[int], *, campaign_id: int, started: float) -> float:
    """Seconds from `started` until every gift is confirmed, polling the database every 20 ms (one range of ids of
    one campaign, counted in the covering index `donation_raised`); gives up after TIME_LIMIT_SECONDS."""
    from django.db import connection

    sql = (
        "SELECT COUNT(*) FROM campaigns_donation WHERE campaign_id = %s AND status = 'succeeded'"
        " AND id BETWEEN %s AND %s"
    )
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [campaign_id, min(ids), max(ids)])
            done = cursor.fetchone()[0]
        elapsed = time.perf_counter() - started
        if done == len(ids) or elapsed > TIME_LIMIT_SECONDS:
            return elapsed
        time.sleep(0.02)


def start_server(env: dict[str, str], port: int, *, workers: int, threads: int) -> subprocess.Popen[bytes]:
    """gunicorn with config/gunicorn.conf.py, as `make run` starts it."""
    command = [str(VENV_BIN / "gunicorn"), "--config", str(ROOT / "config" / "gunicorn.conf.py"), "config.wsgi"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    command += ["--log-level", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The task worker, as `make run` starts it (Makefile, `run`)."""
    command = [str(VENV_BIN / "carefund"), "db_worker", "--no-startup-delay", "--interval", "0.05"]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stderr=subprocess.DEVNULL)


def run(
    *,
    gifts: int,
    clients: int,
    postgres: bool,
    pg_name: str,
    workers: int,
    threads: int,
    rounds: int,
    kill: str,
    task_workers: int = 1,
) -> dict[str, Any]:
    from benchmarks.petition_signing import CpuMeter, cpu_per_operation  # it imports this module

    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-"))
    env = prepare_environment(postgres=postgres, pg_name=pg_name, workdir=workdir)
    if postgres:
        reset_postgres(pg_name)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)  # as `make run` does before serving
    print(f"seeding {gifts} pending gifts through the campaigns services ...", flush=True)
    seeded = seed(gifts=gifts)
    connections.close_all()

    port = free_port()
    procs = {"server": start_server(env, port, workers=workers, threads=threads), "worker": start_worker(env)}
    for i in range(2, task_workers + 1):  # more than `make run` starts: to measure what another would bring
        procs[f"worker {i}"] = start_worker(env)
    secret = env.get("TEST_GATEWAY_WEBHOOK_SECRET") or settings.TEST_GATEWAY_WEBHOOK_SECRET
    answers: list[float] = []  # seconds, each webhook request answered 200
    statuses: list[int] = []
    retried = [0]
    killed: list[str] = []
    try:
        wait_until_up(port, procs["server"])
        client = Client(port)
        fire([lambda: client.request("GET", "/health/") for _ in range(1000)], clients=clients)  # warm up

        def deliver(donation_id: int, session_id: str, amount_pence: int) -> Callable[[], int]:
            body = event_body(donation_id=donation_id, session_id=session_id, amount_pence=amount_pence)

            def job() -> int:
                # as the provider does: anything but a 200 (or no answer at all) is delivered again, a moment later
                deadline = time.monotonic() + 120
                while True:
                    headers = {
                        "Content-Type": "application/json",
                        "Stripe-Signature": sign(body, secret, int(time.time())),
                    }
                    t0 = time.perf_counter()
                    try:
                        status = client.request("POST", "/webhooks/stripe/", body=body, headers=headers)
                    except (OSError, http.client.HTTPException):  # the server died mid-answer: no 200
                        client.local.conn = None
                        status = 0
                    if status == 200:
                        answers.append(time.perf_counter() - t0)
                        return status
                    retried[0] += 1
                    if time.monotonic() > deadline:
                        return status
                    time.sleep(0.2)

            return job

        def kill_mid_burst(which: str, after: float) -> None:
            time.sleep(after)
            os.killpg(procs[which].pid, signal.SIGKILL)
            procs[which].wait()
            killed.append(which)
            time.sleep(0.5)
            procs[which] = (
                start_server(env, port, workers=workers, threads=threads) if which == "server" else start_worker(env)
            )

        trivial_rounds: list[tuple[int, float]] = []
        webhook_rounds: list[tuple[int, float, float]] = []  # (gifts, seconds to answer all, seconds to confirm all)
        pg = pg_name if postgres else "-"
        # CPU seconds by process over the measured bursts
        cpu_trivial: dict[tuple[str, int], float] = {}
        cpu_gifts: dict[tuple[str, int], float] = {}

        def cpu_start() -> tuple[CpuMeter, dict[tuple[str, int], float]]:
            meter = CpuMeter(groups={name: proc.pid for name, proc in procs.items()}, pg_name=pg)
            return meter, meter.snapshot()

        def cpu_add(into: dict[tuple[str, int], float], started: tuple[CpuMeter, dict[tuple[str, int], float]]) -> None:
            meter, before = started
            after = meter.snapshot()
            meter.close()
            for key, seconds in after.items():
                into[key] = into.get(key, 0.0) + seconds - before.get(key, 0.0)

        for r in range(rounds):
            share = seeded.gifts[r * len(seeded.gifts) // rounds : (r + 1) * len(seeded.gifts) // rounds]
            cpu_before = cpu_start()
            elapsed, codes = fire([lambda: client.request("GET", "/health/") for _ in share], clients=clients)
            assert codes == [200] * len(share), f"/health/ answered {sorted(set(codes))}"
            trivial_rounds.append((len(share), elapsed))
            cpu_add(cpu_trivial, cpu_before)
            killer = None
            if kill != "none" and r == rounds - 1:  # the last round: kill -9 half-way through its burst
                guess = len(share) / max(
                    1.0,
                    sum(n for n, _, _ in webhook_rounds) / max(1e-9, sum(a for _, a, _ in webhook_rounds))
                    if webhook_rounds
                    else 200.0,
                )
                killer = threading.Thread(target=kill_mid_burst, args=(kill, guess / 2))
                killer.start()
            cpu_before = cpu_start()
            started = time.perf_counter()
            answered, codes = fire([deliver(*gift) for gift in share], clients=clients)
            statuses += codes
            if killer is not None:
                killer.join()
                if kill == "worker":
                    # the event the killed worker was applying lost its task (claimed, never finished): the daily
                    # sweep puts such events back on the queue; here it is run at once
                    from carefund.campaigns.services import webhook_events_requeue_stale

                    time.sleep(1)
                    print(f"requeued after the kill: {webhook_events_requeue_stale(older_than=dt.timedelta(0))}")
            confirmed = wait_confirmed([g[0] for g in share], campaign_id=seeded.campaign_id, started=started)
            webhook_rounds.append((len(share), answered, confirmed))
            if killer is None:  # a killed process's CPU is gone with it: that round is left out here too
                cpu_add(cpu_gifts, cpu_before)
            else:
                cpu_before[0].close()
            print(
                f"round {r + 1}/{rounds}: /health/ {len(share) / elapsed:.0f}/s; webhooks answered "
                f"{len(share) / answered:.0f}/s, all {len(share)} confirmed after {confirmed:.2f} s = "
                f"{len(share) / confirmed:.0f}/s" + (f" (kill -9 of the {kill} during it)" if killer else ""),
                flush=True,
            )
    finally:
        for proc in procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass

    health_rate = sum(n for n, _ in trivial_rounds) / sum(t for _, t in trivial_rounds)
    measured = webhook_rounds[:-1] if kill != "none" and len(webhook_rounds) > 1 else webhook_rounds
    gift_rate = sum(n for n, _, _ in measured) / sum(t for _, _, t in measured)
    answered_rate = sum(n for n, _, _ in measured) / sum(t for _, t, _ in measured)
    check = check_books(seeded)
    measured_trivial = sum(n for n, _ in trivial_rounds)
    measured_gifts = sum(n for n, _, _ in (webhook_rounds if kill == "none" else webhook_rounds[:-1]))
    from django.db.models import Count

    from carefund.campaigns.models import WebhookEvent

    return {
        "database": "PostgreSQL" if postgres else "SQLite (WAL)",
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "gifts": gifts,
        "clients": clients,
        "task_workers": task_workers,
        "health_per_s": round(health_rate),
        "answered_per_s": round(answered_rate),
        "gifts_per_s": round(gift_rate),
        "answer_p50_p99_ms": [ms(statistics.median, answers), ms(lambda v: percentile(v, 99), answers)],
        # CPU milliseconds by process per /health/ request and per confirmed gift (each round from its first delivery
        # until its last gift is confirmed: the answers, the worker's batches and receipts, this client's polling)
        "cpu_ms_per_trivial_request": cpu_per_operation({}, cpu_trivial, measured_trivial),
        "cpu_ms_per_confirmed_gift": cpu_per_operation({}, cpu_gifts, measured_gifts),
        "killed": killed,
        "deliveries_retried": retried[0],
        "webhook_statuses": {c: statuses.count(c) for c in sorted(set(statuses))},
        "events_by_state": dict(WebhookEvent.objects.values_list("state").annotate(n=Count("id")).order_by()),
        **check,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "", allow_abbrev=False)
    parser.add_argument("--gifts", type=int, default=3000, help="gifts to confirm (and /health/ requests), max 20000")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads, max 64")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (config/gunicorn.conf.py: 2)")
    parser.add_argument("--threads", type=int, default=16, help="threads per worker (config/gunicorn.conf.py: 16)")
    parser.add_argument("--postgres", action="store_true", help="use PostgreSQL at 127.0.0.1:5432 instead of SQLite")
    parser.add_argument(
        "--task-workers",
        type=int,
        default=1,
        help="task worker processes (`make run` starts 1; more only to measure what they would bring), max 4",
    )
    parser.add_argument(
        "--pg-name", default=PG_NAME, help=f"the PostgreSQL database to drop and create (default {PG_NAME})"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two bursts (max 20)")
    parser.add_argument(
        "--kill",
        choices=["none", "server", "worker"],
        default="none",
        help="kill -9 the web server or the worker half-way through the last round, restart it, and check the books",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the result to PATH as JSON")
    args = parser.parse_args(argv)
    gifts = max(1, min(args.gifts, 20_000))
    result = run(
        gifts=gifts,
        clients=max(1, min(args.clients, 64)),
        postgres=args.postgres,
        pg_name=args.pg_name,
        task_workers=max(1, min(args.task_workers, 4)),
        workers=args.workers,
        threads=args.threads,
        rounds=max(1, min(args.rounds, 20, gifts)),
        kill=args.kill,
    )
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result))
    ok = result["lost"] == 0 and result["duplicated"] == 0 and result["ledger_exact"]
    ok = ok and set(result["webhook_statuses"]) == {200}
    goal_rate = 300 if args.postgres else 150
    p99 = result["answer_p99_ms"] = result["answer_p50_p99_ms"][1]
    goal = result["gifts_per_s"] >= goal_rate and p99 is not None and p99 < 50
    print(
        f"\n{result['database']}: {result['gifts_per_s']} confirmed gifts/s (trivial view {result['health_per_s']}/s, "
        f"same run); webhook answer p99 {p99} ms; books {'exact' if ok else 'NOT EXACT'}"
        + (f" after kill -9 of the {args.kill}" if args.kill != "none" else "")
        + f"; goal (>= {goal_rate}/s, p99 < 50 ms) {'met' if goal else 'not met'}"
        + f"\nCPU ms per confirmed gift: {result['cpu_ms_per_confirmed_gift']} (per /health/ request: "
        + f"{result['cpu_ms_per_trivial_request']['total']})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
