"""Finding 7 of issue 16 (backups): `carefund backup DIR` while gifts are being confirmed, then `carefund restore FILE`
into an empty database in another process: every gift committed before the backup began is there, confirmed and
posted, nothing is there that was never committed, and the restored book is clean. (A plain copy of the SQLite file
while the server ran lost 30 transactions and 18 gifts, and `ledger check` called the copy clean.)"""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from carefund.campaigns.tests.factories import make_campaign, make_pending

ROOT = Path(__file__).resolve().parents[3]


# A server taking gifts, in a process of its own on a real SQLite file (WAL, as `make run` serves): each gift confirmed
# through the webhook, its id written to a file once its commit has returned.
LOAD = """
import sys, django
django.setup()
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign, make_pending
campaign = make_campaign()
with open(sys.argv[1], "a") as out:
    while True:
        gift = make_pending(campaign, amount_pence=1000)
        if deliver(completed_event(gift, fee_pence=35)).status_code == 200:
            out.write(f"{gift.pk}\\n")
            out.flush()
"""


def _carefund(*args: str, database: Path, **kwargs: Any) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_URL", "WEBHOOK_"))}
    env |= {
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PAYMENTS_TEST_MODE": "1",
        "WEBHOOK_CONFIRM_AFTER_ANSWER": "0",
        "WEBHOOK_SPOOL_DIR": "",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    runner = subprocess.Popen if kwargs.pop("background", False) else subprocess.run
    return runner([sys.executable, *args], env=env, cwd=ROOT, text=True, **kwargs)


def _ids(path: Path) -> set[int]:
    return {int(line) for line in path.read_text().splitlines() if line.strip()}


@pytest.mark.slow
def test_a_backup_taken_under_load_restores_every_committed_gift(tmp_path: Path) -> None:
    live, restored_db, ids = tmp_path / "live.sqlite3", tmp_path / "restored.sqlite3", tmp_path / "committed.txt"
    migrated = _carefund("manage.py", "migrate", "--noinput", database=live, capture_output=True, timeout=600)
    assert migrated.returncode == 0, migrated.stderr
    ids.write_text("")
    load = _carefund("-c", LOAD, str(ids), database=live, background=True, stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while len(_ids(ids)) < 20 and time.monotonic() < deadline and load.poll() is None:
            time.sleep(0.1)
        before = _ids(ids)  # committed before the backup began
        backup = _carefund("manage.py", "backup", str(tmp_path / "backups"), database=live, capture_output=True,
                           timeout=300)  # fmt: skip
        during = _ids(ids)
    finally:
        load.terminate()
        load.wait(timeout=60)
    assert len(before) >= 20, load.stderr.read() if load.stderr else ""
    assert len(during) > len(before)  # gifts went on being confirmed while the backup ran
    assert backup.returncode == 0, backup.stderr
    (copy,) = (tmp_path / "backups").glob("carefund-*.sqlite3")
    assert f"backup written: {copy}" in backup.stdout

    run = _carefund("manage.py", "restore", str(copy), database=restored_db, capture_output=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.endswith("ledger check: clean\n")
    with sqlite3.connect(restored_db) as db:
        rows = db.execute(
            "SELECT d.id FROM campaigns_donation d JOIN ledger_transaction t ON t.id = d.ledger_transaction_id "
            "WHERE d.status = 'succeeded' AND t.is_posted = 1"
        ).fetchall()
    restored = {pk for (pk,) in rows}
    assert before <= restored  # every gift committed before the backup began, confirmed and posted
    assert restored <= _ids(ids) | {max(_ids(ids), default=0) + 1}  # nothing that was never committed (the last
    # gift may have committed just before the load stopped, without its id written)


@pytest.mark.django_db
def test_restore_refuses_a_database_that_holds_data_or_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello")
    with pytest.raises(CommandError, match="already holds carefund's tables; restore into an empty database"):
        call_command("restore", str(not_a_backup), stdout=io.StringIO())
    with pytest.raises(CommandError, match="no such backup file"):
        call_command("restore", str(tmp_path / "missing.sqlite3"), "--replace", stdout=io.StringIO())
    with pytest.raises(CommandError, match=r"not a (SQLite|PostgreSQL) backup"):
        call_command("restore", str(not_a_backup), "--replace", stdout=io.StringIO())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_postgresql_backup_is_a_dump_pg_restore_can_read(tmp_path: Path) -> None:
    make_pending(make_campaign())
    call_command("backup", str(tmp_path), stdout=io.StringIO())
    (dump,) = tmp_path.glob("carefund-*.pgdump")
    listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True)
    assert "TABLE DATA public campaigns_donation" in listing.stdout
    assert "TRIGGER public ledger_posting ledger_posting_no_truncate" in listing.stdout
