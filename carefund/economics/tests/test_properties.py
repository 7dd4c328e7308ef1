"""Property tests (hypothesis): the cohort sums to one, costs scale linearly with prices, dominated strategies are
never on the frontier, a seed reproduces a PSA exactly, and the chunk size does not change a PSA."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carefund.economics import distributions as d
from carefund.economics.engine import compile_model, run_model
from carefund.economics.examples import benchmark_model
from carefund.economics.incremental import incremental_analysis
from carefund.economics.model import (
    Conventions,
    LifeTable,
    Model,
    OneOffCost,
    Parameter,
    State,
    StateCost,
    StateUtility,
    Strategy,
    TransitionCost,
    transitions_from_matrix,
)
from carefund.economics.psa import run_psa

COUNTINGS = ("start", "end", "half_cycle", "trapezoid", "simpson_darth")


@st.composite
def random_models(draw: st.DrawFn) -> Model:
    n = draw(st.integers(min_value=2, max_value=5))
    cycles = draw(st.integers(min_value=1, max_value=30))
    rows = []
    for _ in range(n - 1):
        weights = draw(st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=n, max_size=n))
        total = sum(weights)
        rows.append(tuple(w / total for w in weights) if total > 0 else tuple(1.0 if j == 0 else 0.0 for j in range(n)))
    rows.append(tuple(1.0 if j == n - 1 else 0.0 for j in range(n)))
    states = tuple(f"s{i}" for i in range(n))
    prices = draw(st.lists(st.floats(min_value=0.0, max_value=1e5), min_size=n - 1, max_size=n - 1))
    utilities = draw(st.lists(st.floats(min_value=-0.5, max_value=1.0), min_size=n - 1, max_size=n - 1))
    with_table = draw(st.booleans())
    return Model(
        name="random",
        states=tuple(State(s, dead=(i == n - 1)) for i, s in enumerate(states)),
        strategies=(Strategy("x"),),
        transitions=transitions_from_matrix(states, tuple(rows)),
        conventions=Conventions(
            counting=draw(st.sampled_from(COUNTINGS)),
            discount_costs=draw(st.floats(min_value=0.0, max_value=0.1)),
            discount_effects=draw(st.floats(min_value=0.0, max_value=0.1)),
            discounting=draw(st.sampled_from(("discrete", "continuous"))),
            discount_first_cycle=draw(st.booleans()),
            cycle_length_years=draw(st.sampled_from((1.0, 0.5, 1 / 12))),
        ),
        cycles=cycles,
        start_age=draw(st.floats(min_value=0.0, max_value=90.0)),
        life_table=LifeTable(ages=(0, 50, 80), qx=(0.001, 0.01, 0.2), source="test") if with_table else None,
        state_costs=tuple(StateCost("care", s, p) for s, p in zip(states, prices, strict=False)),
        state_utilities=tuple(StateUtility(s, u) for s, u in zip(states, utilities, strict=False)),
        transition_costs=(TransitionCost("move", states[0], states[-1], 123.0),),
        one_off_costs=(OneOffCost("start", 1000.0),),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_models())
def test_cohort_always_sums_to_one_and_stays_in_0_1(model: Model) -> None:
    trace = run_model(model).strategies[0].trace
    assert np.allclose(trace.sum(axis=1), 1.0, atol=1e-9)
    assert trace.min() >= -1e-12 and trace.max() <= 1 + 1e-12


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_models(), st.floats(min_value=0.0, max_value=100.0))
def test_costs_scale_linearly_with_prices(model: Model, factor: float) -> None:
    scaled = dataclasses.replace(
        model,
        state_costs=tuple(dataclasses.replace(c, amount=float(c.amount) * factor) for c in model.state_costs),  # type: ignore[arg-type]
        transition_costs=tuple(
            dataclasses.replace(c, amount=float(c.amount) * factor)
            for c in model.transition_costs  # type: ignore[arg-type]
        ),
        one_off_costs=tuple(dataclasses.replace(c, amount=float(c.amount) * factor) for c in model.one_off_costs),  # type: ignore[arg-type]
    )
    a, b = run_model(model).strategies[0], run_model(scaled).strategies[0]
    assert np.isclose(b.cost, a.cost * factor, rtol=1e-9, atol=1e-6)
    assert b.qalys == a.qalys and b.life_years == a.life_years


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=0, max_value=1e6), st.floats(min_value=0, max_value=30)), min_size=1, max_size=8
    )
)
def test_dominated_strategies_are_never_on_the_frontier(points: list[tuple[float, float]]) -> None:
    names = [f"s{i}" for i in range(len(points))]
    costs = [c for c, _ in points]
    effects = [e for _, e in points]
    result = incremental_analysis(names, costs, effects)
    frontier = set(result.frontier)
    for i, name in enumerate(names):
        dominated = any(
            costs[j] <= costs[i] and effects[j] >= effects[i] and (costs[j] < costs[i] or effects[j] > effects[i])
            for j in range(len(points))
        )
        if dominated:
            assert name not in frontier
    on = [r for r in result.rows if r.status in ("reference", "frontier")]
    icers = [r.icer for r in on[1:]]
    assert all(x is not None and x >= 0 for x in icers)
    assert icers == sorted(icers)  # type: ignore[type-var]
    # the frontier strategy with the highest NMB is the best of all strategies at any threshold
    for lam in (0.0, 1e3, 1e5):
        best = max(range(len(points)), key=lambda i: lam * effects[i] - costs[i])
        assert lam * effects[names.index(result.optimal(lam))] - costs[names.index(result.optimal(lam))] >= (
            lam * effects[best] - costs[best] - 1e-6
        )


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=300), st.integers(1, 400))
def test_seed_reproduces_a_psa_exactly_whatever_the_chunk_size(seed: int, chunk: int, draws: int) -> None:
    compiled = compile_model(benchmark_model(cycles=10))
    a = run_psa(compiled, draws=draws, seed=seed)
    b = run_psa(compiled, draws=draws, seed=seed, chunk_size=chunk)
    assert np.array_equal(a.cost, b.cost)
    assert np.array_equal(a.qalys, b.qalys)
    assert np.array_equal(a.life_years, b.life_years)
    assert all(np.array_equal(a.parameters[k], b.parameters[k]) for k in a.parameters)


def test_vectorised_batch_equals_one_parameter_set_at_a_time() -> None:
    model = benchmark_model(cycles=20)
    model = dataclasses.replace(
        model, parameters=(*model.parameters, Parameter("unused", 1.0, d.normal(1.0, 0.1), "test"))
    )
    psa = run_psa(model, draws=25, seed=9)
    compiled = compile_model(model)
    for i in range(25):
        one, _ = compiled.evaluate({k: v[i : i + 1] for k, v in psa.parameters.items()})
        assert np.allclose(one.cost[0], psa.cost[i], rtol=1e-12)
        assert np.allclose(one.qalys[0], psa.qalys[i], rtol=1e-12)
