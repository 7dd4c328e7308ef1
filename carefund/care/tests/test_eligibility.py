"""SDR eligibility (docs/sources.md: Bristol SDR funding page, CtE 2014): every criterion, met and failed, under
both policies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from carefund.care.rules import (
    POLICY_CTE_2014,
    POLICY_NHSE_2018,
    EligibilityInput,
    sdr_eligibility,
)

CODES = [
    "age",
    "gmfcs",
    "spastic_diplegia",
    "spasticity_function",
    "no_dystonia",
    "mri_pvl",
    "mri_no_lesion",
    "no_progressive_condition",
    "antigravity_strength",
    "reimers",
    "no_scoliosis",
]

ELIGIBLE = EligibilityInput(
    age_years=6,
    gmfcs_level=3,
    spastic_diplegia=True,
    spasticity_affects_function=True,
    dystonia=False,
    mri_typical_pvl=True,
    mri_basal_ganglia_or_cerebellar_lesion=False,
    genetic_or_progressive_condition=False,
    antigravity_strength=True,
    reimers_index_percent=20,
    significant_scoliosis=False,
)


def by_code(verdict):
    return {c.code: c for c in verdict.criteria}


def test_a_typical_candidate_meets_every_criterion_with_a_reason_each():
    verdict = sdr_eligibility(ELIGIBLE, POLICY_NHSE_2018)
    assert verdict.eligible is True
    assert verdict.policy == "NHS England 2018"
    assert [c.code for c in verdict.criteria] == CODES
    assert all(c.met for c in verdict.criteria)
    assert all(c.reason for c in verdict.criteria)
    assert verdict.unmet == ()


# (field changed, failing value, criterion code, words in the reason)
FAILURES = [
    ("age_years", 2, "age", "Aged 2: outside the NHS England 2018 range of 3 to 9 inclusive."),
    ("age_years", 10, "age", "Aged 10: outside the NHS England 2018 range of 3 to 9 inclusive."),
    ("gmfcs_level", 1, "gmfcs", "GMFCS level I: outside the levels the policy covers (II or III)."),
    ("gmfcs_level", 4, "gmfcs", "GMFCS level IV: outside the levels the policy covers (II or III)."),
    ("spastic_diplegia", False, "spastic_diplegia", "Spasticity is not mainly in the legs"),
    ("spasticity_affects_function", False, "spasticity_function", "does not affect function"),
    ("dystonia", True, "no_dystonia", "Dystonia is present"),
    ("mri_typical_pvl", False, "mri_pvl", "MRI does not show the typical white-matter changes"),
    ("mri_basal_ganglia_or_cerebellar_lesion", True, "mri_no_lesion", "basal ganglia or cerebellar lesion"),
    ("genetic_or_progressive_condition", True, "no_progressive_condition", "genetic or progressive"),
    ("antigravity_strength", False, "antigravity_strength", "Antigravity postures cannot be held"),
    ("reimers_index_percent", 40, "reimers", "Reimers index 40%: 40% or more (hip dislocation)."),
    ("significant_scoliosis", True, "no_scoliosis", "Significant scoliosis is recorded"),
]


@pytest.mark.parametrize(("field", "value", "code", "words"), FAILURES)
def test_each_criterion_fails_alone_and_says_why(field, value, code, words):
    verdict = sdr_eligibility(replace(ELIGIBLE, **{field: value}), POLICY_NHSE_2018)
    assert verdict.eligible is False
    assert [c.code for c in verdict.unmet] == [code]
    assert words in by_code(verdict)[code].reason


@pytest.mark.parametrize(
    "field",
    [
        "gmfcs_level",
        "spastic_diplegia",
        "spasticity_affects_function",
        "dystonia",
        "mri_typical_pvl",
        "mri_basal_ganglia_or_cerebellar_lesion",
        "genetic_or_progressive_condition",
        "antigravity_strength",
        "reimers_index_percent",
        "significant_scoliosis",
    ],
)
def test_an_unrecorded_clinical_fact_is_not_met(field):
    verdict = sdr_eligibility(replace(ELIGIBLE, **{field: None}), POLICY_NHSE_2018)
    assert verdict.eligible is False
    (unmet,) = verdict.unmet
    assert "not recorded" in unmet.reason


@pytest.mark.parametrize(("age", "met"), [(2, False), (3, True), (9, True), (10, False)])
def test_nhse_2018_age_boundaries_3_to_9_inclusive(age, met):
    assert by_code(sdr_eligibility(replace(ELIGIBLE, age_years=age), POLICY_NHSE_2018))["age"].met is met


@pytest.mark.parametrize(("age", "met"), [(2, False), (3, True), (10, True), (11, False)])
def test_cte_2014_age_boundaries_3_to_10_as_announced(age, met):
    verdict = sdr_eligibility(replace(ELIGIBLE, age_years=age), POLICY_CTE_2014)
    assert verdict.policy == "CtE 2014"
    assert by_code(verdict)["age"].met is met
    assert verdict.eligible is met


@pytest.mark.parametrize(("level", "met"), [(1, False), (2, True), (3, True), (4, False), (5, False)])
def test_gmfcs_levels_two_and_three_only(level, met):
    assert by_code(sdr_eligibility(replace(ELIGIBLE, gmfcs_level=level)))["gmfcs"].met is met


@pytest.mark.parametrize(("reimers", "met"), [(0, True), (39, True), (40, False), (100, False)])
def test_reimers_index_below_forty_percent(reimers, met):
    assert by_code(sdr_eligibility(replace(ELIGIBLE, reimers_index_percent=reimers)))["reimers"].met is met


def test_several_failures_are_all_reported():
    verdict = sdr_eligibility(replace(ELIGIBLE, age_years=12, dystonia=True, gmfcs_level=5))
    assert [c.code for c in verdict.unmet] == ["age", "gmfcs", "no_dystonia"]
