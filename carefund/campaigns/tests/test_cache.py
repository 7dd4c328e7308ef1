"""The campaign page's cache (campaigns/cache.py): reuse within the time to live, invalidation of one campaign or
of all, a change made while a value is being computed, and one computation at a time per campaign."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from carefund.campaigns.cache import campaign_public_cache_get_or_compute, campaign_public_cache_invalidate


class Counter:
    """A `compute` that returns a new value each call and counts its calls."""

    def __init__(self, label: str = "v", delay: float = 0.0) -> None:
        self.calls = 0
        self.label = label
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self) -> str:
        time.sleep(self.delay)
        with self._lock:
            self.calls += 1
            return f"{self.label}{self.calls}"


@pytest.fixture(autouse=True)
def _five_seconds(settings: Any) -> None:
    settings.CAMPAIGN_PAGE_CACHE_SECONDS = 5


def get(campaign_id: int, compute: Counter) -> str:
    return campaign_public_cache_get_or_compute(campaign_id=campaign_id, compute=compute)


def test_a_value_is_computed_once_and_reused() -> None:
    compute = Counter()
    assert [get(1, compute), get(1, compute), get(1, compute)] == ["v1", "v1", "v1"]
    assert compute.calls == 1


def test_invalidating_one_campaign_leaves_the_others() -> None:
    one, two = Counter("a"), Counter("b")
    assert (get(1, one), get(2, two)) == ("a1", "b1")
    campaign_public_cache_invalidate(campaign_id=1)
    assert (get(1, one), get(2, two)) == ("a2", "b1")


def test_invalidating_all_campaigns() -> None:
    one, two = Counter("a"), Counter("b")
    get(1, one), get(2, two)
    campaign_public_cache_invalidate(campaign_id=None)
    assert (get(1, one), get(2, two)) == ("a2", "b2")
    assert (get(1, one), get(2, two)) == ("a2", "b2")  # and cached again afterwards
    campaign_public_cache_invalidate(campaign_id=None)  # a second time moves the version on again
    assert (get(1, one), get(2, two)) == ("a3", "b3")


def test_a_value_computed_before_a_change_and_stored_after_it_is_not_used() -> None:
    """A request thread computes from the data before a change; the change's invalidation runs while it computes;
    what it then stores carries the old version and the next read computes afresh."""
    compute = Counter()

    def changing_meanwhile() -> str:
        value = compute()
        campaign_public_cache_invalidate(campaign_id=1)
        return value

    assert campaign_public_cache_get_or_compute(campaign_id=1, compute=changing_meanwhile) == "v1"
    assert get(1, compute) == "v2"
    assert get(1, compute) == "v2"


def test_no_cache_when_the_time_to_live_is_zero(settings: Any) -> None:
    settings.CAMPAIGN_PAGE_CACHE_SECONDS = 0
    compute = Counter()
    assert [get(1, compute), get(1, compute)] == ["v1", "v2"]


def test_threads_asking_at_once_compute_once() -> None:
    compute = Counter(delay=0.05)
    results: list[str] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        results.append(get(7, compute))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["v1"] * 8
    assert compute.calls == 1
