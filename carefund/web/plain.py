"""Plain words for families and the public about where a figure comes from. Staff pages show the sources
themselves; docs/sources.md cites them."""

from __future__ import annotations

_ESTIMATE_MARKS = ("unconfirmed", "assumption")


def plain_cost_note(source: str) -> str:
    """What a care-plan cost is, in words: the charity's own estimate where no price is published, otherwise a
    price drawn from published figures. Empty when the cost says nothing of its source."""
    text = source.strip().lower()
    if not text:
        return ""
    if any(mark in text for mark in _ESTIMATE_MARKS):
        return "No published price: this is the charity's estimate, and the bill decides what is paid."
    return "Based on prices published by providers and families; the bill decides what is paid."
