"""Distributions, PSA draws, acceptability curves, EVPI/EVPPI and the one-way sensitivity analysis."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats

from carefund.economics import distributions as d
from carefund.economics.dsa import one_way
from carefund.economics.engine import run_model
from carefund.economics.examples import benchmark_model, hiv_model, sick_sicker_model
from carefund.economics.model import Correlation, ModelError, Parameter
from carefund.economics.psa import PSAError, PSAResult, draw_parameters, evpi_from_nmb, percentile, run_psa
from carefund.economics.voi import evppi, evppi_from_arrays, evppi_table


# ------------------------------------------------------------------------------------------ distributions
def test_mean_se_helpers_recover_their_moments() -> None:
    b = d.beta_from_mean_se(0.3, 0.05)
    assert b.mean == pytest.approx(0.3)
    assert math.sqrt(stats.beta(*b.params).var()) == pytest.approx(0.05)
    g = d.gamma_from_mean_se(2000.0, 400.0)
    assert (g.mean, math.sqrt(stats.gamma(g.params[0], scale=g.params[1]).var())) == pytest.approx((2000.0, 400.0))
    ln = d.lognormal_from_mean_se(0.7, 0.1)
    assert ln.mean == pytest.approx(0.7)
    ci = d.lognormal_from_ci(0.509, 0.365, 0.710)
    assert ci.quantile(0.5) == pytest.approx(0.509)
    assert ci.params[1] == pytest.approx((math.log(0.710) - math.log(0.365)) / (2 * 1.959963984540054))
    assert d.beta_from_counts(12, 100).params == (12.0, 88.0)
    assert d.uniform(1.0, 3.0).quantile(0.25) == 1.5
    assert d.normal(5.0, 2.0).quantile(0.975) == pytest.approx(5.0 + 1.959963984540054 * 2.0)
    assert d.fixed(4.0).describe() == "fixed(value=4)"
    assert d.beta(2.0, 3.0).describe() == "beta(alpha=2, beta=3)"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: d.beta(0.0, 1.0), "alpha is 0.0; allowed: a number greater than 0"),
        (lambda: d.beta_from_mean_se(1.2, 0.1), "mean is 1.2; allowed: a number strictly between 0 and 1 for a beta"),
        (lambda: d.beta_from_mean_se(0.5, 0.6), "se is 0.6; allowed for a beta with mean 0.5: less than"),
        (lambda: d.gamma_from_mean_se(-1.0, 1.0), "mean is -1.0; allowed: a number greater than 0"),
        (lambda: d.gamma(2.0, float("inf")), "scale is inf; allowed: a finite number"),
        (lambda: d.lognormal(0.0, -1.0), "sdlog is -1.0; allowed: a number greater than 0"),
        (lambda: d.lognormal_from_ci(1.0, 2.0, 1.5), "low is 2.0; allowed: less than high (1.5)"),
        (lambda: d.normal(0.0, 0.0), "sd is 0.0; allowed: a number greater than 0"),
        (lambda: d.uniform(2.0, 1.0), "low is 2.0; allowed: less than high (1.0)"),
        (lambda: d.beta_from_counts(5, 5), "events is 5; allowed: fewer than total (5)"),
        (lambda: d.dirichlet_alphas((1.0,)), "alphas has 1 value(s); allowed: at least two"),
        (lambda: d.dirichlet_alphas((1.0, -2.0)), "alphas[1] is -2.0; allowed: a number greater than 0"),
        (lambda: d.normal(0.0, 1.0).quantile(1.0), "q is 1.0; allowed: a number strictly between 0 and 1"),
    ],
)
def test_invalid_distribution_parameters_name_the_parameter(make: object, message: str) -> None:
    with pytest.raises(d.DistributionError) as info:
        make()  # type: ignore[operator]
    assert message in str(info.value)


def test_draws_follow_their_distributions() -> None:
    draws = draw_parameters(hiv_model(), 20000, seed=11)
    assert draws["c_zido"].tolist() == [2278.0] * 20000
    assert np.median(draws["rr"]) == pytest.approx(0.509, rel=0.02)
    rows = draws["p_AA"] + draws["p_AB"] + draws["p_AC"] + draws["p_AD"]
    assert np.allclose(rows, 1.0)
    assert draws["p_AB"].mean() == pytest.approx(350 / 1734, rel=0.01)
    assert draws["p_CD"].mean() == pytest.approx(437 / 1749, rel=0.01)
    # Dirichlet variance of a component: a_i (A - a_i) / (A^2 (A + 1))
    a, total = 350.0, 1734.0
    assert draws["p_AB"].var() == pytest.approx(a * (total - a) / (total**2 * (total + 1)), rel=0.05)


def test_correlated_draws_reach_the_requested_rank_correlation_and_keep_marginals() -> None:
    model = dataclasses.replace(
        benchmark_model(), correlations=(Correlation(("c_well", "c_mild"), ((1.0, 0.8), (0.8, 1.0))),)
    )
    draws = draw_parameters(model, 20000, seed=5)
    rho = stats.spearmanr(draws["c_well"], draws["c_mild"]).statistic
    assert rho == pytest.approx(6 / math.pi * math.asin(0.4), abs=0.02)
    assert draws["c_well"].mean() == pytest.approx(1000.0, rel=0.01)
    assert abs(stats.spearmanr(draws["c_well"], draws["u_well"]).statistic) < 0.03


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (((1.0, 1.2), (1.2, 1.0)), "is not positive definite"),
        (((1.0, 0.5), (0.2, 1.0)), "allowed: a symmetric 2 x 2 matrix with ones on the diagonal"),
    ],
)
def test_invalid_correlation_is_refused(matrix: tuple[tuple[float, ...], ...], message: str) -> None:
    model = dataclasses.replace(benchmark_model(), correlations=(Correlation(("c_well", "c_mild"), matrix),))
    with pytest.raises(ModelError, match=message):
        draw_parameters(model, 10, seed=1)


# ------------------------------------------------------------------------------------------ PSA
@pytest.mark.parametrize("draws", [0, -5, 2.5, True, "10"])
def test_invalid_draw_counts_are_refused(draws: object) -> None:
    with pytest.raises(PSAError, match=f"draws is {draws!r}; allowed: a whole number from 1 to 10,000,000"):
        run_psa(hiv_model(), draws=draws, seed=1)  # type: ignore[arg-type]


def test_invalid_seed_and_chunk_are_refused() -> None:
    with pytest.raises(PSAError, match="seed is -1; allowed: a whole number >= 0"):
        run_psa(hiv_model(), draws=10, seed=-1)
    with pytest.raises(PSAError, match="chunk_size is 0; allowed: a whole number >= 1"):
        run_psa(hiv_model(), draws=10, seed=1, chunk_size=0)


def test_same_seed_same_result_other_seed_other_result_and_chunk_size_irrelevant() -> None:
    model = hiv_model()
    a = run_psa(model, draws=500, seed=42)
    b = run_psa(model, draws=500, seed=42, chunk_size=37)
    c = run_psa(model, draws=500, seed=43)
    assert np.array_equal(a.cost, b.cost) and np.array_equal(a.qalys, b.qalys)
    assert all(np.array_equal(a.parameters[k], b.parameters[k]) for k in a.parameters)
    assert not np.array_equal(a.cost, c.cost)


def test_psa_means_are_close_to_the_deterministic_result_and_progress_is_reported() -> None:
    calls: list[tuple[int, int]] = []
    psa = run_psa(hiv_model(), draws=2000, seed=7, chunk_size=500, progress=lambda done, n: calls.append((done, n)))
    assert calls == [(500, 2000), (1000, 2000), (1500, 2000), (2000, 2000)]
    base = run_model(hiv_model())
    assert psa.iterations == 2000
    assert psa.cost.mean(axis=0) == pytest.approx([base.strategy("mono").cost, base.strategy("comb").cost], rel=0.01)
    assert psa.life_years.mean(axis=0) == pytest.approx([s.life_years for s in base.strategies], rel=0.01)


def test_ceac_ceaf_ce_plane_and_probability_cost_effective() -> None:
    names = ("a", "b")
    cost = np.array([[0.0, 100.0], [0.0, 300.0], [0.0, 50.0], [0.0, 1000.0]])
    qalys = np.array([[0.0, 0.01], [0.0, 0.02], [0.0, 0.0], [0.0, 0.02]])
    psa = PSAResult(names, 0, cost, qalys, qalys, {})
    # NMB of b at 20,000: 100, 100, -50, -600 -> b best in draws 0, 1 (a wins ties: none here)
    assert psa.ceac([20000.0]).tolist() == [[0.5, 0.5]]
    # at 10,000 b's NMB is 0, -100, -50, -800: draw 0 is a tie, which goes to the first strategy
    assert psa.probability_cost_effective([10000.0, 20000.0]) == {
        "a": {"10000": 1.0, "20000": 0.5},
        "b": {"10000": 0.0, "20000": 0.5},
    }
    # expected NMB at 20,000: a 0, b (100 + 100 - 50 - 600) / 4 < 0 -> a on the frontier with probability 0.5
    assert psa.ceaf([20000.0]) == [(20000.0, "a", 0.5)]
    de, dc = psa.ce_plane(reference="a")["b"]
    assert dc.tolist() == [100.0, 300.0, 50.0, 1000.0] and de.tolist() == [0.01, 0.02, 0.0, 0.02]
    # EVPI: mean of max(0, nmb_b) = (100 + 100) / 4 = 50, minus max(0, mean) = 0
    assert psa.evpi(20000.0) == pytest.approx(50.0)
    # expected loss: choosing a forgoes 100, 100, 0, 0 -> 50 (= EVPI, a is optimal); b forgoes 0, 0, 50, 600 -> 162.5
    assert psa.expected_loss([20000.0]).tolist() == [[50.0, 162.5]]
    with pytest.raises(ModelError, match="strategy 'z' is unknown; allowed: a, b"):
        psa.ce_plane(reference="z")


# ------------------------------------------------------------------------------------------ VOI
def test_evppi_matches_an_analytic_answer() -> None:
    # INB = theta + phi with theta, phi ~ N(0, 1) independent. EVPI = E[max(0, theta + phi)] = sqrt(2) / sqrt(2 pi);
    # EVPPI(theta) = E[max(0, theta)] = 1 / sqrt(2 pi) = 0.39894...
    rng = np.random.default_rng(2024)
    n = 40000
    theta, phi = rng.standard_normal(n), rng.standard_normal(n)
    nmb = np.column_stack([np.zeros(n), theta + phi])
    assert evpi_from_nmb(nmb) == pytest.approx(math.sqrt(2) / math.sqrt(2 * math.pi), abs=0.01)
    assert evppi_from_arrays(nmb, theta) == pytest.approx(1 / math.sqrt(2 * math.pi), abs=0.015)
    assert evppi_from_arrays(nmb, np.column_stack([theta, phi])) == pytest.approx(
        math.sqrt(2) / math.sqrt(2 * math.pi), abs=0.015
    )
    # a parameter that does not matter has (almost) no value
    assert evppi_from_arrays(nmb, rng.standard_normal(n)) == pytest.approx(0.0, abs=0.01)


def test_evppi_on_a_model_psa_is_between_zero_and_evpi() -> None:
    psa = run_psa(hiv_model(), draws=3000, seed=3)
    threshold = 6000.0
    total = psa.evpi(threshold)
    part = evppi(psa, ["rr"], threshold)
    assert 0.0 <= part <= total * 1.05
    table = evppi_table(psa, {"relative risk": ["rr"]}, [threshold])
    assert table["EVPI"]["6000"] == pytest.approx(total)
    assert table["relative risk"]["6000"] == pytest.approx(part)
    with pytest.raises(ModelError, match="parameters nope are not in the PSA"):
        evppi(psa, ["nope"], threshold)
    with pytest.raises(ModelError, match="draws is 20; allowed for EVPPI with 1 parameter"):
        evppi_from_arrays(np.zeros((20, 2)), np.arange(20.0))


# ------------------------------------------------------------------------------------------ DSA
def test_one_way_tornado_varies_each_uncertain_parameter_and_sorts_by_width() -> None:
    model = sick_sicker_model()
    tornado = one_way(model, strategy="B", comparator="SoC", threshold=100000.0)
    base = run_model(model)
    b, soc = base.strategy("B"), base.strategy("SoC")
    assert tornado.base.incremental_cost == pytest.approx(b.cost - soc.cost)
    assert tornado.base.incremental_nmb == pytest.approx(100000 * (b.qalys - soc.qalys) - (b.cost - soc.cost))
    varied = {bar.parameter for bar in tornado.bars}
    assert varied == {p.name for p in model.parameters if p.distribution is not None}
    widths = [bar.width for bar in tornado.bars]
    assert widths == sorted(widths, reverse=True)
    bar = next(x for x in tornado.bars if x.parameter == "c_trtB")
    dist = next(p.dist for p in model.parameters if p.name == "c_trtB")
    assert (bar.low_value, bar.high_value) == (dist.quantile(0.025), dist.quantile(0.975))
    high = run_model(model, {"c_trtB": bar.high_value})
    assert bar.high.incremental_cost == pytest.approx(high.strategy("B").cost - high.strategy("SoC").cost)
    assert bar.high.icer == pytest.approx(bar.high.incremental_cost / bar.high.incremental_qalys)


def test_one_way_varies_each_dirichlet_member_over_its_marginal_and_keeps_its_row_summing_to_one() -> None:
    model = hiv_model()  # transitions from each state are Dirichlet rows (Briggs 2006 table 2.1 counts)
    tornado = one_way(model, strategy="comb", comparator="mono", threshold=20000.0)
    members = [n for g in model.dirichlet for n in g.names]
    assert set(members) <= {bar.parameter for bar in tornado.bars}
    group = model.dirichlet[0]
    name, alpha, total = group.names[0], group.alphas[0], sum(group.alphas)
    bar = next(x for x in tornado.bars if x.parameter == name)
    marginal = stats.beta(alpha, total - alpha)
    assert (bar.low_value, bar.high_value) == pytest.approx((marginal.ppf(0.025), marginal.ppf(0.975)))
    # the bar's outcome is the model run with that member at its high value and the rest of its row rescaled
    base = model.base_values()
    rest = 1.0 - base[name]
    overrides = {name: bar.high_value} | {
        other: base[other] * (1.0 - bar.high_value) / rest for other in group.names if other != name
    }
    assert sum(overrides.values()) == pytest.approx(1.0)
    high = run_model(model, overrides)
    expected = high.strategy("comb").cost - high.strategy("mono").cost
    assert bar.high.incremental_cost == pytest.approx(expected)
    assert bar.width > 0


def test_one_way_uses_explicit_ranges_and_refuses_bad_strategies() -> None:
    model = hiv_model()
    model = dataclasses.replace(
        model,
        parameters=(
            *model.parameters[:1],
            Parameter("c_zido", 2278.0, None, "x", low=2000.0, high=2500.0),
            model.parameters[2],
        ),
    )
    tornado = one_way(model, strategy="comb", comparator="mono", threshold=20000.0)
    assert [(b.parameter, b.low_value, b.high_value) for b in tornado.bars if b.parameter == "c_zido"] == [
        ("c_zido", 2000.0, 2500.0)
    ]
    with pytest.raises(ModelError, match="strategy 'x' is unknown; allowed: mono, comb"):
        one_way(model, strategy="x", comparator="mono", threshold=1.0)
    with pytest.raises(ModelError, match="comparator is 'mono'; allowed: a strategy other than 'mono'"):
        one_way(model, strategy="mono", comparator="mono", threshold=1.0)


def test_psa_of_a_model_without_uncertain_parameters_repeats_the_base_case() -> None:
    from carefund.economics.model import Conventions, Model, State, StateCost, Strategy, Transition

    model = Model(
        name="fixed",
        states=(State("a"), State("d", dead=True)),
        strategies=(Strategy("s"),),
        transitions=(Transition("a", "d", 0.1), Transition("a", "a", "C"), Transition("d", "d", 1.0)),
        conventions=Conventions(counting="start", discount_costs=0, discount_effects=0),
        cycles=3,
        state_costs=(StateCost("c", "a", 1.0),),
    )
    psa = run_psa(model, draws=5, seed=1, keep_parameters=False)
    assert psa.cost[:, 0].tolist() == pytest.approx([1 + 0.9 + 0.81] * 5)
    assert psa.parameters == {}


def test_psa_summary_gives_means_intervals_and_the_incremental_table_of_the_means():
    from carefund.economics.psa import PSAResult

    n = 401  # percentiles of 0..400 are exact: the 2.5th is 10, the 97.5th is 390
    ramp = np.arange(n, dtype=np.float64)
    result = PSAResult(
        strategies=("a", "b", "c"),
        seed=1,
        cost=np.column_stack([ramp, ramp + 1000, ramp + 500]),
        qalys=np.column_stack([np.full(n, 1.0), np.full(n, 1.5), np.full(n, 1.0)]),
        life_years=np.column_stack([np.full(n, 2.0), np.full(n, 3.0), np.full(n, 2.0)]),
        parameters={},
    )
    summary = result.summary()
    a, b, c = summary.strategies
    assert (a.cost.mean, a.cost.low, a.cost.high) == (200.0, 10.0, 390.0)
    assert (b.cost.mean, b.qalys.mean, b.life_years.mean) == (1200.0, 1.5, 3.0)
    assert (c.qalys.low, c.qalys.high) == (1.0, 1.0)
    rows = {r.name: r for r in summary.incremental.rows}
    assert rows["a"].status == "reference"
    assert rows["c"].status == "dominated"  # costs 500 more than a for the same QALYs
    assert rows["b"].status == "frontier"
    assert rows["b"].icer == pytest.approx(1000 / 0.5)


def test_psa_json_has_the_summary_table(capsys):
    from carefund.economics.tests.test_command import run

    code, out, err = run(capsys, "sdr", "--psa", "300", "--seed", "3", "--json")
    assert code == 0, err
    psa = json.loads(out)["psa"]
    rows = psa["summary"]["strategies"]
    assert [r["name"] for r in rows] == ["usual_care", "sdr"]
    for r in rows:
        for key in ("cost", "qalys", "life_years"):
            low, high = r[key]["interval"]
            assert low <= r[key]["mean"] <= high
    assert {r["status"] for r in psa["summary"]["incremental"]} <= {"ref", "ND", "D", "ED"}
    assert set(psa["evpi_per_person"]) == {"20000", "25000", "30000", "35000"}


def test_summary_percentiles_are_numpys_to_the_bit():
    """The summary's intervals use psa.percentile (numpy's default linear method without importing numpy.ma)."""
    rng = np.random.default_rng(7)
    for n in [*range(1, 40), 999, 1000, 10_001]:
        x = rng.normal(size=n) * 1000
        if n % 3 == 0:
            x = np.round(x)  # ties
        for q in (0, 0.1, 2.5, 33.3, 50, 97.5, 99.9, 100):
            assert percentile(x, q) == float(np.percentile(x, q)), (n, q)
    assert np.isnan(percentile(np.array([1.0, np.nan, 3.0]), 2.5))
