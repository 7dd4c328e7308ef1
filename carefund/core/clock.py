"""One place that says what time it is, so tests and the story can set the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    return _frozen if _frozen is not None else timezone.now()


def today() -> dt.date:
    return timezone.localdate(now())


@contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[None]:
    """Make `now()` return `moment` inside the block (used by the story and by tests)."""
    global _frozen
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    previous, _frozen = _frozen, moment
    try:
        yield
    finally:
        _frozen = previous
