"""Petition signatures accepted and confirmed per second through the real endpoints, beside a trivial view on the
same server in the same run; the petition page's and JSON's latency under that load; how soon the count shows.

    .venv/bin/python -m benchmarks.petition_signing [--signatures 3000] [--clients 16] [--read-rate 20] [--sqlite]
        [--accept-rate 500] [--confirm-rate 300] [--offer-seconds 10] [--access-log]

What it does, on loopback, bounded in count and time:
1. PostgreSQL by default: drops and recreates the database `carefund_i18` at 127.0.0.1:5432 (this worktree's own
   database; --pg-name to change it) and migrates it; or, with --sqlite, a fresh SQLite file in a temporary folder;
2. loads the shipped postcode extract and opens one petition (its state set directly: moderation is not measured);
3. starts the production setup as `make run` does: gunicorn with config/gunicorn.conf.py (2 workers of 16 threads)
   and the task worker (`carefund db_worker`), which sends the confirmation emails (to Django's dummy backend) and
   runs the batch counter (with --worker-after, only once the bursts are over: the cost of the emails);
4. baseline: GETs of `/health/` from a pool of client threads;
5. accept: one `POST /api/petitions/<slug>/signatures` per signer (distinct emails, postcodes from the extract),
   each answered 202 once the signature is written pending with its email due (the task worker sends the due
   emails in batches, one task a second and server process);
6. confirm: one `POST /petitions/confirm/<token>/` per signature (tokens read from the database, as the email would
   carry them), each answered 302; then waits until the petition's public count equals the confirmed signatures
   and prints how long after the last confirmation it got there (the counter runs every 5 s);
7. offered load (open loop): signing offered at a fixed rate, `--accept-rate` new signatures a second for
   `--offer-seconds`, then `--confirm-rate` confirmations of them a second as long; request i is started at
   i / rate seconds from a pool of `--offer-clients` threads (enough that the client never lags: the lag of each
   start behind its schedule is reported), as a busy site's visitors arrive whatever the server is doing. Steps 5
   and 6 saturate the server (the throughput goal); this step is the load at which the read goal is asked;
8. from a quiet start to the end, a separate process (so the signing threads' share of this process's GIL does not
   delay it) reads the petition page and its JSON `--read-rate` times a second each and reports their latency
   percentiles in each phase, and the slowest reads; with --access-log gunicorn logs each read's time in the server
   (from its request parsed to its answer sent), so a slow read's time splits into waiting before a server thread
   took it and time in the server;
9. for steps 4-7 it reports the CPU milliseconds per request used by the server, the task worker, the PostgreSQL
   backends of the benchmark's database and this client (from /proc): on a shared machine the comparable figure.
Signing from one address trips the per-IP rate limits (every signature would be held for a moderator), so the
server runs with PETITION_RATE_LIMITS=0 unless --rate-limits is given (then the count check releases the held
signatures first, as a moderator would).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.giving_webhook import ROOT, VENV_BIN, Client, fire, free_port, ms, percentile, wait_until_up

TIME_LIMIT_SECONDS = 300
_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()
    except OSError:  # the process ended meanwhile
        return None


class CpuMeter:
    """CPU seconds (user + system) used so far by each process group (the server, the task worker), by the
    PostgreSQL backends connected to the benchmark's database, and by this client process. On a shared machine
    the CPU per operation is the comparable figure, not the wall-clock rate (docs/benchmarks.md). A backend's CPU
    is gone from /proc once it exits (the server reconnects after `CONN_MAX_AGE`), so a thread reads /proc every
    half second and each process keeps its last figure: at most half a second of an exiting process is missed."""

    def __init__(self, *, groups: dict[str, int], pg_name: str) -> None:
        self.by_group = {pgid: name for name, pgid in groups.items()}
        self.pg_name = pg_name
        self.seen: dict[tuple[str, int], float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._every_half_second, daemon=True)
        self.thread.start()

    def _every_half_second(self) -> None:
        while not self.stop.wait(0.5):
            self._read()

    def _read(self) -> None:
        found: dict[tuple[str, int], float] = {}
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            fields = _proc_stat(pid)
            if fields is None:
                continue
            seconds = (int(fields[11]) + int(fields[12])) / _TICK
            name = self.by_group.get(int(fields[2]))
            if name is None:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        title = fh.read().decode(errors="replace")
                except OSError:
                    continue
                if not (title.startswith("postgres: ") and f" {self.pg_name} " in title):
                    continue
                name = "postgres"
            found[(name, int(pid))] = seconds
        found[("client", 0)] = time.process_time()
        with self.lock:
            self.seen.update(found)

    def snapshot(self) -> dict[tuple[str, int], float]:
        self._read()
        with self.lock:
            return dict(self.seen)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)


def cpu_per_operation(
    before: dict[tuple[str, int], float], after: dict[tuple[str, int], float], n: int
) -> dict[str, float]:
    """Milliseconds of CPU per operation, by process, and in all."""
    spent = {"server": 0.0, "worker": 0.0, "postgres": 0.0, "client": 0.0}
    for (name, pid), seconds in after.items():
        spent[name] = spent.get(name, 0.0) + seconds - before.get((name, pid), 0.0)
    per = {name: round(1000 * used / max(n, 1), 2) for name, used in spent.items()}
    per["total"] = round(sum(per.values()), 2)
    return per


def environment(*, postgres: bool, pg_name: str, workdir: Path, rate_limits: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        CAREFUND_VAR_DIR=str(workdir),
        SECRET_KEY="benchmark-" + os.urandom(8).hex(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DEBUG="0",
        LOG_LEVEL="ERROR",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        PETITION_RATE_LIMITS="1" if rate_limits else "0",
        DATABASE_URL=(
            f"postgres://postgres@127.0.0.1:5432/{pg_name}" if postgres else f"sqlite:///{workdir / 'bench.sqlite3'}"
        ),
    )
    return env


def reset_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def seed() -> Any:
    import secrets

    from carefund.core import clock
    from carefund.petitions.models import Petition, PetitionState
    from carefund.petitions.postcodes import load_shipped

    load_shipped()
    return Petition.objects.create(
        slug="fund-sdr-benchmark",
        action="Fund SDR on the NHS for every child who needs it",
        background="Benchmark petition.",
        state=PetitionState.OPEN,
        created_at=clock.now(),
        opened_at=clock.now(),
        creator_name="Bench",
        creator_email="bench@example.org",
        creator_token=secrets.token_urlsafe(16),
        sponsor_token=secrets.token_urlsafe(16),
        sponsors_required=5,
        duration_days=182,
        response_threshold=10_000,
        debate_threshold=100_000,
    )


Read = tuple[float, str, float, int]  # started (on the monotonic clock), kind, seconds, status; the list's index
# is the read's number (`?read=N` with --access-log, so the server's log names it)


def read_forever(port: int, paths: dict[str, str], rate: float, tag: bool, stop: Any, out: Any) -> None:
    """The reader (a process of its own): GETs each path `rate` times a second on a fixed schedule until `stop` is
    set; puts its reads on `out`."""
    reader = Client(port)
    reads: list[Read] = []
    next_at = time.monotonic()
    while not stop.is_set():
        for kind, path in paths.items():
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            next_at += 1 / (len(paths) * rate)
            t0 = time.monotonic()
            try:
                status = reader.request("GET", f"{path}?read={len(reads)}" if tag else path)
            except OSError:  # counted as a failed read (status 0), and the reader goes on
                status = 0
            reads.append((t0, kind, time.monotonic() - t0, status))
    out.put(reads)


def offer(jobs: list[Callable[[], int]], *, rate: float, clients: int) -> dict[str, Any]:
    """Open loop: job i is started `i / rate` seconds after the first, whatever the server is doing, from a pool of
    `clients` threads (a thread takes the next job as soon as it is free and sleeps until the job's time, so a start
    lags its schedule only when all `clients` requests are in flight). Returns the rates offered and achieved, how
    far the starts lagged and how long the answers took."""
    first = time.monotonic() + 0.05

    def at_its_time(i: int, job: Callable[[], int]) -> tuple[int, float, float, float]:
        due = first + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        begun = time.monotonic()
        status = job()
        done = time.monotonic()
        return status, begun - due, done - begun, done

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(at_its_time, i, job) for i, job in enumerate(jobs)]
        results = [f.result(timeout=TIME_LIMIT_SECONDS) for f in futures]
    lags = [r[1] for r in results]
    answers = [r[2] for r in results]
    elapsed = max(r[3] for r in results) - first
    return {
        "requests": len(jobs),
        "offered_per_s": round(rate),
        "achieved_per_s": round(len(jobs) / elapsed),
        "start_lag_ms": {"p99": ms(lambda v: percentile(v, 99), lags), "max": ms(max, lags)},
        "answer_ms": {"p50": ms(lambda v: percentile(v, 50), answers), "p99": ms(lambda v: percentile(v, 99), answers)},
        "statuses": [r[0] for r in results],
        "seconds": elapsed,
    }


def spread(values: list[float]) -> dict[str, Any]:
    """p50, p99 and the largest of some durations in seconds, in milliseconds, and how many there were."""
    return {
        "p50": ms(lambda v: percentile(v, 50), values),
        "p99": ms(lambda v: percentile(v, 99), values),
        "max": ms(max, values),
        "n": len(values),
    }


def read_latencies(
    reads: list[Read], marks: list[tuple[float, str]], in_server: dict[int, tuple[float, str, bool]]
) -> tuple[dict[str, dict[str, dict[str, Any]]], list[dict[str, Any]]]:
    """The reads' latency percentiles in each phase (a read belongs to the phase in which it started), and the
    ten slowest reads with their phase and, with --access-log, their time in the server, the server process and
    whether that process built the answer afresh for it (its first read of that kind for
    `PETITION_PAGE_CACHE_SECONDS`, 5 s: a kept answer had expired)."""
    by_phase: dict[str, dict[str, list[float]]] = {}
    slowest: list[tuple[float, int, str]] = []
    for number, (started, kind, seconds, status) in enumerate(reads):
        phase = next((name for at, name in reversed(marks) if at <= started), marks[0][1])
        if status == 200:
            by_phase.setdefault(phase, {}).setdefault(kind, []).append(seconds)
        slowest.append((seconds, number, phase))
    slowest.sort(reverse=True)
    table = {phase: {kind: spread(values) for kind, values in kinds.items()} for phase, kinds in by_phase.items()}
    table.pop("-", None)
    ten = []
    for seconds, number, phase in slowest[:10]:
        read: dict[str, Any] = {"ms": round(1000 * seconds, 1), "kind": reads[number][1], "phase": phase}
        if number in in_server:
            server_seconds, pid, built = in_server[number]
            read |= {"in_server_ms": round(1000 * server_seconds, 1), "process": pid, "built": built}
        ten.append(read)
    return table, ten


ACCESS_LOG_FORMAT = "%(U)s %(q)s %(p)s %(D)s"  # path, query, <pid>, microseconds from the request read to answered


def server_times(log: Path, paths: dict[str, str], reads: list[Read]) -> dict[int, tuple[float, str, bool]]:
    """From gunicorn's access log (--access-log): each read's time in the server (seconds from its request read to
    its answer sent, so without the wait for a server thread), the server process, and whether it was that
    process's first read of its kind for 5 s (the kept answer had expired: this read built it)."""
    logged = []
    for line in log.read_text().splitlines():
        path, query, pid, micros = line.split(" ")
        number = int(query.removeprefix("read=")) if query.startswith("read=") else len(reads)
        if path in paths.values() and number < len(reads):
            logged.append((reads[number][0], number, pid.strip("<>"), int(micros) / 1e6))
    found: dict[int, tuple[float, str, bool]] = {}
    last_built: dict[tuple[str, str], float] = {}
    for started, number, pid, seconds in sorted(logged):
        built = started - last_built.get((pid, reads[number][1]), -1e9) >= 5
        if built:
            last_built[(pid, reads[number][1])] = started
        found[number] = (seconds, pid, built)
    return found


