"""Backups and restores of the whole database (docs/operations.md, "Backups").

SQLite: the online backup API copies a consistent snapshot while the server keeps running (a plain copy of the file,
with its write-ahead log beside it, lost committed gifts). PostgreSQL: pg_dump's custom format, restored by
pg_restore. A restore is followed by `ledger check` on the restored book."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.db import connection

SQLITE_SUFFIX = ".sqlite3"
POSTGRES_SUFFIX = ".pgdump"


class BackupError(Exception):
    """A backup or restore that could not be made, with what to do."""


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed: install PostgreSQL's client tools (apt install postgresql-client)")
    return path


def _pg_env(settings_dict: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    args = ["--dbname", str(settings_dict["NAME"])]
    if settings_dict.get("HOST"):
        args += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", str(settings_dict["USER"])]
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    return args, env


def backup_make(*, directory: Path) -> Path:
    """Write a backup of the database into `directory` (created if missing); returns the file. The file is written
    under a temporary name and renamed when complete, so a backup file is never half a backup."""
    directory.mkdir(parents=True, exist_ok=True)
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        target = directory / f"carefund-{_stamp()}{SQLITE_SUFFIX}"
        partial = target.with_suffix(".partial")
        dest = sqlite3.connect(partial)
        try:
            # one step (pages=-1): the copy is one consistent snapshot of what was committed when it began
            connection.connection.backup(dest)
            problem = dest.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dest.close()
        if problem != "ok":
            partial.unlink(missing_ok=True)
            raise BackupError(f"the copy failed SQLite's integrity check ({problem}); nothing was kept")
        partial.rename(target)
        return target
    if connection.vendor == "postgresql":
        pg_dump = _tool("pg_dump")
        target = directory / f"carefund-{_stamp()}{POSTGRES_SUFFIX}"
        partial = target.with_suffix(".partial")
        args, env = _pg_env(connection.settings_dict)
        done = subprocess.run(  # noqa: S603 - a list of arguments from the settings, no shell
            [pg_dump, "--format=custom", "--no-owner", "--file", str(partial), *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        partial.rename(target)
        return target
    raise BackupError(f"backups of a {connection.vendor} database are not supported")


def backup_restore(*, source: Path, replace: bool = False) -> None:
    """Restore a backup made by `backup_make` into the configured database. Refuses to overwrite a database that
    already holds carefund's tables unless `replace`."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    connection.ensure_connection()
    has_tables = "django_migrations" in connection.introspection.table_names()
    if has_tables and not replace:
        raise BackupError(
            "the database already holds carefund's tables; restore into an empty database, or pass --replace to "
            "overwrite it (stop the server and the worker first)"
        )
    if connection.vendor == "sqlite":
        if source.suffix != SQLITE_SUFFIX:
            raise BackupError(f"{source.name}: not a SQLite backup (expected a {SQLITE_SUFFIX} file)")
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source.name} fails SQLite's integrity check: it is damaged")
            src.backup(connection.connection)
        finally:
            src.close()
        return
    if connection.vendor == "postgresql":
        if source.suffix != POSTGRES_SUFFIX:
            raise BackupError(f"{source.name}: not a PostgreSQL backup (expected a {POSTGRES_SUFFIX} file)")
        args, env = _pg_env(connection.settings_dict)
        connection.close()
        flags = ["--no-owner", "--exit-on-error", *(["--clean", "--if-exists"] if replace else [])]
        done = subprocess.run(  # noqa: S603 - a list of arguments from the settings and the command line, no shell
            [_tool("pg_restore"), *flags, *args, str(source)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
        return
    raise BackupError(f"restores into a {connection.vendor} database are not supported")
