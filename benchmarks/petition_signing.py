"""Petition signatures accepted and confirmed per second through the real endpoints, beside a trivial view on the
same server in the same run; the petition page's and JSON's latency under that load; how soon the count shows.

    .venv/bin/python -m benchmarks.petition_signing [--signatures 3000] [--clients 16] [--read-rate 20] [--sqlite]

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
7. during steps 4-6 one more client reads the petition page and its JSON `--read-rate` times a second each and
   reports their latency percentiles;
8. for steps 4-6 it reports the CPU milliseconds per request used by the server, the task worker, the PostgreSQL
   backends of the benchmark's database and this client (from /proc): on a shared machine the comparable figure.
Signing from one address trips the per-IP rate limits (every signature would be held for a moderator), so the
server runs with PETITION_RATE_LIMITS=0 unless --rate-limits is given (then the count check releases the held
signatures first, as a moderator would).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
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


def cpu_snapshot(*, groups: dict[str, int], pg_name: str) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process group (the server, the task worker), by the
    PostgreSQL backends connected to the benchmark's database, and by this client process. On a shared machine
    the CPU per operation is the comparable figure, not the wall-clock rate (docs/benchmarks.md)."""
    found = dict.fromkeys(groups, 0.0) | {"postgres": 0.0}
    by_group = {pgid: name for name, pgid in groups.items()}
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        fields = _proc_stat(pid)
        if fields is None:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / _TICK
        name = by_group.get(int(fields[2]))
        if name is not None:
            found[name] += seconds
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                title = fh.read().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {pg_name} " in title:
            found["postgres"] += seconds
    found["client"] = time.process_time()
    return found


