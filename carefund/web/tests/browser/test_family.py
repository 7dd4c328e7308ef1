"""A guardian's pages speak plain words: no research notes, file names, code names or news-site addresses."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.browser

# What a family must never read: notes for researchers and maintainers.
RESEARCH_NOTES = re.compile(
    r"sdr\.md|\.md\b|UNCONFIRMED|configurable assumption|half_cycle|rr_decline|_pence\b|https?://",
    re.IGNORECASE,
)


def test_a_guardians_pages_are_free_of_research_notes(visit: Any) -> None:
    tab = visit()
    tab.sign_in("guardian")
    links = tab.page.locator(".card a")
    paths = ["/start/", *[links.nth(i).get_attribute("href") for i in range(links.count())]]
    assert len(paths) >= 4
    for path in paths:
        tab.go(path)
        text = tab.page.inner_text("main")
        found = RESEARCH_NOTES.findall(text)
        assert found == [], f"{path}: {found}"
