"""The ledger's own tests build books of the ledger alone (child ids without children, no gifts, a bank that pays
before money arrives): the reconciliations that `ledger check` collects through `book_checks` (the money held, the
gifts, the child funds) are left out, except in tests marked `book_checks` (test_book_checks.py)."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest

from carefund.ledger.integrity import book_checks


@pytest.fixture(autouse=True)
def _ledger_alone(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("book_checks"):
        yield
        return
    with mock.patch.object(book_checks, "receivers", []), mock.patch.object(book_checks, "sender_receivers_cache", {}):
        yield
