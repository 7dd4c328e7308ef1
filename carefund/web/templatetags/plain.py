"""Template filters that keep references to the project's documentation files off people's pages."""

from __future__ import annotations

import re

from django import template

register = template.Library()

# "sources.md: Summers 2019" (a heading of docs/sources.md, which the site does not serve; the primary source's
# address follows it), and numbered references such as "notes.md 4.8" or "notes.md rows 1.1-1.3" in older data
_FILE_REFERENCE = re.compile(r"\b[\w-]+\.md(?::|\s+(?:rows?\s+)?\d[\d.,/\s-]*\d)?")


@register.filter
def without_file_notes(text: str) -> str:
    """`text` without its references to documentation files (which the site does not serve), tidied."""
    cleaned = _FILE_REFERENCE.sub("", str(text))
    cleaned = re.sub(r"\(\s*[,;]?\s*", "(", cleaned)  # "(, http..." -> "(http..."
    cleaned = re.sub(r"\s*[,;]?\s*\)", ")", cleaned)  # "assumption, )" -> "assumption)"
    cleaned = re.sub(r"\s*\(\)", "", cleaned)
    cleaned = re.sub(r"\s+([;,.])", r"\1", cleaned)
    cleaned = re.sub(r"\s{2,}", " ", cleaned)
    return cleaned.strip(" ;,")
