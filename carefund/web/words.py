"""Refusals in the words the page shows: a service's message may start with the code name of the input at fault
("approver: ...", "lines: ..."); people read the field's label instead, or nothing where no field is theirs."""

from __future__ import annotations

import re
from collections.abc import Mapping

from carefund.core.errors import DomainError

_CODE_PREFIX = re.compile(r"^([a-z][a-z0-9_]*): (.+)$", re.S)


def in_words(error: DomainError | str, labels: Mapping[str, str] | None = None) -> str:
    """The message of `error` with a leading code name replaced by its label in `labels` (the page's field label),
    or dropped when the page has no such field; a message that starts with words is left as it is."""
    message = error.message if isinstance(error, DomainError) else error
    match = _CODE_PREFIX.match(message)
    if match is None:
        return message
    code, rest = match.groups()
    label = (labels or {}).get(code)
    if label:
        return f"{label}: {rest}"
    return rest[:1].upper() + rest[1:]
