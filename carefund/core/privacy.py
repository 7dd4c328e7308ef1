"""Data protection (UK GDPR articles 15 and 17): a subject-access export of what carefund holds about a donor, found by
email, or about a child (care.privacy), and erasure on request (docs/security.md, "Data protection"; the retention
schedule: docs/operations.md, "Retention").

Core cannot know the apps above it, so each app answers for its own records through signals, as the ledger's checks
are collected: `subject_export(email=...)` returns `(section, [record, ...])`; `subject_erase(email=..., today=...)`
removes or pseudonymises what it may and returns `(section, erased_count, [what was kept, and until when])`. Amounts,
dates and the restricted-fund history stay: the ledger never holds a donor's name."""

from __future__ import annotations

import datetime as dt
import re
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
# The same for a child, found by id (`child_id=`): `child_export` -> (section, [record, ...]); `child_erase` (with
# `now=` and `names=`, the child's names longest first, to take out of free text) -> (section, erased_count, [what was
# kept, and why]). The care app sends them (care.privacy), after deciding
# who may ask; every app holding something about children answers for its part.
child_export = Signal()
child_erase = Signal()
# sent by `retention_apply` with `today=`; each receiver erases what has passed its retention, returning (section, n)
retention_due = Signal()


# What the books need is kept after an erasure: a charity keeps its accounting records six years from the end of the
# financial year they are made in (Charities Act 2011, s.131: https://www.legislation.gov.uk/ukpga/2011/25/section/131).
ACCOUNTS_KEPT = (
    "kept for the charity's accounts (six years after the end of the financial year, Charities Act 2011 s.131)"
)


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


def collect_export(signal: Signal, **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
    """Each app's answer to an export signal, by section."""
    sections: dict[str, list[dict[str, Any]]] = {}
    answers: list[tuple[Any, Any]] = signal.send(sender=None, **kwargs)
    for _receiver, (section, records) in answers:
        sections[str(section)] = list(records)
    return sections


def collect_erasure(signal: Signal, **kwargs: Any) -> ErasureReport:
    """Each app's answer to an erasure signal: what it erased, by section, and what it kept (and until when)."""
    erased: dict[str, int] = {}
    kept: list[str] = []
    answers: list[tuple[Any, Any]] = signal.send(sender=None, **kwargs)
    for _receiver, (section, count, still_kept) in answers:
        erased[str(section)] = int(count)
        kept += list(still_kept)
    return ErasureReport(erased=erased, kept=kept)


def scrub_names(text: str, names: list[str], replacement: str) -> str:
    """`text` with each of `names` (longest first) replaced, ignoring case."""
    for name in names:
        text = re.sub(re.escape(name), replacement, text, flags=re.IGNORECASE)
    return text


def donor_data_export(*, email: str, actor: Any = None) -> dict[str, Any]:
    """Everything held about the donor with this email, by app; audited (by a keyed hash of the email, never the
    email itself)."""
    _allowed(actor)
    key = _subject_key(email)
    sections = collect_export(subject_export, email=key)
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
    report = collect_erasure(subject_erase, email=key, today=today or clock.today())
    audit_record(
        actor=actor,
        action="privacy.erase",
        target=None,
        summary=f"erasure of a donor's data: {sum(report.erased.values())} records erased, {len(report.kept)} kept "
        "for now",
        details={"subject": identifier_hash(key), "erased": report.erased, "kept": report.kept},
    )
    return report


@transaction.atomic
def retention_apply(*, today: dt.date | None = None) -> dict[str, int]:
    """The retention schedule (docs/operations.md, "Retention"): erase everything past its retention. Run daily
    (`carefund privacy sweep` from cron, or the `retention_task` on the task queue)."""
    answers: list[tuple[Any, Any]] = retention_due.send(sender=None, today=today or clock.today())
    done = {str(section): int(n) for _receiver, (section, n) in answers}
    if any(done.values()):
        audit_record(actor=None, action="privacy.retention", target=None, summary=f"retention schedule: {done}")
    return done
