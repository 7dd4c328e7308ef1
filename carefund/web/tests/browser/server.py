"""A demo site for the browser tests and the screenshots: a fresh SQLite database in a temporary folder, migrated
and loaded with `carefund demo`, served by gunicorn as in production (DEBUG off, so the site's own error pages
answer) and test payments on, with the task worker beside it as `make run` starts them (it applies the payment
events the site receives)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Debian's chromium, never a browser Playwright downloads; no calls home of its own (updates, sync, field trials).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def missing_tools() -> list[str]:
    """What `make test-browser` installs and is not here."""
    return [str(path) for path in (CHROMIUM, AXE) if not path.exists()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def demo_site() -> Iterator[str]:
    """Yield the base URL ("http://127.0.0.1:PORT") of a freshly loaded demo site; stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="carefund-browser-") as folder:
        port = _free_port()
        env = {
            **os.environ,
            "DEBUG": "0",
            "PAYMENTS_TEST_MODE": "1",  # the built-in test gateway takes the gifts (and every page says so)
            "DATABASE_URL": f"sqlite:///{folder}/carefund.sqlite3",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "8",
        }
        carefund = str(BIN / "carefund")
        _run([carefund, "migrate", "--noinput", "--verbosity", "0"], env)
        _run([carefund, "collectstatic", "--noinput", "--verbosity", "0"], env)
        _run([carefund, "demo", "--allow-demo-accounts"], env)
        log = open(Path(folder) / "server.log", "wb")  # noqa: SIM115 - closed below, after the server stops
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # the task worker beside it, as `make run` starts them: it applies the payment events the site receives
        worker = subprocess.Popen(
            [str(BIN / "carefund"), "db_worker", "--no-startup-delay", "--interval", "0.1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base_url}/health/", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the demo site did not start: {(Path(folder) / 'server.log').read_text()[-2000:]}"
                        ) from None
                    time.sleep(0.3)
            yield base_url
        finally:
            worker.terminate()
            server.terminate()
            worker.wait(timeout=30)
            server.wait(timeout=30)
            log.close()
