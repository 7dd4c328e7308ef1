"""The shipped SDR model: it loads, every input has a source, assumptions are flagged, and its results hang together."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carefund.economics.budget import (
    ELIGIBLE_PER_YEAR_HIGH,
    ELIGIBLE_PER_YEAR_LOW,
    budget_impact,
    incremental_cost_by_year,
)
from carefund.economics.modelfile import ModelFileError, load_model
from carefund.economics.report import claim_verdict, run_model


@pytest.fixture(scope="module")
def sdr():
    return load_model("sdr")


def test_sdr_model_loads_with_nice_reference_case(sdr):
    assert sdr.name == "sdr"
    assert [s.name for s in sdr.strategies] == ["usual_care", "sdr"]
    assert sdr.state_names == ("gmfcs_2", "gmfcs_3", "non_ambulant", "dead")
    c = sdr.conventions
    assert (c.discount_costs, c.discount_effects, c.discounting) == (0.035, 0.035, "discrete")
    assert c.thresholds == (20000.0, 25000.0, 30000.0, 35000.0)
    assert sdr.start_age == 6.0
    assert sdr.start_age + sdr.cycles * sdr.cycle_length_years == 100  # lifetime horizon


def test_every_parameter_cites_a_listed_primary_source_or_is_a_flagged_assumption(sdr):
    from pathlib import Path

    sources = Path(__file__).resolve().parents[3] / "docs" / "sources.md"
    headings = set(re.findall(r"^### (.+)$", sources.read_text(), flags=re.M))
    cited: set[str] = set()
    for p in sdr.parameters:
        if p.assumption:
            assert p.source.startswith("assumption"), p.name
            assert p.distribution.kind != "fixed", f"{p.name}: an assumption needs a wide distribution"
        else:
            assert re.search(r"sources\.md: [A-Z]", p.source), p.name
            assert "http" in p.source, p.name
        cited |= set(re.findall(r"sources\.md: ([A-Za-z0-9][A-Za-z0-9 -]*[A-Za-z0-9])", p.source))
    text = Path(sdr.file).read_text()
    cited |= set(re.findall(r"sources\.md: ([A-Za-z0-9][A-Za-z0-9 -]*[A-Za-z0-9])", text))
    assert cited and cited <= headings, sorted(cited - headings)
    assert not re.search(r"(sdr|economics)\.md \d", text)  # no rows of files outside the project
    assert sdr.life_table is not None and sdr.life_table.assumption  # transcribed, to be checked


def test_domain_figures_are_used_as_published(sdr):
    values = sdr.base_values()
    assert values["gmfm_gain_per_year"] == 3.2  # Summers 2019
    assert values["bont_cost_per_year"] == 2000  # NICE CG145
    assert values["p_gmfcs_2"] == pytest.approx(50 / 154, abs=1e-4)  # GOSH SDR outcomes
    d = sdr.parameter_map["sdr_operation_cost"].distribution
    assert (d.kind, d.get("low"), d.get("high")) == ("uniform", 21000, 35000)  # UK self-funded SDR prices
    d = sdr.parameter_map["physio_price"].distribution
    assert (d.get("low"), d.get("high")) == (48, 70)  # Private physiotherapy prices


def test_base_case_results_and_claim(sdr):
    result = run_model(sdr)
    uc, s = result.strategies
    assert s.qalys > uc.qalys
    assert s.life_years >= uc.life_years
    verdict = claim_verdict(result)
    assert verdict["supported"] is bool(s.cost <= uc.cost)
    assert verdict["incremental_cost"] == round(s.cost - uc.cost, 2)
    for trace in result.trace.values():
        assert np.allclose(trace.sum(axis=1), 1.0, atol=1e-12)


def test_a_free_operation_with_lasting_effect_makes_sdr_save_money(sdr):
    cheap = sdr.with_overrides(
        values={"sdr_operation_cost": 0.0, "rehab_sessions_year_1": 0.0, "rehab_sessions_year_2": 0.0}
    )
    verdict = claim_verdict(run_model(cheap))
    assert verdict["supported"] is True
    assert verdict["summary"].startswith("Supported: ")


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_every_draw_gives_a_valid_cohort(sdr, seed):
    # the engine refuses any draw whose rows are not probability vectors or whose starting mix does not sum to 1,
    # so a PSA that completes has a valid cohort in every draw
    psa = run_model(sdr, psa=300, seed=seed).psa
    assert psa is not None
    assert np.all(np.isfinite(psa.cost)) and np.all(psa.cost > 0)
    assert np.all(psa.qalys <= psa.life_years + 1e-9)


def test_budget_impact_adds_cohorts_year_by_year(sdr):
    per_child = incremental_cost_by_year(sdr, intervention="sdr", comparator="usual_care")
    bi = budget_impact(sdr)
    assert len(bi.years) == 10
    assert bi.years[0].net_cost == pytest.approx(206 * per_child[0])
    assert bi.years[2].net_cost == pytest.approx(206 * (per_child[0] + per_child[1] + per_child[2]))
    assert bi.years[9].children_treated == 2060
    assert bi.years[4].net_cost_low == pytest.approx(ELIGIBLE_PER_YEAR_LOW * sum(per_child[:5]))
    assert bi.years[4].net_cost_high == pytest.approx(ELIGIBLE_PER_YEAR_HIGH * sum(per_child[:5]))
    assert bi.total == pytest.approx(sum(y.net_cost for y in bi.years))
    assert per_child[0] > 20000  # the operation falls in the first year


def test_budget_impact_refusals(sdr):
    with pytest.raises(ModelFileError) as info:
        budget_impact(sdr, intervention="magic")
    assert (info.value.key, info.value.message) == (
        "intervention",
        "'magic' is not a strategy; strategies: sdr, usual_care",
    )
    with pytest.raises(ModelFileError) as info:
        budget_impact(sdr, years=0)
    assert info.value.key == "years"


def test_the_treatment_effect_can_be_replaced_by_outside_evidence(sdr):
    from carefund.economics.modelfile import make_distribution

    evidence = make_distribution("normal", {"mean": 1.6, "sd": 0.3})
    half = sdr.with_parameter("gmfm_gain_per_year", value=1.6, distribution=evidence, source="a registry fit")
    p = half.parameter_map["gmfm_gain_per_year"]
    assert (p.value, p.distribution.describe(), p.source) == (1.6, "normal(mean=1.6, sd=0.3)", "a registry fit")
    base, changed = run_model(sdr), run_model(half)
    gain = [s.qalys for s in base.strategies]
    gain_half = [s.qalys for s in changed.strategies]
    assert gain_half[0] == pytest.approx(gain[0], rel=1e-12)  # usual care has no SDR effect
    assert gain_half[1] - gain_half[0] < gain[1] - gain[0]  # a smaller GMFM gain buys fewer QALYs
    with pytest.raises(ModelFileError) as info:
        sdr.with_parameter("gmfm_gain", value=1.0, distribution=evidence, source="x")
    assert info.value.key == "parameters.gmfm_gain"
    assert sdr.parameter_map["gmfm_gain_per_year"].value == 3.2  # the loaded model is unchanged
