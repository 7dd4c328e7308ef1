"""Data protection (UK GDPR articles 15 and 17): a subject-access export of what carefund holds about a donor, found by
email, and erasure on request (docs/security.md, "Data protection"; the retention schedule: docs/operations.md,
"Retention").

Core cannot know the apps above it, so each app answers for its own records through signals, as the ledger's checks
are collected: `subject_export(email=...)` returns `(section, [record, ...])`; `subject_erase(email=..., today=...)`
removes or pseudonymises what it may and returns `(section, erased_count, [what was kept, and until when])`. Amounts,
dates and the restricted-fund history stay: the ledger never holds a donor's name."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.dispatch import Signal

from carefund.core import clock
from carefund.core.crypto import identifier_hash
from carefund.core.errors import PermissionDeniedError, ValidationError
from carefund.core.services import audit_record

subject_export = Signal()
subject_erase = Signal()
# sent by `retention_apply` with `today=`; each receiver erases what has passed its retention, returning (section, n)
retention_due = Signal()


@dataclass(frozen=True)
class ErasureReport:
    erased: dict[str, int]
    kept: list[str] = field(default_factory=list)


def _subject_key(email: str) -> str:
    cleaned = email.strip().lower()
    if "@" not in cleaned or len(cleaned) > 254:
        raise ValidationError("email: enter the donor's email address, for example ann@example.org.", field="email")
    return cleaned


def _allowed(actor: Any) -> None:
    # None: a command run by the operator on the server (who could read the database anyway); in the app, only an
    # administrator (trustee/admin with every permission) handles these requests
    if actor is not None and not actor.is_superuser:
        raise PermissionDeniedError("subject-access requests and erasure are for the charity's data protection lead.")


def donor_data_export(*, email: str, actor: Any = None) -> dict[str, Any]:
    """Everything held about the donor with this email, by app; audited (by a keyed hash of the email, never the
    email itself)."""
    _allowed(actor)
    key = _subject_key(email)
    sections: dict[str, list[dict[str, Any]]] = {}
    answers: list[tuple[Any, Any]] = subject_export.send(sender=None, email=key)
    for _receiver, (section, records) in answers:
        sections[str(section)] = list(records)
    audit_record(
        actor=actor,
        action="privacy.export",
        target=None,
        summary=f"subject-access export of a donor ({sum(len(r) for r in sections.values())} records)",
        details={"subject": identifier_hash(key)},
    )
    return {"subject": {"email": key}, "exported_at": clock.now().isoformat(), "records": sections}


@transaction.atomic
def donor_data_erase(*, email: str, actor: Any = None, today: dt.date | None = None) -> ErasureReport:
    """Erase what may be erased of the donor with this email now; what the law says must be kept (Gift Aid records
    HMRC may audit) is kept until its retention ends, then erased by `retention_sweep`. Audited by a keyed hash."""
    _allowed(actor)
    key = _subject_key(email)
    erased: dict[str, int] = {}
    kept: list[str] = []
    answers: list[tuple[Any, Any]] = subject_erase.send(sender=None, email=key, today=today or clock.today())
    for _receiver, (section, count, still_kept) in answers:
        erased[str(section)] = int(count)
        kept += list(still_kept)
    audit_record(
        actor=actor,
        action="privacy.erase",
        target=None,
        summary=f"erasure of a donor's data: {sum(erased.values())} records erased, {len(kept)} kept for now",
        details={"subject": identifier_hash(key), "erased": erased, "kept": kept},
    )
    return ErasureReport(erased=erased, kept=kept)


@transaction.atomic
def retention_apply(*, today: dt.date | None = None) -> dict[str, int]:
    """The retention schedule (docs/operations.md, "Retention"): erase everything past its retention. Run daily
    (`carefund privacy sweep` from cron, or the `retention_task` on the task queue)."""
    answers: list[tuple[Any, Any]] = retention_due.send(sender=None, today=today or clock.today())
    done = {str(section): int(n) for _receiver, (section, n) in answers}
    if any(done.values()):
        audit_record(actor=None, action="privacy.retention", target=None, summary=f"retention schedule: {done}")
    return done
