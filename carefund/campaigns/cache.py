"""The public campaign page's slow parts, kept a few seconds in Django's cache (per server process).

The campaign page is read far more often than what it shows changes, and during a burst of gifts its reads compete
for the same CPU as the webhooks that confirm them. So the parts that may lag a few seconds (the Gift Aid to come,
the recent gifts, the updates, the surplus policy wording) are computed at most once per
`settings.CAMPAIGN_PAGE_CACHE_SECONDS` (0: off) per campaign and server process; the money raised is never cached
(the page reads it live, `selectors.raised_pence`). The rule is written down in docs/campaigns.md ("The public
campaign page").

A staff action that changes a cached part (a message moderated, an update posted, a Gift Aid declaration made or
cancelled) calls `campaign_public_cache_invalidate`, which forgets the entry at once and again after the transaction
commits (`transaction.on_commit`), so the process that served the staff member shows the change at once; other
processes show it within the time to live (the default cache, LocMemCache, is per process).

Invalidation moves a version number rather than only deleting the entry: an entry computed from data read before
the change but stored after it carries the old version and is not used."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

KEY_PREFIX = "carefund:campaign-public"
ALL_CAMPAIGNS_VERSION_KEY = f"{KEY_PREFIX}:all:version"

# One lock per campaign and process: when an entry runs out, one request thread recomputes it and the others
# wait for that result instead of running the same queries at the same moment.
_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def _entry_key(campaign_id: int, part: str = "page") -> str:
    return f"{KEY_PREFIX}:{campaign_id}" if part == "page" else f"{KEY_PREFIX}:{campaign_id}:{part}"


def _version_key(campaign_id: int) -> str:
    return f"{KEY_PREFIX}:{campaign_id}:version"


def _lookup(campaign_id: int, part: str) -> tuple[tuple[int, int], Any]:
    """The current (campaign, all-campaigns) versions, and the cached value if it was stored under them (else
    None). One `get_many`: three keys of the in-process cache."""
    entry_key, version_key = _entry_key(campaign_id, part), _version_key(campaign_id)
    found = cache.get_many([entry_key, version_key, ALL_CAMPAIGNS_VERSION_KEY])
    versions = (int(found.get(version_key, 0)), int(found.get(ALL_CAMPAIGNS_VERSION_KEY, 0)))
    entry = found.get(entry_key)
    if entry is not None and entry[0] == versions:
        return versions, entry[1]
    return versions, None


def campaign_public_cache_get_or_compute(*, campaign_id: int, compute: Callable[[], T], part: str = "page") -> T:
    """The cached value of a campaign's slow public parts, or `compute()` (stored for CAMPAIGN_PAGE_CACHE_SECONDS)
    when there is none, it ran out, or the campaign (or every campaign) was invalidated since. `part` names what is
    kept: the page's parts ("page") or another reader's (the JSON API's Gift Aid figure), each invalidated with the
    campaign. `compute` must return a picklable value that is not None."""
    seconds = max(0, int(getattr(settings, "CAMPAIGN_PAGE_CACHE_SECONDS", 0)))
    if seconds == 0:  # the cache is off
        return compute()
    _, value = _lookup(campaign_id, part)
    if value is not None:
        return value  # type: ignore[no-any-return]
    with _locks_guard:
        lock = _locks.setdefault(campaign_id, threading.Lock())
    with lock:
        versions, value = _lookup(campaign_id, part)  # another thread may have just computed it
        if value is not None:
            return value  # type: ignore[no-any-return]
        value = compute()
        cache.set(_entry_key(campaign_id, part), (versions, value), seconds)
        return value


def campaign_public_cache_invalidate(*, campaign_id: int | None) -> None:
    """Forget the cached page parts of one campaign (`campaign_id`), or of every campaign (None: e.g. a Gift Aid
    declaration cancelled, which may change the Gift Aid of any campaign its donor gave to), in this process: now
    (so later reads in the same transaction, and the tests, which never commit, see the change) and again once the
    transaction commits (an entry another thread recomputed in between, from the data before the commit)."""
    _forget(campaign_id)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _forget(campaign_id))


def _forget(campaign_id: int | None) -> None:
    if campaign_id is None:
        _bump(ALL_CAMPAIGNS_VERSION_KEY)
        return
    cache.delete(_entry_key(campaign_id))
    _bump(_version_key(campaign_id))


def _bump(key: str) -> None:
    # Versions never expire on their own; if the cache evicts one it starts again from 0, and an entry stored
    # under an older version lives at most CAMPAIGN_PAGE_CACHE_SECONDS anyway.
    cache.add(key, 0, None)
    try:
        cache.incr(key)
    except ValueError:  # evicted between the two calls
        cache.set(key, 1, None)
