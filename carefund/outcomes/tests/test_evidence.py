"""The registry's evidence for the economic model: the fitted annual GMFM-66 change with n and dates, or a refusal
that says why; `carefund economics run sdr --evidence registry` and the economics page's choice."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from carefund.outcomes import selectors, services
from carefund.outcomes.tests.fixtures import Registry, child_at


def cohort(reg: Registry, n: int) -> None:
    """`n` consenting children whose GMFM-66 rises 2.0, 2.5, 3.0, ... units a year (baseline, 12 and 24 months)."""
    enrolments = [reg.enrolment]
    for _ in range(n - 1):
        enrolments.append(
            services.enrolment_create(
                programme=reg.programme,
                child=child_at(reg.centre),
                centre=reg.centre,
                surgery_date=dt.date(2025, 1, 15),
                actor=None,
            )
        )
    for i, e in enumerate(enrolments):
        services.consent_give(enrolment=e, actor=None)
        rate = 2.0 + 0.5 * (i % 5)
        surgery = e.surgery_date
        for tp, months in ((reg.baseline, 0), (reg.twelve, 12), (reg.twenty_four, 24)):
            on = (
                surgery - dt.timedelta(days=30)
                if months == 0
                else dt.date(surgery.year + months // 12, surgery.month, surgery.day)
            )
            if on > dt.date(2027, 6, 1):
                continue
            years = (on - surgery).days / 365.25
            services.observation_record(
                enrolment=e,
                measure=reg.gmfm,
                time_point=tp,
                value=40 + i % 7 + rate * max(years, 0) + (i % 3) * 0.3,
                observed_on=on,
                assessor="x",
                actor=None,
            )


def test_too_few_children_is_refused_with_the_threshold(registry: Registry) -> None:
    cohort(registry, 3)
    with pytest.raises(selectors.InsufficientEvidenceError) as exc:
        selectors.registry_evidence()
    assert exc.value.message == (
        "The CtE SDR registry has 3 consenting children with GMFM-66 measured before and after surgery; the economic "
        "model takes its treatment effect from the registry only from 30. It keeps the published figure until then."
    )
    with pytest.raises(CommandError, match=r"--evidence registry: The CtE SDR registry has 3 consenting children"):
        call_command("economics", "run", "sdr", "--evidence", "registry", stdout=io.StringIO())


def test_the_evidence_replaces_the_treatment_effect(registry: Registry, monkeypatch: Any) -> None:
    cohort(registry, 8)
    monkeypatch.setattr(selectors, "MIN_CHILDREN_FOR_EVIDENCE", 5)
    found = selectors.registry_evidence()
    assert found.n_children == 8 and found.synthetic is False
    assert 2.0 < found.estimate < 3.5 and found.standard_error > 0
    assert found.ci95[0] < found.estimate < found.ci95[1]
    assert (found.first_measured, found.last_measured) == (dt.date(2024, 12, 16), dt.date(2027, 1, 15))
    assert "n = 8 children measured 16 Dec 2024 to 15 Jan 2027" in found.source
    out = io.StringIO()
    call_command("economics", "run", "sdr", "--evidence", "registry", "--json", stdout=out)
    registry_run = json.loads(out.getvalue())
    assert registry_run["evidence"]["estimate"] == found.estimate and registry_run["evidence"]["n_children"] == 8
    literature = io.StringIO()
    call_command("economics", "run", "sdr", "--json", stdout=literature)
    published = json.loads(literature.getvalue())
    assert "evidence" not in published
    sdr_q = {s["name"]: s["qalys"] for s in registry_run["strategies"]}["sdr"]
    assert sdr_q != {s["name"]: s["qalys"] for s in published["strategies"]}["sdr"]
    table = io.StringIO()
    call_command("economics", "run", "sdr", "--evidence", "registry", stdout=table)
    assert table.getvalue().startswith(
        "Evidence for the treatment effect (gmfm_gain_per_year): carefund outcomes registry, CtE SDR"
    )


def test_the_economics_page_says_why_it_cannot_use_the_registry(registry: Registry, client: Any) -> None:
    form = {
        "discount_rate": "3.5",
        "sdr_operation_cost": "28000",
        "gmfm_gain_per_year": "3.2",
        "evidence": "registry",
        "effect_duration_years": "20",
        "horizon_years": "40",
        "thresholds": "20000, 30000",
        "psa_draws": "0",
        "seed": "1",
    }
    response = client.post("/economics/sdr/", form)
    assert response.status_code == 400
    assert "consenting children with GMFM-66 measured before and after surgery" in response.content.decode()
