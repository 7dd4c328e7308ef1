"""Confirmed gifts per second through the real Stripe webhook endpoint, against a trivial view, same server, same run.

    .venv/bin/python -m benchmarks.giving_webhook [--gifts 2000] [--clients 8] [--page-rate 50] [--postgres]
    .venv/bin/python -m benchmarks.giving_webhook --gifts 6000 --runs 8   # mean ratio with its 95% interval

What it does, all on loopback and bounded in count and time:
1. makes a fresh SQLite database in a temporary folder (or, with --postgres, a fresh PostgreSQL database
   `carefund_bench_giving` at 127.0.0.1:5432) and migrates it;
2. creates one published campaign and N pending gifts through the campaigns services (`checkout_start`, the test
   gateway), exactly as the giving page does;
3. starts the production setup as `make run` does: the server with config/gunicorn.conf.py (gunicorn,
   config.wsgi, 2 workers of 16 threads) on a free 127.0.0.1 port, and the webhook confirmer
   (`carefund webhooks confirm --watch 0.1`);
4. baseline: fires GETs of `/health/` from a bounded pool of client threads and measures requests per second;
5. fires one signed `checkout.session.completed` event per gift (signed with the test gateway's webhook secret, the
   real verification path) from the same pool, and measures confirmed gifts per second; steps 4 and 5 alternate
   `--rounds` times (3), each round with its share of the gifts and as many `/health/` requests, so that a change
   in the shared machine's speed during the run weighs on both rates alike; the rates are totals over the rounds,
   and each round's ratio is printed too. One more client reads the campaign page `--page-rate` times a second
   during both kinds of burst, so both rates are measured under the same background load, and the page's latency
   percentiles under the webhooks' load are reported.
   "Confirmed" is posted in the ledger: the webhook answers once the event is recorded and the confirmer posts it
   (docs/adr/0020-payment-webhooks.md), so the clock stops when the database shows every gift succeeded (polled
   every 10 ms, per round); the answer rate and the lag from an event's arrival to its gift's confirmation are
   printed too;
6. checks that every gift is confirmed exactly once: every response 200, every gift succeeded, one ledger
   transaction per gift, the child's fund equal to the sum of the gifts and the clearing account to the gifts less
   their fees, to the penny; and that every campaign page read answered 200.

The client threads share the machine's 2 cores with the server, in the baseline as in the measured run. The load
average before and after is printed, because on a shared machine it explains most of the run-to-run variation.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import shutil
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
PG_NAME = "carefund_bench_giving"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_environment(*, postgres: bool, workdir: Path) -> dict[str, str]:
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
    )
    if postgres:
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{PG_NAME}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    return env


def reset_postgres() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_NAME}")


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


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of the live processes in one process group, from /proc (Linux)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ... utime (12), stime (13)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server_pgid: int, confirmer_pgid: int) -> tuple[float, float, float]:
    """(server, confirmer, this benchmark's own client) CPU seconds so far."""
    own = os.times()
    return group_cpu_seconds(server_pgid), group_cpu_seconds(confirmer_pgid), own.user + own.system


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


def event_body(*, donation_id: int, session_id: str, amount_pence: int, tagged: bool = True) -> bytes:
    """A Stripe-shaped checkout.session.completed event for one gift (fee known at once, as the test gateway does),
    with the metadata carefund gave its checkout, which the provider sends back (`services.checkout_metadata`);
    without carefund's tag if not `tagged` (a checkout made before tags: its gift is read before the answer)."""
    from carefund.campaigns.services import checkout_metadata

    metadata = checkout_metadata(donation_id=donation_id, amount_pence=amount_pence, gateway="test")
    if not tagged:
        metadata = {"donation_id": metadata["donation_id"]}

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
                "metadata": metadata,
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
    """Seconds from `started` until every gift is confirmed (status succeeded, which is set in the transaction that
    posts it), polling the database every 10 ms; gives up after TIME_LIMIT_SECONDS (check_books then reports the
    gifts lost).

    The poll runs on the same two cores as the server and the confirmer, during the webhook bursts only, so it is
    kept cheap: the round's gifts are one range of ids in one campaign, counted in the covering index
    `donation_raised` (campaign, status, id, ...) rather than looked up one by one. Listing the ids in an `IN (...)`
    cost about 0.85 ms a poll at 2,000 gifts a round against 0.2 ms (in one process, on SQLite), about 0.1 ms of
    the cores' time per gift at 700 gifts a second, charged to the webhooks alone."""
    from django.db import connection

    first, last = min(ids), max(ids)
    if last - first + 1 == len(ids) and len(set(ids)) == len(ids):
        sql = (
            "SELECT COUNT(*) FROM campaigns_donation WHERE campaign_id = %s AND status = 'succeeded'"
            " AND id BETWEEN %s AND %s"
        )
        params: list[int] = [campaign_id, first, last]
    else:  # not one range (never with `seed`): count the listed gifts
        sql = (
            "SELECT COUNT(*) FROM campaigns_donation WHERE status = 'succeeded'"
            f" AND id IN ({', '.join(['%s'] * len(ids))})"
        )
        params = ids
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            done = cursor.fetchone()[0]
        elapsed = time.perf_counter() - started
        if done == len(ids) or elapsed > TIME_LIMIT_SECONDS:
            return elapsed
        time.sleep(0.01)


def confirmation_lag_ms(ids: list[int]) -> list[float] | None:
    """p50 and p99 of the time from the event's arrival (recorded when it is accepted) to its gift's confirmation,
    both stamped by the server."""
    from carefund.campaigns.models import Donation, WebhookEvent

    received = {  # event ids are evt_bench_<gift id>_<random>
        int(event_id.split("_")[2]): when
        for event_id, when in WebhookEvent.objects.filter(event_id__startswith="evt_bench_").values_list(
            "event_id", "received_at"
        )
    }
    lags = [
        (succeeded - received[pk]).total_seconds() * 1000
        for pk, succeeded in Donation.objects.filter(pk__in=ids).values_list("pk", "succeeded_at")
        if succeeded is not None and pk in received
    ]
    if not lags:
        return None
    return [round(statistics.median(lags), 1), round(percentile(lags, 99), 1)]


def run(
    *,
    gifts: int,
    clients: int,
    postgres: bool,
    workers: int,
    threads: int,
    page_rate: float = 50,
    rounds: int = 3,
    tagged: bool = True,
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-"))
    env = prepare_environment(postgres=postgres, workdir=workdir)
    if postgres:
        reset_postgres()
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)  # as `make run` does before serving
    print(f"seeding {gifts} pending gifts through the campaigns services ...", flush=True)
    seeded = seed(gifts=gifts)
    from django.db import connections

    connections.close_all()

    port = free_port()
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "--config",
            str(ROOT / "config" / "gunicorn.conf.py"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            "--keep-alive",
            "5",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    # the webhook confirmer, as `make run` starts it beside the server
    side = subprocess.Popen(
        [str(VENV_BIN / "carefund"), "webhooks", "confirm", "--watch", "0.1"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_until_up(port, server)
        client = Client(port)
        # warm up both workers and their threads (imports, first queries, connections): without it the first
        # burst ran a fifth to a third slower than the same burst later in the run
        fire([lambda: client.request("GET", "/health/") for _ in range(1000)], clients=clients)
        fire([lambda: client.request("GET", seeded.campaign_path) for _ in range(50)], clients=clients)

        stop = threading.Event()
        statuses: list[int] = []
        trivial_rounds: list[tuple[int, float]] = []  # (requests, seconds)
        # CPU seconds spent during each kind of burst: server (gunicorn's processes), confirmer, this client
        cpu: dict[str, list[float]] = {"trivial": [0.0, 0.0, 0.0], "webhook": [0.0, 0.0, 0.0]}

        def charge(which: str, before: tuple[float, float, float]) -> None:
            after = cpu_snapshot(server.pid, side.pid)
            cpu[which] = [total + (a - b) for total, a, b in zip(cpu[which], after, before, strict=True)]

        webhook_rounds: list[tuple[int, float, float]] = []  # (gifts, seconds to answer, seconds to confirm)
        phase = ["trivial"]  # which burst the page reads below belong to
        latencies: dict[str, list[float]] = {"trivial": [], "webhook": []}
        page_statuses: list[int] = []
        page_client = Client(port)

        def read_campaign_page() -> None:
            # people watching the page: `page_rate` reads a second on a fixed schedule (a read that is late starts at
            # once), during both bursts alike, so both rates are measured under the same background load and the
            # page's latency is measured under the webhooks' load without the reader becoming a load of its own
            if page_rate <= 0:
                return
            next_at = time.perf_counter()
            while not stop.is_set():
                pause = next_at - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                next_at += 1 / page_rate
                t0 = time.perf_counter()
                which = phase[0]
                page_statuses.append(page_client.request("GET", seeded.campaign_path))
                latencies[which].append(time.perf_counter() - t0)

        reader = threading.Thread(target=read_campaign_page, daemon=True)
        reader.start()
        secret = env.get("TEST_GATEWAY_WEBHOOK_SECRET") or settings.TEST_GATEWAY_WEBHOOK_SECRET

        def deliver(donation_id: int, session_id: str, amount_pence: int) -> Callable[[], int]:
            body = event_body(donation_id=donation_id, session_id=session_id, amount_pence=amount_pence, tagged=tagged)

            def job() -> int:  # signed just before sending, so no event is stale however long the queue
                headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, secret, int(time.time()))}
                return client.request("POST", "/webhooks/stripe/", body=body, headers=headers)

            return job

        # The bursts alternate, `rounds` times: trivial, webhooks, trivial, webhooks, ... so that a change in the
        # shared machine's speed during the run falls on both rates alike instead of on whichever burst ran second.
        for r in range(rounds):
            share = seeded.gifts[r * len(seeded.gifts) // rounds : (r + 1) * len(seeded.gifts) // rounds]
            phase[0] = "trivial"
            before = cpu_snapshot(server.pid, side.pid)
            elapsed, codes = fire([lambda: client.request("GET", "/health/") for _ in share], clients=clients)
            assert codes == [200] * len(share), f"/health/ answered {sorted(set(codes))}"
            trivial_rounds.append((len(share), elapsed))
            charge("trivial", before)
            phase[0] = "webhook"
            before = cpu_snapshot(server.pid, side.pid)
            started = time.perf_counter()
            answered, codes = fire([deliver(*gift) for gift in share], clients=clients)
            statuses += codes
            # A gift counts once it is posted: the webhook answers a paid checkout at once and the server's
            # confirmer posts it moments later, so wait (bounded) until every gift of the round is confirmed.
            confirmed = wait_confirmed([g[0] for g in share], campaign_id=seeded.campaign_id, started=started)
            webhook_rounds.append((len(share), answered, confirmed))
            charge("webhook", before)
            print(
                f"round {r + 1}/{rounds}: trivial view /health/ {len(share)} in {elapsed:.2f} s = "
                f"{len(share) / elapsed:.0f}/s; webhooks {len(share)} answered in {answered:.2f} s "
                f"({len(share) / answered:.0f}/s), all confirmed after {confirmed:.2f} s = "
                f"{len(share) / confirmed:.0f}/s (ratio {(len(share) / confirmed) / (len(share) / elapsed):.2f})",
                flush=True,
            )
        stop.set()
        reader.join(timeout=30)
        lag = confirmation_lag_ms([g[0] for g in seeded.gifts])
    finally:
        os.killpg(side.pid, signal.SIGTERM)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    load_after = os.getloadavg()[0]
    health_rate = sum(n for n, _ in trivial_rounds) / sum(t for _, t in trivial_rounds)
    gift_rate = gifts / sum(t for _, _, t in webhook_rounds)
    answered_rate = gifts / sum(t for _, t, _ in webhook_rounds)
    status_counts = {code: statuses.count(code) for code in sorted(set(statuses))}
    check = check_books(seeded)
    result = {
        "database": "PostgreSQL" if postgres else "SQLite (WAL)",
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],  # 2 cores, shared machine
        "gifts": gifts,
        "clients": clients,
        "workers": workers,
        "threads": threads,
        "health_per_s": round(health_rate),
        "rounds": rounds,
        "events_tagged": tagged,
        "answered_per_s": round(answered_rate),
        "gifts_per_s": round(gift_rate),
        "confirmation_lag_p50_p99_ms": lag,
        "ratio": round(gift_rate / health_rate, 3),
        "ratio_by_round": [
            round((n / confirmed) / (m / t), 3)
            for (n, _, confirmed), (m, t) in zip(webhook_rounds, trivial_rounds, strict=True)
        ],
        # CPU milliseconds a request (a gift) during each burst, by process: on a 2-core machine the ratio is
        # bounded by how much CPU a gift costs all of them against a trivial request
        "cpu_ms_per_request": {
            which: dict(
                zip(("server", "confirmer", "client"), (round(1000 * v / gifts, 3) for v in cpu[which]), strict=True)
            )
            for which in ("trivial", "webhook")
        },
        "webhook_statuses": status_counts,
        "campaign_page_reads_per_s_asked": page_rate,
        "campaign_page_requests": len(latencies["webhook"]),
        "campaign_page_statuses": {c: page_statuses.count(c) for c in sorted(set(page_statuses))},
        # under the webhooks' load (the goal's figure), and under the trivial view's for comparison
        "campaign_page_p50_ms": ms(statistics.median, latencies["webhook"]),
        "campaign_page_p99_ms": ms(lambda v: percentile(v, 99), latencies["webhook"]),
        "campaign_page_p50_p99_ms_during_trivial": [
            ms(statistics.median, latencies["trivial"]),
            ms(lambda v: percentile(v, 99), latencies["trivial"]),
        ],
        **check,
    }
    if not postgres:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _without_runs(argv: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--runs", "--json"):
            skip = True
        elif not arg.startswith(("--runs=", "--json=")):
            out.append(arg)
    return [*out, "--runs", "1"]


def summarise(ratios: list[float]) -> dict[str, float]:
    """The mean of the runs' ratios with a two-sided 95% confidence interval (Student's t: the runs are few, and
    each is one draw from a machine whose speed varies between runs)."""
    from scipy import stats

    mean = statistics.fmean(ratios)
    if len(ratios) < 2:
        return {"mean": mean, "low": mean, "high": mean, "sd": 0.0}
    sd = statistics.stdev(ratios)
    half = float(stats.t.ppf(0.975, len(ratios) - 1)) * sd / len(ratios) ** 0.5
    return {"mean": mean, "low": mean - half, "high": mean + half, "sd": sd}


def repeat(argv: list[str], *, runs: int) -> int:
    """Run the benchmark `runs` times, each in a fresh process (its own database and server), then print each
    run's figures and the mean ratio with its 95% confidence interval: on a shared 2-core machine one run's ratio
    moves by a tenth either way, so only many runs say where it stands."""
    rows: list[dict[str, Any]] = []
    failed = 0
    with tempfile.TemporaryDirectory(prefix="carefund-bench-runs-") as folder:
        for i in range(runs):
            path = Path(folder) / f"run-{i}.json"
            subprocess.run(
                [sys.executable, "-m", "benchmarks.giving_webhook", *_without_runs(argv), "--json", str(path)],
                cwd=ROOT,
                check=False,
            )
            if not path.exists():  # it stopped before its figures (a crash, a time limit)
                failed += 1
                continue
            rows.append(json.loads(path.read_text()))  # books not exact exits 1, and is shown as such below
    print(f"\n{'run':>4} {'trivial/s':>10} {'gifts/s':>8} {'ratio':>6}  by round          books")
    for i, r in enumerate(rows, start=1):
        rounds = ", ".join(f"{x:.2f}" for x in r["ratio_by_round"])
        books = "exact" if r["ledger_exact"] and not r["lost"] and not r["duplicated"] else "NOT EXACT"
        print(f"{i:>4} {r['health_per_s']:>10} {r['gifts_per_s']:>8} {r['ratio']:>6.2f}  {rounds:<17} {books}")
    if not rows:
        print("no run finished")
        return 1
    ratios = [float(r["ratio"]) for r in rows]
    s = summarise(ratios)
    print(
        f"\n{len(rows)} runs ({failed} failed): ratio mean {s['mean']:.3f} (95% CI {s['low']:.3f}-{s['high']:.3f}, "
        f"sd {s['sd']:.3f}); {sum(x >= 0.5 for x in ratios)} of {len(rows)} runs at or above 0.5; confirmed gifts/s "
        f"{min(r['gifts_per_s'] for r in rows)}-{max(r['gifts_per_s'] for r in rows)}; books exact in "
        f"{sum(bool(r['ledger_exact']) and not r['lost'] and not r['duplicated'] for r in rows)} of {len(rows)}"
    )
    exact = all(bool(r["ledger_exact"]) and not r["lost"] and not r["duplicated"] for r in rows)
    return 0 if failed == 0 and exact else 1


def main(argv: list[str] | None = None) -> int:
    # no abbreviations: `--run 3` must not slip past `_without_runs` into each repeated run
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "", allow_abbrev=False)
    parser.add_argument("--gifts", type=int, default=2000, help="gifts to confirm (and /health/ requests), max 20000")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads, max 64")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (the issue asks for 2)")
    parser.add_argument("--threads", type=int, default=16, help="threads per worker (config/gunicorn.conf.py: 16)")
    parser.add_argument("--postgres", action="store_true", help="use PostgreSQL at 127.0.0.1:5432 instead of SQLite")
    parser.add_argument(
        "--page-rate", type=float, default=50, help="campaign page reads a second during the webhooks (0: none)"
    )
    parser.add_argument(
        "--untagged",
        action="store_true",
        help="events without carefund's checkout tag (checkouts made before tags): each gift is read before the answer",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternations of the two bursts, the gifts shared between them (max 20)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="repeat the whole run (fresh database and server each time, in a process of its own) and summarise the "
        "ratios: their mean with a 95%% confidence interval (max 30)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the result to PATH as JSON")
    args = parser.parse_args(argv)
    if args.runs > 1:
        return repeat(argv if argv is not None else sys.argv[1:], runs=min(args.runs, 30))
    gifts = max(1, min(args.gifts, 20_000))
    clients = max(1, min(args.clients, 64))
    result = run(
        gifts=gifts,
        clients=clients,
        postgres=args.postgres,
        workers=args.workers,
        threads=args.threads,
        page_rate=max(0.0, min(args.page_rate, 1000.0)),
        rounds=max(1, min(args.rounds, 20, gifts)),
        tagged=not args.untagged,
    )
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result))
    ok = (
        result["lost"] == 0
        and result["duplicated"] == 0
        and result["ledger_exact"]
        and set(result["webhook_statuses"]) == {200}
        and set(result["campaign_page_statuses"]) <= {200}
    )
    goal = result["gifts_per_s"] >= 300 and result["ratio"] >= 0.5
    print(
        f"\n{result['database']}: {result['gifts_per_s']} confirmed gifts/s vs {result['health_per_s']} trivial "
        f"requests/s (ratio {result['ratio']:.2f}); campaign page p99 {result['campaign_page_p99_ms']} ms under load; "
        f"books {'exact' if ok else 'NOT EXACT'}; goal (>= 300/s and ratio >= 0.5) {'met' if goal else 'not met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
