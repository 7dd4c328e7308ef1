"""`carefund outcomes evaluate | export | import | remind` through call_command."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from carefund.care.tests.factories import valid_nhs_number
from carefund.core.models import AuditEvent
from carefund.outcomes import services
from carefund.outcomes.models import Observation
from carefund.outcomes.tests.fixtures import Registry, child_at
from carefund.outcomes.transfer import IMPORT_COLUMNS


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("outcomes", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def cohort(reg: Registry, n: int = 6) -> list[Any]:
    """`n` consenting children at the registry's centre with GMFM-66 at baseline and 12 months (+2, +4, ...)."""
    enrolments = [reg.enrolment]
    for _ in range(n - 1):
        child = child_at(reg.centre)
        enrolments.append(
            services.enrolment_create(
                programme=reg.programme,
                child=child,
                centre=reg.centre,
                surgery_date=reg.enrolment.surgery_date,
                actor=None,
            )
        )
    for i, e in enumerate(enrolments):
        services.consent_give(enrolment=e, actor=None)
        for tp, value, on in (
            (reg.baseline, 40.0 + i, dt.date(2025, 12, 1)),
            (reg.twelve, 42.0 + 3 * i, dt.date(2027, 1, 15)),
        ):
            services.observation_record(
                enrolment=e, measure=reg.gmfm, time_point=tp, value=value, observed_on=on, assessor="x", actor=None
            )
    return enrolments


def test_evaluate_json_shape_and_values(registry: Registry) -> None:
    cohort(registry)
    out, _ = run("evaluate", "--measure", "gmfm66", "--json")
    data = json.loads(out)
    assert [m["measure"] for m in data["measures"]] == ["gmfm66"]
    twelve = next(tp for tp in data["measures"][0]["time_points"] if tp["months"] == 12)
    by_name = {c["centre"]: c for c in twelve["centres"]}
    centre = by_name["Nottingham University Hospitals NHS Trust"]
    # changes 2, 4, 6, 8, 10, 12: mean 7, sd sqrt(14), t(0.975, 5) = 2.5706
    assert centre["centre"] == "Nottingham University Hospitals NHS Trust" and centre["n"] == 6
    assert centre["mean_change"] == 7.0
    assert centre["ci95"] == [
        pytest.approx(7 - 2.570582 * 14**0.5 / 6**0.5, abs=1e-4),
        pytest.approx(7 + 2.570582 * 14**0.5 / 6**0.5, abs=1e-4),
    ]
    assert by_name["Leeds Teaching Hospitals NHS Trust"]["suppressed"] is True  # the other centre has nobody
    assert twelve["overall"]["n"] == 6
    annual = data["measures"][0]["annual_change"]
    assert set(annual["overall"]) >= {"estimate", "ci95", "n_children"}
    assert annual["overall"]["n_children"] == 6


def test_evaluate_unknown_measure_says_what_exists(registry: Registry) -> None:
    with pytest.raises(CommandError, match="measure: no analysed measure called walk; choose from gmfm66"):
        run("evaluate", "--measure", "walk")


def test_export_is_pseudonymous_and_new_keys_each_time(registry: Registry) -> None:
    enrolments = cohort(registry)
    services.consent_withdraw(enrolment=enrolments[1], actor=None)
    out, err = run("export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "child_key",
        "centre",
        "gmfcs_at_baseline",
        "measure",
        "time_point_months",
        "value",
        "days_from_surgery",
        "synthetic",
    ]
    assert len(rows) == 10  # 5 consenting children x 2 measurements; the withdrawn child is left out
    assert {r["days_from_surgery"] for r in rows} == {"-45", "365"}
    assert rows[0]["gmfcs_at_baseline"] == "3" and rows[0]["synthetic"] == "no"
    assert "James" not in out and "Hartley" not in out and "2020-03-01" not in out
    assert len({r["child_key"] for r in rows}) == 5
    again = list(csv.DictReader(io.StringIO(run("export", "--format", "csv")[0])))
    assert not {r["child_key"] for r in rows} & {r["child_key"] for r in again}
    assert err.strip() == "exported 10 rows"
    assert AuditEvent.objects.filter(action="outcomes.exported").count() == 2


