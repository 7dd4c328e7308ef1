"""References to documentation files are kept off people's pages: the file names are dropped, the rest kept."""

from __future__ import annotations

import pytest

from carefund.web.templatetags.plain import without_file_notes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "assumption: no SDR transition data (notes.md 3.6); lognormal around 0.7",
            "assumption: no SDR transition data; lognormal around 0.7",
        ),
        (
            "12 sessions x £70, price notes.md 4.8 (https://example.org/a)",
            "12 sessions x £70, price (https://example.org/a)",
        ),
        (
            "notes.md 1.1-1.3, 1.7, 1.13; https://www.england.nhs.uk/x/ ; equal share (assumption, notes.md 1.13)",
            "https://www.england.nhs.uk/x/; equal share (assumption)",
        ),
        (
            "sources.md: Summers 2019: CtE mean age 6.0 y; https://example.org/b",
            "Summers 2019: CtE mean age 6.0 y; https://example.org/b",
        ),
        ("no reference at all: 3.6 and 4.1", "no reference at all: 3.6 and 4.1"),
        ("", ""),
    ],
)
def test_without_file_notes(text: str, expected: str) -> None:
    assert without_file_notes(text) == expected
