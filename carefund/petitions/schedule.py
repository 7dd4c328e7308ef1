"""Scheduling batch work on the one task queue at most once per interval and server process.

The busiest writers of petitions (signing, confirming) never queue a task each: after their transaction commits
they ask for the batch that handles them (the counter, the confirmation emails) to run at the end of the current
interval, and only the first request of the interval in this process queues it (a key in the local cache). Every
write is therefore followed by a batch that starts after it committed, and a burst costs one task per interval and
process (docs/adr/0050-petition-counting.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.cache import cache

from carefund.core import clock


def enqueue_once_per_interval(task: Any, *, key: str, interval: float, **kwargs: Any) -> None:
    """Queue `task(**kwargs)` to run at the end of the current `interval`-second window, unless this process already
    queued it for this window. A backend that cannot defer (the tests' immediate one), or an interval of 0, queues
    it at once, every time."""
    if interval <= 0 or not task.get_backend().supports_defer:
        task.enqueue(**kwargs)
        return
    window = int(clock.now().timestamp() // interval)
    if not cache.add(f"carefund:petitions-batch:{key}:{window}", 1, timeout=int(interval) + 5):
        return  # this process already queued the batch that follows this write
    task.using(run_after=dt.datetime.fromtimestamp((window + 1) * interval, tz=dt.UTC)).enqueue(**kwargs)