def where_read_time_went(
    reads: list[Read], marks: list[tuple[float, str]], in_server: dict[int, tuple[float, str, bool]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """For each phase, the reads' time in the server (answers kept, answers built) and the rest of their time
    (waiting for a server thread, the network and the reader), from --access-log."""
    found: dict[str, dict[str, list[float]]] = {}
    for number, (seconds_in_server, _, built) in in_server.items():
        started, _, seconds, _ = reads[number]
        phase = next((name for at, name in reversed(marks) if at <= started), marks[0][1])
        parts = found.setdefault(phase, {"in server, kept": [], "in server, built": [], "before the server": []})
        parts["in server, built" if built else "in server, kept"].append(seconds_in_server)
        parts["before the server"].append(max(0.0, seconds - seconds_in_server))
    found.pop("-", None)
    return {phase: {part: spread(values) for part, values in parts.items()} for phase, parts in found.items()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="carefund-petition-bench-"))
    postgres = not args.sqlite
    env = environment(postgres=postgres, pg_name=args.pg_name, workdir=workdir, rate_limits=args.rate_limits)
    if postgres:
        reset_postgres(args.pg_name)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from carefund.petitions.models import Petition, Postcode, Signature

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    petition = seed()
    postcodes = [p[:-3] + " " + p[-3:] for p in Postcode.objects.values_list("postcode", flat=True)]
    connections.close_all()

    port = free_port()
    access_log = workdir / "access.log"
    logging = ["--access-logfile", str(access_log), "--access-logformat", ACCESS_LOG_FORMAT] if args.access_log else []
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "--config",
            str(ROOT / "config" / "gunicorn.conf.py"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            *logging,
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(VENV_BIN / "carefund"), "db_worker", "--no-startup-delay", "--interval", "0.5"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    workers = [] if args.worker_after else [start_worker()]
    n = args.signatures
    offered = round(args.accept_rate * args.offer_seconds) if args.accept_rate > 0 else 0
    to_confirm = min(offered, round(args.confirm_rate * args.offer_seconds)) if args.confirm_rate > 0 else 0
    paths = {"page": f"/petitions/{petition.slug}/", "json": f"/petitions/{petition.slug}.json"}
    context = multiprocessing.get_context("spawn")
    stop, out = context.Event(), context.Queue()
    reading = context.Process(
        target=read_forever, args=(port, paths, args.read_rate, args.access_log, stop, out), daemon=True
    )
    marks: list[tuple[float, str]] = []

    def phase(name: str) -> None:
        marks.append((time.monotonic(), name))

    try:
        wait_until_up(port, server)
        client = Client(port)
        fire([lambda: client.request("GET", "/health/") for _ in range(1000)], clients=args.clients)
        fire([lambda: client.request("GET", paths["page"]) for _ in range(50)], clients=args.clients)

        phase("-")
        reading.start()
        time.sleep(1)
        phase("quiet")
        time.sleep(3)
        groups = {"server": server.pid, "worker": workers[0].pid} if workers else {"server": server.pid}
        meter = CpuMeter(groups=groups, pg_name=args.pg_name if postgres else "-")
        cpu: dict[str, dict[str, float]] = {}

        phase("trivial")
        cpu_before = meter.snapshot()
        trivial_s, trivial_statuses = fire(
            [lambda: client.request("GET", "/health/") for _ in range(n)], clients=args.clients
        )
        cpu_after = meter.snapshot()
        cpu["trivial"] = cpu_per_operation(cpu_before, cpu_after, n)

        def sign(i: int) -> int:
            body = {
                "name": f"Signer {i}",
                "email": f"signer{i}@{('gmail.com', 'outlook.com', 'example.org')[i % 3]}",
                "postcode": postcodes[i % len(postcodes)],
                "location": "GB",
                "uk_citizen_or_resident": True,
                "notify_by_email": i % 2 == 0,
            }
            return client.request(
                "POST",
                f"/api/petitions/{petition.slug}/signatures",
                json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )

        def confirm(token: str) -> int:
            return client.request("POST", f"/petitions/confirm/{token}/")

        def tokens_from(first: int) -> list[str]:
            """The tokens of the signatures written since signer `first`, as their emails would carry them."""
            found = list(
                Signature.objects.filter(petition=petition, name__startswith="Signer ")
                .order_by("id")
                .values_list("name", "token")
            )
            connections.close_all()
            return [token for name, token in found if int(name.removeprefix("Signer ")) >= first]

        phase("accept")
        cpu_before = meter.snapshot()
        accept_s, accept_statuses = fire([partial(sign, i) for i in range(n)], clients=args.clients)
        cpu_after = meter.snapshot()
        cpu["accept"] = cpu_per_operation(cpu_before, cpu_after, n)
        phase("-")
        tokens = tokens_from(0)
        phase("confirm")
        cpu_before = meter.snapshot()
        confirm_s, confirm_statuses = fire([partial(confirm, t) for t in tokens], clients=args.clients)
        cpu_after = meter.snapshot()
        cpu["confirm"] = cpu_per_operation(cpu_before, cpu_after, len(tokens))
        phase("-")
        confirmed_at = time.monotonic()
        open_loop: dict[str, dict[str, Any]] = {}
        confirmed = len(tokens)
        if offered:
            time.sleep(2)
            phase("offered accept")
            cpu_before = meter.snapshot()
            open_loop["accept"] = offer(
                [partial(sign, i) for i in range(n, n + offered)], rate=args.accept_rate, clients=args.offer_clients
            )
            cpu_after = meter.snapshot()
            cpu["offered accept"] = cpu_per_operation(cpu_before, cpu_after, offered)
            phase("-")
            more = tokens_from(n)[:to_confirm]
            if more:
                time.sleep(2)
                phase("offered confirm")
                cpu_before = meter.snapshot()
                open_loop["confirm"] = offer(
                    [partial(confirm, t) for t in more], rate=args.confirm_rate, clients=args.offer_clients
                )
                cpu_after = meter.snapshot()
                cpu["offered confirm"] = cpu_per_operation(cpu_before, cpu_after, len(more))
                phase("-")
                confirmed += len(more)
            confirmed_at = time.monotonic()
        if args.worker_after:  # the emails and the counter start only now
            workers.append(start_worker())
        if args.rate_limits:
            from carefund.petitions.models import SignatureState

            Signature.objects.filter(petition=petition, state=SignatureState.HELD).update(
                state=SignatureState.VALIDATED, suspect=False
            )
            client.request("POST", f"/petitions/confirm/{tokens[0]}/")  # a confirmation schedules a refresh
        count_lag = None
        while time.monotonic() - confirmed_at < 60:
            if Petition.objects.get(pk=petition.pk).signature_count == confirmed:
                count_lag = time.monotonic() - confirmed_at
                break
            time.sleep(0.1)
        connections.close_all()
        meter.close()
        stop.set()
        reads = out.get(timeout=30)
        reading.join(timeout=5)
        in_server = server_times(access_log, paths, reads) if args.access_log else {}
        latencies, slowest = read_latencies(reads, marks, in_server)

        final = Petition.objects.get(pk=petition.pk)
        counted = Signature.objects.filter(petition=petition, counted=True).count()
        open_statuses = {k: sorted(set(v.pop("statuses"))) for k, v in open_loop.items()}
        read_statuses = {r[3] for r in reads}
        result = {
            "database": "PostgreSQL" if postgres else "SQLite",
            "clients": args.clients,
            "signatures": n,
            "trivial_per_s": round(n / trivial_s),
            "accepted_per_s": round(n / accept_s),
            "confirmed_per_s": round(len(tokens) / confirm_s),
            "accept_ratio": round(trivial_s / accept_s, 2),
            "confirm_ratio": round(trivial_s / confirm_s, 2),
            "offered": open_loop,
            "statuses_ok": (
                set(trivial_statuses) == {200}
                and set(accept_statuses) == {202}
                and set(confirm_statuses) == {302}
                and open_statuses.get("accept", [202]) == [202]
                and open_statuses.get("confirm", [302]) == [302]
                and read_statuses <= {200}
            ),
            "failed_reads": sum(1 for r in reads if r[3] != 200),
            "statuses": {
                "accept": sorted(set(accept_statuses)),
                "confirm": sorted(set(confirm_statuses)),
                "offered": open_statuses,
                "reads": sorted(read_statuses),
            },
            "signatures_confirmed": confirmed,
            "count_shown": final.signature_count,
            "counted_rows": counted,
            "count_lag_s": None if count_lag is None else round(count_lag, 1),
            # CPU milliseconds per request by process during each burst (the reader's page and JSON reads included)
            "cpu_ms_per_request": cpu,
            "read_latency_ms": latencies,
            "slowest_reads": slowest,
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        }
        if args.access_log:
            result["read_time_split_ms"] = where_read_time_went(reads, marks, in_server)
        return result
    finally:
        stop.set()
        for proc in (server, *workers):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
        if reading.is_alive():
            reading.join(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signatures", type=int, default=3000, help="signatures in the saturating bursts")
    parser.add_argument("--clients", type=int, default=16, help="client threads of the saturating bursts")
    parser.add_argument("--read-rate", type=float, default=20, help="page reads and JSON reads a second, each")
    parser.add_argument("--accept-rate", type=float, default=500, help="signatures offered a second (0: no offer)")
    parser.add_argument("--confirm-rate", type=float, default=300, help="confirmations offered a second")
    parser.add_argument("--offer-seconds", type=float, default=10, help="how long each offered rate lasts")
    parser.add_argument("--offer-clients", type=int, default=64, help="client threads of the offered load")
    parser.add_argument("--access-log", action="store_true", help="log each read's time in the server")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--pg-name", default="carefund_i18", help="the PostgreSQL database to drop and recreate")
    parser.add_argument("--rate-limits", action="store_true", help="keep the per-IP rate limits on")
    parser.add_argument(
        "--worker-after", action="store_true", help="start the task worker only after the bursts (to see its cost)"
    )
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2))
    cpu = result["cpu_ms_per_request"]
    print(
        f"{result['database']}: trivial {result['trivial_per_s']}/s; accepted {result['accepted_per_s']}/s "
        f"(x{result['accept_ratio']}); confirmed {result['confirmed_per_s']}/s (x{result['confirm_ratio']}); "
        f"count exact: {result['count_shown'] == result['signatures_confirmed']} after {result['count_lag_s']} s; "
        f"CPU ms per request (all processes): trivial {cpu['trivial']['total']}, "
        f"accept {cpu['accept']['total']}, confirm {cpu['confirm']['total']}"
    )
    for what, got in result["offered"].items():
        reads = result["read_latency_ms"].get(f"offered {what}", {})
        print(
            f"offered {what}: {got['offered_per_s']}/s offered, {got['achieved_per_s']}/s achieved "
            f"(start lag p99 {got['start_lag_ms']['p99']} ms; answers p50 {got['answer_ms']['p50']} ms, "
            f"p99 {got['answer_ms']['p99']} ms); reads p50 / p99: "
            + "; ".join(f"{kind} {r['p50']} / {r['p99']} ms (n {r['n']})" for kind, r in reads.items())
        )
    return 0 if result["statuses_ok"] and result["count_shown"] == result["signatures_confirmed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