def cpu_per_operation(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    """Milliseconds of CPU per operation, by process, and in all."""
    per = {name: round(1000 * (after[name] - before[name]) / max(n, 1), 2) for name in before}
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
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "--config",
            str(ROOT / "config" / "gunicorn.conf.py"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "16",
            "--log-level",
            "warning",
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
    page, doc = f"/petitions/{petition.slug}/", f"/petitions/{petition.slug}.json"
    try:
        wait_until_up(port, server)
        client = Client(port)
        fire([lambda: client.request("GET", "/health/") for _ in range(1000)], clients=args.clients)
        fire([lambda: client.request("GET", page) for _ in range(50)], clients=args.clients)

        stop = threading.Event()
        phase = ["trivial"]
        latencies: dict[str, dict[str, list[float]]] = {
            p: {"page": [], "json": []} for p in ("trivial", "accept", "confirm")
        }
        read_statuses: list[int] = []
        reader = Client(port)

        def read() -> None:
            next_at = time.perf_counter()
            while not stop.is_set():
                for kind, path in (("page", page), ("json", doc)):
                    pause = next_at - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                    next_at += 1 / (2 * args.read_rate)
                    t0 = time.perf_counter()
                    try:
                        read_statuses.append(reader.request("GET", path))
                    except OSError:  # counted as a failed read (status 0), and the reader goes on
                        read_statuses.append(0)
                        continue
                    latencies[phase[0]][kind].append(time.perf_counter() - t0)

        reading = threading.Thread(target=read, daemon=True)
        reading.start()
        groups = {"server": server.pid, "worker": workers[0].pid} if workers else {"server": server.pid}
        pg = args.pg_name if postgres else "-"
        cpu: dict[str, dict[str, float]] = {}

        cpu_before = cpu_snapshot(groups=groups, pg_name=pg)
        trivial_s, trivial_statuses = fire(
            [lambda: client.request("GET", "/health/") for _ in range(n)], clients=args.clients
        )
        cpu_after = cpu_snapshot(groups=groups, pg_name=pg)
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

        phase[0] = "accept"
        cpu_before = cpu_snapshot(groups=groups, pg_name=pg)
        accept_s, accept_statuses = fire([partial(sign, i) for i in range(n)], clients=args.clients)
        cpu_after = cpu_snapshot(groups=groups, pg_name=pg)
        cpu["accept"] = cpu_per_operation(cpu_before, cpu_after, n)
        tokens = list(Signature.objects.filter(petition=petition).values_list("token", flat=True))
        connections.close_all()
        phase[0] = "confirm"
        cpu_before = cpu_snapshot(groups=groups, pg_name=pg)
        confirm_s, confirm_statuses = fire(
            [partial(client.request, "POST", f"/petitions/confirm/{t}/") for t in tokens], clients=args.clients
        )
        cpu_after = cpu_snapshot(groups=groups, pg_name=pg)
        cpu["confirm"] = cpu_per_operation(cpu_before, cpu_after, len(tokens))
        confirmed_at = time.perf_counter()
        if args.worker_after:  # the emails and the counter start only now
            workers.append(start_worker())
        if args.rate_limits:
            from carefund.petitions.models import SignatureState

            Signature.objects.filter(petition=petition, state=SignatureState.HELD).update(
                state=SignatureState.VALIDATED, suspect=False
            )
            client.request("POST", f"/petitions/confirm/{tokens[0]}/")  # a confirmation schedules a refresh
        count_lag = None
        while time.perf_counter() - confirmed_at < 60:
            if Petition.objects.get(pk=petition.pk).signature_count == len(tokens):
                count_lag = time.perf_counter() - confirmed_at
                break
            time.sleep(0.1)
        connections.close_all()
        stop.set()
        reading.join(timeout=5)

        final = Petition.objects.get(pk=petition.pk)
        counted = Signature.objects.filter(petition=petition, counted=True).count()
        result = {
            "database": "PostgreSQL" if postgres else "SQLite",
            "clients": args.clients,
            "signatures": n,
            "trivial_per_s": round(n / trivial_s),
            "accepted_per_s": round(n / accept_s),
            "confirmed_per_s": round(len(tokens) / confirm_s),
            "accept_ratio": round(trivial_s / accept_s, 2),
            "confirm_ratio": round(trivial_s / confirm_s, 2),
            "statuses_ok": (
                set(trivial_statuses) == {200}
                and set(accept_statuses) == {202}
                and set(confirm_statuses) == {302}
                and set(read_statuses) <= {200}
            ),
            "failed_reads": sum(1 for status in read_statuses if status != 200),
            "statuses": {
                "accept": sorted(set(accept_statuses)),
                "confirm": sorted(set(confirm_statuses)),
                "reads": sorted(set(read_statuses)),
            },
            "signatures_written": len(tokens),
            "count_shown": final.signature_count,
            "counted_rows": counted,
            "count_lag_s": None if count_lag is None else round(count_lag, 1),
            # CPU milliseconds per request by process during each burst (the reader's page and JSON reads included)
            "cpu_ms_per_request": cpu,
            "read_latency_ms": {
                p: {
                    kind: {
                        "p50": ms(lambda v: percentile(v, 50), values),
                        "p99": ms(lambda v: percentile(v, 99), values),
                        "n": len(values),
                    }
                    for kind, values in kinds.items()
                }
                for p, kinds in latencies.items()
            },
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        }
        return result
    finally:
        for proc in (server, *workers):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signatures", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--read-rate", type=float, default=20, help="page reads and JSON reads a second, each")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--pg-name", default="carefund_i18", help="the PostgreSQL database to drop and recreate")
    parser.add_argument("--rate-limits", action="store_true", help="keep the per-IP rate limits on")
    parser.add_argument(
        "--worker-after", action="store_true", help="start the task worker only after the bursts (to see its cost)"
    )
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2))
    print(
        f"{result['database']}: trivial {result['trivial_per_s']}/s; accepted {result['accepted_per_s']}/s "
        f"(x{result['accept_ratio']}); confirmed {result['confirmed_per_s']}/s (x{result['confirm_ratio']}); "
        f"count exact: {result['count_shown'] == result['signatures_written']} after {result['count_lag_s']} s; "
        f"CPU ms per request (all processes): trivial {result['cpu_ms_per_request']['trivial']['total']}, "
        f"accept {result['cpu_ms_per_request']['accept']['total']}, "
        f"confirm {result['cpu_ms_per_request']['confirm']['total']}"
    )
    return 0 if result["statuses_ok"] and result["count_shown"] == result["signatures_written"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
