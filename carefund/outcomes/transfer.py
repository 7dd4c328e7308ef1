"""The registry's files: the pseudonymous export (CSV) and the import of a centre's spreadsheet.

Export: consenting children only; a salted key per child that is new with every export (two exports cannot be
linked), the centre, the GMFCS level at baseline, the measure, the time point, the value and the days from surgery;
never a name, date of birth or NHS number. Every export is audited.

Import: every row is checked by the same service that records one measurement by hand; if any row is refused,
nothing is written and every refusal is listed (row number and what to fix)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from carefund.care.models import Provider
from carefund.care.services import child_find_by_nhs_number
from carefund.core.errors import DomainError, ValidationError
from carefund.core.services import audit_record
from carefund.outcomes.models import Enrolment, EvaluationProgramme, Measure, MeasureKind, Observation, TimePoint
from carefund.outcomes.services import observation_record

EXPORT_COLUMNS = (
    "child_key",
    "centre",
    "gmfcs_at_baseline",
    "measure",
    "time_point_months",
    "value",
    "days_from_surgery",
    "synthetic",
)
IMPORT_COLUMNS = (
    "nhs_number",
    "measure",
    "time_point_months",
    "value",
    "observed_on",
    "assessor",
    "instrument_version",
)


def export_rows(*, programme: EvaluationProgramme, salt: bytes | None = None) -> Iterator[tuple[Any, ...]]:
    """The rows of the pseudonymous export (without the header). `salt`: the export's secret (new if None)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    consenting = Enrolment.objects.filter(
        programme=programme, consent_given_at__isnull=False, consent_withdrawn_at__isnull=True
    )
    gmfcs = dict(
        Observation.objects.filter(
            enrolment__in=consenting, is_current=True, measure__slug="gmfcs", time_point__months=0
        ).values_list("enrolment_id", "value")
    )
    fallback = dict(consenting.values_list("pk", "child__gmfcs_level"))
    synthetic = "yes" if programme.is_synthetic else "no"
    rows = (
        Observation.objects.filter(enrolment__in=consenting, is_current=True)
        .order_by("enrolment_id", "measure__position", "time_point__months")
        .values_list(
            "enrolment_id",
            "enrolment__centre__name",
            "enrolment__surgery_date",
            "measure__slug",
            "time_point__months",
            "value",
            "observed_on",
        )
    )
    keys: dict[int, str] = {}
    for enrolment_id, centre, surgery, measure, months, value, observed_on in rows.iterator(chunk_size=5000):
        key = keys.get(enrolment_id)
        if key is None:
            key = keys[enrolment_id] = hmac.new(salt, str(enrolment_id).encode(), hashlib.sha256).hexdigest()[:16]
        level = gmfcs.get(enrolment_id, fallback.get(enrolment_id))
        yield (
            key,
            centre,
            int(level) if level is not None else "",
            measure,
            months,
            f"{value:g}",
            (observed_on - surgery).days,
            synthetic,
        )


def export_csv(*, programme: EvaluationProgramme, out: io.TextIOBase | Any, actor: Any = None) -> int:
    """Write the export to `out`; returns the number of rows. Audited."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    n = 0
    for row in export_rows(programme=programme):
        writer.writerow(row)
        n += 1
    audit_record(
        actor=actor,
        action="outcomes.exported",
        target=programme,
        summary=f"{n} rows, pseudonymous",
        details={"rows": n, "synthetic": programme.is_synthetic},
    )
    return n


@dataclass(frozen=True)
class Refusal:
    row: int  # the spreadsheet's row number (the header is row 1)
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


class ImportRefusedError(DomainError):
    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__(
            f"{len(refusals)} row(s) refused; nothing was imported. Fix these rows and import the file again:\n"
            + "\n".join(str(r) for r in refusals)
        )


def _float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValidationError(f"value: {text.strip()!r} is not a number.", field="value") from None


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"observed_on: {text.strip()!r} is not a date; write it as 2026-07-15.", field="observed_on"
        ) from None


def import_rows(
    *, programme: EvaluationProgramme, centre: Provider, rows: Iterable[dict[str, str]], actor: Any = None
) -> int:
    """Record every row or none. A row is refused for anything `observation_record` refuses, for a child not on
    the programme's registry, or treated at another centre than `centre`, and for a repeat of an earlier row."""
    measures = {m.slug: m for m in Measure.objects.exclude(kind=MeasureKind.ADVERSE_EVENT)}
    points = {tp.months: tp for tp in TimePoint.objects.filter(programme=programme)}
    refusals: list[Refusal] = []
    written = 0
    with transaction.atomic():
        for number, row in enumerate(rows, start=2):
            missing = [c for c in IMPORT_COLUMNS[:6] if not (row.get(c) or "").strip()]
            if missing:
                refusals.append(Refusal(number, f"empty {', '.join(missing)}; every row needs them."))
                continue
            try:
                enrolment = _enrolment_for(row["nhs_number"], programme, centre)
                measure = measures.get(row["measure"].strip())
                if measure is None:
                    raise ValidationError(f"measure: {row['measure']!r} is unknown; use one of {', '.join(measures)}.")
                months_text = row["time_point_months"].strip()
                time_point = points.get(int(months_text)) if months_text.isdigit() else None
                if time_point is None:
                    raise ValidationError(
                        f"time_point_months: {months_text!r} is not a time point of {programme.name}; use one of "
                        f"{', '.join(str(m) for m in points)}."
                    )
                with transaction.atomic():
                    observation_record(
                        enrolment=enrolment,
                        measure=measure,
                        time_point=time_point,
                        value=_float(row["value"]),
                        observed_on=_date(row["observed_on"]),
                        assessor=row["assessor"],
                        instrument_version=row.get("instrument_version") or "",
                        actor=actor,
                    )
                written += 1
            except DomainError as exc:
                refusals.append(Refusal(number, exc.message))
        if refusals:
            transaction.set_rollback(True)
            raise ImportRefusedError(refusals)
        audit_record(
            actor=actor, action="outcomes.imported", target=centre, summary=f"{written} measurements for {programme}"
        )
    return written


def _enrolment_for(nhs_number: str, programme: EvaluationProgramme, centre: Provider) -> Enrolment:
    child = child_find_by_nhs_number(nhs_number=nhs_number)  # an invalid number is refused with what is wrong
    if child is None:
        raise ValidationError("nhs_number: no child with this NHS number is registered; check the number.")
    enrolment = Enrolment.objects.filter(programme=programme, child=child).select_related("centre", "child").first()
    if enrolment is None:
        raise ValidationError(f"nhs_number: this child is not on the {programme.name} registry; enrol them first.")
    if enrolment.centre_id != centre.pk:
        raise ValidationError(
            f"nhs_number: this child is treated at {enrolment.centre.name}, not {centre.name}; only their centre "
            "may record their outcomes."
        )
    return enrolment


def read_csv(text: str) -> list[dict[str, str]]:
    """The rows of a centre's spreadsheet saved as CSV (first row: the column names)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in IMPORT_COLUMNS[:6] if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(
            f"the file has no column {', '.join(missing)}; its first row must name the columns "
            f"{', '.join(IMPORT_COLUMNS)}."
        )
    return list(reader)
