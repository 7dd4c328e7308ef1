"""The statistics of the evaluation against values computed independently: by hand for small cohorts, with scipy's
exact binomial test for Clopper-Pearson, and with statsmodels' MixedLM for the mixed model."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from carefund.outcomes import evaluation
from carefund.outcomes.mixed_model import fit_random_slope


def test_paired_mean_ci_by_hand() -> None:
    mean, lo, hi = evaluation.paired_mean_ci(np.array([1.0, 2, 3, 4, 5, 6]))
    # mean 3.5; sd = sqrt(17.5 / 5); t(0.975, 5) = 2.570582; half-width = 2.570582 * sd / sqrt(6)
    half = 2.5705818366147395 * math.sqrt(3.5) / math.sqrt(6)
    assert mean == 3.5
    assert lo == pytest.approx(3.5 - half, abs=1e-8)
    assert hi == pytest.approx(3.5 + half, abs=1e-8)
    assert (round(lo, 4), round(hi, 4)) == (1.5367, 5.4633)


def test_paired_mean_ci_of_one_or_none() -> None:
    mean, lo, hi = evaluation.paired_mean_ci(np.array([2.0]))
    assert mean == 2.0 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in evaluation.paired_mean_ci(np.array([])))


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (1, 137), (12, 137)])
def test_clopper_pearson_matches_the_exact_binomial_interval(k: int, n: int) -> None:
    lo, hi = evaluation.clopper_pearson(k, n)
    exact = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert lo == pytest.approx(exact.low, abs=1e-12)
    assert hi == pytest.approx(exact.high, abs=1e-12)


def test_clopper_pearson_textbook_values() -> None:
    assert [round(x, 4) for x in evaluation.clopper_pearson(3, 10)] == [0.0667, 0.6525]
    assert [round(x, 4) for x in evaluation.clopper_pearson(0, 10)] == [0.0, 0.3085]


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (0, 0)])
def test_clopper_pearson_refuses_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="need 0 <= k <= n"):
        evaluation.clopper_pearson(k, n)


def test_natural_history_by_hand() -> None:
    # GMFM-66(age) = limit * (1 - 0.1 ** (age / age90)): 90% of the limit at age90
    expected_iii = 61.3 * (0.1 ** (6 / 3.7) - 0.1 ** (7 / 3.7))
    expected_ii = 89.3 * (0.1 ** (4 / 4.4) - 0.1 ** (6 / 4.4))
    got = evaluation.natural_history_change(np.array([3, 2, np.nan]), np.array([6.0, 4.0, 5.0]), np.array([1.0]))
    assert got[0] == pytest.approx(expected_iii, rel=1e-12)
    got2 = evaluation.natural_history_change(np.array([2]), np.array([4.0]), 2.0)
    assert got2[0] == pytest.approx(expected_ii, rel=1e-12)
    assert math.isnan(got[2])


def _balanced(seed: int, n: int = 50) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.tile([-0.2, 0.5, 1, 1.5, 2, 3], n)
    g = np.repeat(np.arange(n), 6)
    y = rng.normal(50, 8, n)[g] + rng.normal(3.2, 1.5, n)[g] * t + rng.normal(0, 2, 6 * n)
    return g, t, y


@pytest.mark.parametrize("seed", [0, 1])
def test_mixed_model_matches_statsmodels_mixedlm(seed: int) -> None:
    from statsmodels.regression.mixed_linear_model import MixedLM

    g, t, y = _balanced(seed)
    design = np.column_stack([np.ones_like(t), t])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = MixedLM(y, design, groups=g, exog_re=design).fit(reml=True)
    assert reference.converged
    fit = fit_random_slope(g, t, y)
    assert fit.converged
    assert fit.n_children == 50 and fit.n_observations == 300
    assert fit.slope == pytest.approx(reference.fe_params[1], abs=1e-6)
    assert fit.intercept == pytest.approx(reference.fe_params[0], abs=1e-6)
    assert fit.slope_se == pytest.approx(reference.bse_fe[1], rel=1e-3)
    assert fit.sigma2 == pytest.approx(reference.scale, rel=1e-3)
    assert fit.re_cov[1][1] == pytest.approx(np.asarray(reference.cov_re)[1, 1], rel=1e-3)


def test_mixed_model_recovers_a_known_slope_from_unbalanced_data() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    t = np.tile([-0.3, 0.5, 1.0, 2.0], n) + rng.normal(0, 0.05, 4 * n)
    g = np.repeat(np.arange(n), 4)
    y = rng.normal(50, 10, n)[g] + rng.normal(3.2, 1.0, n)[g] * t + rng.normal(0, 2, 4 * n)
    keep = rng.random(4 * n) > 0.15
    fit = fit_random_slope(g[keep], t[keep], y[keep])
    assert fit.converged
    assert abs(fit.slope - 3.2) < 3 * fit.slope_se
    assert 0.02 < fit.slope_se < 0.04  # about sd(slope) / sqrt(n) = 1 / 44.7


def test_mixed_model_refuses_too_little_data() -> None:
    with pytest.raises(ValueError, match="too few children"):
        fit_random_slope(np.array([1, 1, 1]), np.array([0.0, 1, 2]), np.array([1.0, 2, 3]))


def _cohort() -> evaluation.Cohort:
    """Six children at centre A, three at centre B; GMFM-66 at baseline, 12 and 24 months."""
    children = pd.DataFrame(
        {"centre": ["A"] * 6 + ["B"] * 3, "gmfcs": [3] * 9, "age_years": [6.0] * 9},
        index=pd.Index(range(1, 10), name="child"),
    )
    rows = []
    base = {c: 40.0 + c for c in range(1, 10)}
    gain12 = {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0, 5: 5.0, 6: 6.0, 7: 2.0, 8: 3.0, 9: 4.0}
    for c in range(1, 10):
        rows.append((c, "gmfm66", 0, base[c], -0.1))
        if c != 6:  # child 6 missed 12 months: lost to follow-up there
            rows.append((c, "gmfm66", 12, base[c] + gain12[c], 1.0))
        rows.append((c, "gmfm66", 24, base[c] + 2 * gain12[c], 2.0))
    obs = pd.DataFrame.from_records(rows, columns=["child", "measure", "months", "value", "years"])
    closed = pd.DataFrame.from_records(
        [(c, m) for c in range(1, 10) for m in (0, 6, 12, 24)], columns=["child", "months"]
    )
    adverse = pd.DataFrame.from_records(
        [
            (1, "mild", True),
            (1, "severe", True),
            (2, "moderate", False),
            (3, "mild", True),
            (4, "mild", True),
            (5, "mild", True),
            (6, "mild", True),
            (7, "severe", True),
        ],
        columns=["child", "severity", "surgery_related"],
    )
    return evaluation.Cohort(obs, children, closed, adverse, synthetic=True)


def test_evaluate_tables_by_hand_with_suppression() -> None:
    result = evaluation.evaluate(_cohort(), [evaluation.MeasureInfo("gmfm66", "GMFM-66")], [0, 6, 12, 24])
    assert result["synthetic"] is True and result["n_children"] == 9
    gmfm = result["measures"][0]
    assert gmfm["measure"] == "gmfm66"
    assert [tp["months"] for tp in gmfm["time_points"]] == [6, 12, 24]
    six, twelve, twentyfour = gmfm["time_points"]
    # nobody measured at 6 months: every child with a baseline is lost there
    assert six["overall"]["n"] == 0 and six["overall"]["suppressed"] is True
    assert six["overall"]["n_lost"] is None  # a suppressed cell shows nothing
    a12 = twelve["centres"][0]
    assert a12["centre"] == "A" and a12["n"] == 5 and a12["suppressed"] is False
    _mean, lo, hi = evaluation.paired_mean_ci(np.array([1.0, 2, 3, 4, 5]))
    assert a12["mean_change"] == 3.0 and a12["ci95"] == [round(lo, 4), round(hi, 4)]
    assert a12["n_lost"] == 1
    b12 = twelve["centres"][1]
    assert b12 == {
        "centre": "B",
        "n": 3,
        "mean_change": None,
        "ci95": None,
        "n_lost": None,
        "natural_history_change": None,
        "change_beyond_natural_history": None,
        "suppressed": True,
        "note": evaluation.SUPPRESSED_NOTE,
    }
    overall12 = twelve["overall"]
    assert overall12["n"] == 8 and overall12["n_lost"] == 1
    assert overall12["mean_change"] == pytest.approx(np.mean([1, 2, 3, 4, 5, 2, 3, 4]), abs=1e-4)
    nh12 = 61.3 * (0.1 ** (6 / 3.7) - 0.1 ** (7 / 3.7))
    assert overall12["natural_history_change"] == pytest.approx(nh12, abs=1e-4)
    assert overall12["change_beyond_natural_history"] == pytest.approx(3.0 - nh12, abs=1e-4)
    assert twentyfour["overall"]["n"] == 9 and twentyfour["overall"]["n_lost"] == 0
    annual = gmfm["annual_change"]
    assert annual["overall"]["n_children"] == 9
    assert annual["centres"][1]["suppressed"] is True and annual["centres"][1]["estimate"] is None


def test_adverse_event_rates_and_their_suppression() -> None:
    ae = evaluation.evaluate(_cohort(), [], [0])["adverse_events"]
    overall = ae["overall"]
    assert overall["n"] == 9
    # any event: children 1-7 (7 of 9); surgery-related: 1, 3, 4, 5, 6, 7 (6 of 9); severe: 1 and 7 (2: hidden)
    assert overall["any"]["children"] == 7 and overall["any"]["rate"] == round(7 / 9, 4)
    assert overall["any"]["ci95"] == [round(x, 4) for x in evaluation.clopper_pearson(7, 9)]
    assert overall["surgery_related"]["children"] == 6
    assert overall["severe"] == {"children": None, "rate": None, "ci95": [None, None], "suppressed": True}
    a = ae["centres"][0]
    assert a["centre"] == "A" and a["any"]["children"] == 6 and a["surgery_related"]["children"] == 5
    assert ae["centres"][1]["any"]["suppressed"] is True  # centre B has 3 children


def test_suppression_can_be_turned_off_for_analysts() -> None:
    result = evaluation.evaluate(
        _cohort(), [evaluation.MeasureInfo("gmfm66", "GMFM-66")], [0, 12], evaluation.Options(suppress=False)
    )
    b12 = result["measures"][0]["time_points"][0]["centres"][1]
    assert b12["n"] == 3 and b12["mean_change"] == 3.0 and b12["suppressed"] is False
    assert result["adverse_events"]["overall"]["severe"]["children"] == 2
