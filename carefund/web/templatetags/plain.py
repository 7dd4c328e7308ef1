"""Template filters that keep research notes off people's pages."""

from __future__ import annotations

import re

from django import template

register = template.Library()

# "sdr.md 4.8", "(economics.md 3.6)", "sdr.md 4.1/4.13", "sdr.md rows 1.1-1.3, 1.7": notes to files users cannot read
_FILE_REFERENCE = re.compile(r"\b[\w-]+\.md(?:\s+(?:rows?\s+)?\d[\d.,/\s-]*\d)?")


@register.filter
def without_file_notes(text: str) -> str:
    """`text` without its references to the project's research notes (files outside the site), tidied."""
    cleaned = _FILE_REFERENCE.sub("", str(text))
    cleaned = re.sub(r"\(\s*[,;]?\s*", "(", cleaned)  # "(, http..." -> "(http..."
    cleaned = re.sub(r"\s*[,;]?\s*\)", ")", cleaned)  # "assumption, )" -> "assumption)"
    cleaned = re.sub(r"\s*\(\)", "", cleaned)
    cleaned = re.sub(r"\s+([;,.])", r"\1", cleaned)
    cleaned = re.sub(r"\s{2,}", " ", cleaned)
    return cleaned.strip(" ;,")
