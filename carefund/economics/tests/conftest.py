"""The economics tests start each test with an empty cache: django-ratelimit counts the runs an address starts there
(ECONOMICS_RUNS_PER_ADDRESS), and the test client always posts from the same address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_run_counts() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