def _write(tmp_path: Path, rows: list[list[str]]) -> Path:
    path = tmp_path / "centre.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(IMPORT_COLUMNS)
        writer.writerows(rows)
    return path


def test_import_writes_every_row_or_none_listing_each_refusal(registry: Registry, tmp_path: Path) -> None:
    from carefund.care.tests.factories import ChildFactory

    number = valid_nhs_number()
    other_number = valid_nhs_number()
    james = child_at(registry.centre, nhs_number=number)
    services.enrolment_create(
        programme=registry.programme, child=james, centre=registry.centre, surgery_date=dt.date(2026, 1, 15), actor=None
    )
    elsewhere = child_at(registry.other_centre, nhs_number=other_number)
    services.enrolment_create(
        programme=registry.programme,
        child=elsewhere,
        centre=registry.other_centre,
        surgery_date=dt.date(2026, 1, 15),
        actor=None,
    )
    ChildFactory()
    good = [number, "gmfm66", "0", "41.5", "2025-12-01", "A. Physio", "GMAE-3"]
    path = _write(
        tmp_path,
        [
            good,
            [number, "gmfm66", "6", "140", "2026-07-15", "A. Physio", ""],
            [number, "gmfm66", "12", "45", "2026-03-01", "A. Physio", ""],
            [other_number, "gmfm66", "0", "40", "2025-12-01", "A. Physio", ""],
            good,
            [number, "walk", "0", "1", "2025-12-01", "A. Physio", ""],
            ["123", "gmfm66", "0", "40", "2025-12-01", "A. Physio", ""],
            [number, "pain", "0", "", "2025-12-01", "A. Physio", ""],
        ],
    )
    before = AuditEvent.objects.count()
    with pytest.raises(SystemExit) as exit_info:
        run("import", str(path), "--centre", registry.centre.slug)
    assert exit_info.value.code == 2
    assert not Observation.objects.exists()
    assert AuditEvent.objects.count() == before
    # the whole list, in the words of the file
    err = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("outcomes", "import", str(path), "--centre", registry.centre.slug, stderr=err)
    lines = err.getvalue().splitlines()
    assert lines[0] == "7 row(s) refused; nothing was imported. Fix these rows and import the file again:"
    assert lines[1] == "row 3: value: 140 is outside the valid range of GMFM-66 (0 to 100 units)."
    assert lines[2].startswith("row 4: observed_on: 01 March 2026 is outside the window of 12 months after surgery")
    assert lines[3] == (
        "row 5: nhs_number: this child is treated at Leeds Teaching Hospitals NHS Trust, not Nottingham University "
        "Hospitals NHS Trust; only their centre may record their outcomes."
    )
    assert lines[4].startswith("row 6: GMFM-66 at Baseline (before surgery) is already recorded")
    assert lines[5].startswith("row 7: measure: 'walk' is unknown")
    assert lines[6].startswith("row 8: nhs_number: an NHS number is exactly 10 digits")
    assert lines[7] == "row 9: empty value; every row needs them."
    # fixed file: everything is written
    ok = _write(tmp_path, [good, [number, "gmfm66", "12", "45.5", "2027-01-10", "A. Physio", ""]])
    out, _ = run("import", str(ok), "--centre", registry.centre.slug)
    assert out.strip() == "imported 2 measurements for Nottingham University Hospitals NHS Trust"
    assert sorted(Observation.objects.values_list("value", flat=True)) == [41.5, 45.5]


def test_import_refuses_a_file_without_the_columns(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name,score\nJames,40\n")
    with pytest.raises(CommandError, match="the file has no column nhs_number, measure, time_point_months, value"):
        run("import", str(path), "--centre", registry.centre.slug)
    with pytest.raises(CommandError, match="--centre: no centre called 'nowhere'"):
        run("import", str(path), "--centre", "nowhere")


def test_remind_emails_each_centre_without_names(registry: Registry) -> None:
    registry.clinician.email = "clin@example.org"
    registry.clinician.save()
    out, _ = run("remind")
    assert out.startswith("follow-up reminders enqueued")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["clin@example.org"]
    assert message.subject == "Outcomes follow-up at Nottingham University Hospitals NHS Trust: 0 due, 3 overdue"
    assert "James" not in message.body and f"/outcomes/follow-up/{registry.centre.pk}/" in message.body
