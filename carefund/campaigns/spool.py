"""The webhook spool: where a server process writes the paid checkout completions it answered at once, for the
confirmer to move into the database queue and post (docs/adr/0020-payment-webhooks.md, "The spool").

Why: on SQLite the database has one writer, and the confirmer holds it while it posts a batch; an answer that had to
INSERT its event waited for that, and paid a transaction of its own. Appending one line to a file costs a write
system call and waits for nobody.

The format: a directory of segments, `<ns since epoch>-<host>-<pid>.jsonl`, one JSON object per line, each line
written with one `write` to a file opened for appending. A segment is written by one process only, which holds a
shared `flock` on it for as long as it may write to it: a segment nobody holds a lock on is *sealed* and never
written again (a process opens a new segment after a fork, after `ROTATE_BYTES`, or after a failed write; the lock
is released by the kernel if the process dies). A segment is created under a `.tmp` name, locked, then renamed, so a
reader never sees an unlocked segment that is still to be written.

How far the confirmer has read each segment is kept in the database (`WebhookSpoolSegment`), updated in the same
transaction that records the events it read, so a crash re-reads at most what was not committed; the events' unique
ids make a second reading harmless anyway. A sealed segment read to its end is deleted.

Durability: a line is in the operating system's page cache when `write` returns, so it survives the server process
crashing, not the machine losing power: the guarantee SQLite gives in WAL mode with `synchronous=NORMAL` (carefund's
setting). PostgreSQL commits are flushed to disk, so there the spool is off by default (settings.WEBHOOK_SPOOL_DIR).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SUFFIX = ".jsonl"
ROTATE_BYTES = 8 * 1024 * 1024  # a process starts a new segment after this many bytes
READ_CHUNK = 1024 * 1024  # at most this much of one segment is read per call


class SpoolWriteError(OSError):
    """The line could not be written whole (the caller records the event another way)."""


class SpoolWriter:
    """Appends lines to this process's open segment (thread-safe; one per process, reopened after a fork)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._size = 0
        self.segment = ""

    def append(self, record: dict[str, Any]) -> None:
        """Write `record` as one line; raises SpoolWriteError (or OSError) if it is not all written."""
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            if self._fd is None or self._pid != os.getpid() or self._size >= ROTATE_BYTES:
                self._open()
            assert self._fd is not None
            try:
                written = os.write(self._fd, line)
            except OSError:
                self._close()  # whatever reached the file is a torn last line of a sealed segment
                raise
            if written != len(line):
                self._close()
                raise SpoolWriteError(f"wrote {written} of {len(line)} bytes to the webhook spool")
            self._size += written

    def close(self) -> None:
        with self._lock:
            self._close()

    def _open(self) -> None:
        if self._pid != os.getpid() and self._fd is not None:
            # inherited through a fork: the parent's segment is the parent's. Close this process's copy of the
            # descriptor, or the shared lock it carries would keep the parent's segment from ever being sealed.
            os.close(self._fd)
            self._fd = None
        self._close()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{socket.gethostname()}-{os.getpid()}"
        temporary = self.directory / f"{name}.tmp"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fd = os.open(temporary, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            os.rename(temporary, self.directory / f"{name}{SUFFIX}")
        except OSError:
            os.close(fd)
            raise
        self._fd, self._pid, self._size, self.segment = fd, os.getpid(), 0, f"{name}{SUFFIX}"

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock: the segment is sealed
        self._fd, self._size, self.segment = None, 0, ""


_writers: dict[str, SpoolWriter] = {}
_writers_lock = threading.Lock()


def writer(directory: str | os.PathLike[str]) -> SpoolWriter:
    """This process's writer for `directory`."""
    key = str(directory)
    with _writers_lock:
        found = _writers.get(key)
        if found is None:
            found = _writers[key] = SpoolWriter(directory)
        return found


@dataclass(frozen=True)
class Line:
    """One complete line read from a segment: its parsed record (None if it is not a JSON object: logged) and the
    offset just after it."""

    segment: str
    end: int
    record: dict[str, Any] | None


def segments(directory: str | os.PathLike[str]) -> list[str]:
    """The segments' names, oldest first (the name starts with its creation time)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if name.endswith(SUFFIX))


def unread(directory: str | os.PathLike[str], positions: dict[str, int]) -> dict[str, int]:
    """Segment name -> bytes not read yet (only segments with some), from the files' sizes; no file is opened."""
    out = {}
    for name in segments(directory):
        try:
            size = os.stat(os.path.join(directory, name)).st_size
        except FileNotFoundError:
            continue
        if size > positions.get(name, 0):
            out[name] = size - positions.get(name, 0)
    return out


@dataclass(frozen=True)
class Waiting:
    """What the spool holds that the confirmer has not read: whole lines, and when the oldest was received."""

    lines: int
    oldest_received_at: str | None  # ISO timestamp, as written


def waiting(directory: str | os.PathLike[str], positions: dict[str, int]) -> Waiting:
    """Count the complete lines after each segment's position (reading only the unread parts, a block at a time)
    and find the earliest `received_at` among each segment's first unread line."""
    lines = 0
    oldest: str | None = None
    for name, _ in unread(directory, positions).items():
        try:
            with open(os.path.join(directory, name), "rb") as handle:
                handle.seek(positions.get(name, 0))
                first = handle.readline()
                if not first.endswith(b"\n"):
                    continue  # only a line still being written
                lines += 1
                record = _parse(first, name, positions.get(name, 0))
                when = record.get("received_at") if record is not None else None
                if isinstance(when, str) and (oldest is None or when < oldest):
                    oldest = when
                while block := handle.read(READ_CHUNK):
                    lines += block.count(b"\n")
        except FileNotFoundError:
            continue
    return Waiting(lines=lines, oldest_received_at=oldest)


def read(
    directory: str | os.PathLike[str], positions: dict[str, int], *, limit: int, received_before: str | None = None
) -> list[Line]:
    """Up to `limit` complete lines after each segment's position, oldest segment first. A line not yet ended by a
    newline (being written) is left for later. With `received_before` (an ISO timestamp), a segment is read only up
    to its first line received at or after it."""
    out: list[Line] = []
    for name in segments(directory):
        if len(out) >= limit:
            break
        start = positions.get(name, 0)
        try:
            with open(os.path.join(directory, name), "rb") as handle:
                handle.seek(start)
                chunk = handle.read(READ_CHUNK)
        except FileNotFoundError:
            continue
        offset = start
        for raw in chunk.split(b"\n")[:-1]:  # the piece after the last newline is not a whole line yet
            end = offset + len(raw) + 1
            record = _parse(raw, name, offset)
            if received_before is not None and record is not None and str(record.get("received_at")) >= received_before:
                break
            out.append(Line(segment=name, end=end, record=record))
            offset = end
            if len(out) >= limit:
                break
    return out


def _parse(raw: bytes, segment: str, offset: int) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        logger.error("webhook spool %s: the line at byte %s is not a JSON object; skipped", segment, offset)
        return None
    return record


def sealed(path: str | os.PathLike[str]) -> bool:
    """True if no process holds the segment open for writing (it will never grow again)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also releases the lock just taken
    return True


def finished(directory: str | os.PathLike[str], positions: dict[str, int]) -> list[str]:
    """Delete the sealed segments read to their end and return their names (and those of positions whose segment is
    gone), for the caller to forget. A sealed segment whose unread rest holds no newline ends in a line torn by a
    process that died writing it, which was never answered: logged and deleted with it."""
    gone = [name for name in positions if not os.path.exists(os.path.join(directory, name))]
    for name in segments(directory):
        path = os.path.join(directory, name)
        if not sealed(path):  # first: once sealed, its size is final
            continue
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            continue
        position = positions.get(name, 0)
        if position < size and not _torn_tail(path, position):
            continue
        if position < size:
            logger.warning("webhook spool %s: %s bytes after the last whole line dropped", name, size - position)
        os.unlink(path)
        gone.append(name)
    return gone


def _torn_tail(path: str, position: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(position)
        return b"\n" not in handle.read(READ_CHUNK)
