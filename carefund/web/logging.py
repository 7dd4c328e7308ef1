"""Logging filters for the site's console handler."""

from __future__ import annotations

import logging


class ForbiddenWithoutTraceback(logging.Filter):
    """A refused request (403) is an expected answer, not a fault: log its one line, without the traceback of the
    PermissionDenied that produced it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
