"""The cohort engine: conventions, discounting, background mortality, costs and utilities, validation messages."""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from carefund.economics.engine import compile_model, run_model
from carefund.economics.expressions import ExpressionError, parse_expression
from carefund.economics.incremental import incremental_analysis, net_monetary_benefit
from carefund.economics.model import (
    COMPLEMENT,
    Conventions,
    LifeTable,
    Model,
    ModelError,
    OneOffCost,
    Parameter,
    State,
    StateCost,
    StateUtility,
    Strategy,
    Transition,
    TransitionCost,
    TransitionUtility,
    transitions_from_matrix,
)


def two_state(
    *,
    counting: str = "start",
    cycles: int = 3,
    rate: float = 0.0,
    discounting: str = "discrete",
    first: bool = False,
    p_death: float | str = 0.5,
    **extra: object,
) -> Model:
    """alive -> dead with probability p_death per cycle; a cost of 1 and utility 1 per cycle alive."""
    base: dict[str, object] = dict(
        name="two",
        states=(State("alive"), State("dead", dead=True)),
        strategies=(Strategy("only"),),
        transitions=(
            Transition("alive", "dead", p_death),
            Transition("alive", "alive", COMPLEMENT),
            Transition("dead", "dead", 1.0),
        ),
        conventions=Conventions(
            counting=counting,  # type: ignore[arg-type]
            discount_costs=rate,
            discount_effects=rate,
            discounting=discounting,  # type: ignore[arg-type]
            discount_first_cycle=first,
        ),
        cycles=cycles,
        state_costs=(StateCost("care", "alive", 1.0),),
        state_utilities=(StateUtility("alive", 1.0),),
    )
    base.update(extra)
    return Model(**base)  # type: ignore[arg-type]


def totals(model: Model) -> tuple[float, float, float]:
    r = run_model(model).strategies[0]
    return r.cost, r.qalys, r.life_years


def test_engine_imports_nothing_of_django() -> None:
    code = (
        "import sys\n"
        "import carefund.economics.engine, carefund.economics.psa, carefund.economics.dsa, carefund.economics.voi\n"
        "import carefund.economics.examples\n"
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
        "others = [m for m in sys.modules if m.startswith('carefund.') and not m.startswith('carefund.economics')]\n"
        "assert not bad and not others, (bad, others)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# ------------------------------------------------------------------------------------------ counting
@pytest.mark.parametrize(
    ("counting", "cycles", "expected"),
    [
        ("start", 3, 1 + 0.5 + 0.25),
        ("end", 3, 0.5 + 0.25 + 0.125),
        ("trapezoid", 3, (1.75 + 0.875) / 2),
        ("half_cycle", 3, 0.5 * 1 + 0.5 + 0.25 + 0.5 * 0.125),
        ("simpson", 2, (1 + 4 * 0.5 + 0.25) / 3),
        ("simpson_darth", 2, (1 + 2 * 0.5 + 0.25) / 3),
        ("simpson_darth", 3, (1 + 2 * 0.5 + 4 * 0.25 + 0.125) / 3),
    ],
)
def test_counting_conventions_undiscounted(counting: str, cycles: int, expected: float) -> None:
    cost, qalys, life_years = totals(two_state(counting=counting, cycles=cycles))
    assert cost == pytest.approx(expected, abs=1e-12)
    assert qalys == pytest.approx(expected, abs=1e-12)
    assert life_years == pytest.approx(expected, abs=1e-12)


def test_simpson_needs_an_even_number_of_cycles() -> None:
    with pytest.raises(ModelError, match="cycles is 3; allowed with counting 'simpson': an even number"):
        run_model(two_state(counting="simpson", cycles=3))


@pytest.mark.parametrize(
    ("counting", "first", "expected"),
    [
        ("start", False, 1 + 0.5 / 1.1 + 0.25 / 1.1**2),
        ("start", True, 1 / 1.1 + 0.5 / 1.1**2 + 0.25 / 1.1**3),
        ("end", False, 0.5 + 0.25 / 1.1 + 0.125 / 1.1**2),
        ("end", True, 0.5 / 1.1 + 0.25 / 1.1**2 + 0.125 / 1.1**3),
        ("trapezoid", False, 0.75 + 0.375 / 1.1 + 0.1875 / 1.1**2),
        ("half_cycle", False, 0.5 + 0.5 / 1.1 + 0.25 / 1.1**2 + 0.0625 / 1.1**3),
    ],
)
def test_discrete_discounting_and_first_cycle(counting: str, first: bool, expected: float) -> None:
    cost, qalys, _ = totals(two_state(counting=counting, rate=0.1, first=first))
    assert cost == pytest.approx(expected, abs=1e-12)
    assert qalys == pytest.approx(expected, abs=1e-12)


def test_continuous_discounting() -> None:
    cost, _, _ = totals(two_state(rate=0.1, discounting="continuous"))
    assert cost == pytest.approx(1 + 0.5 * math.exp(-0.1) + 0.25 * math.exp(-0.2), abs=1e-12)


def test_separate_rates_for_costs_and_effects_and_undiscounted_totals() -> None:
    model = two_state()
    model = dataclasses.replace(model, conventions=dataclasses.replace(model.conventions, discount_costs=0.1))
    r = run_model(model).strategies[0]
    assert r.cost == pytest.approx(1 + 0.5 / 1.1 + 0.25 / 1.21, abs=1e-12)
    assert r.qalys == pytest.approx(1.75, abs=1e-12)
    assert r.cost_undiscounted == pytest.approx(1.75, abs=1e-12)


def test_cycle_length_scales_qalys_and_life_years_not_costs_and_discounts_in_years() -> None:
    model = two_state(rate=0.1)
    model = dataclasses.replace(model, conventions=dataclasses.replace(model.conventions, cycle_length_years=0.5))
    r = run_model(model).strategies[0]
    assert r.cost == pytest.approx(1 + 0.5 / 1.1**0.5 + 0.25 / 1.1, abs=1e-12)
    assert r.qalys == pytest.approx(0.5 * (1 + 0.5 / 1.1**0.5 + 0.25 / 1.1), abs=1e-12)
    assert r.life_years_undiscounted == pytest.approx(0.5 * 1.75, abs=1e-12)


# ------------------------------------------------------------------------------------------ values
def test_per_cycle_tuple_and_expression_of_cycle_time_age() -> None:
    model = two_state(
        p_death=0.0,
        cycles=4,
        start_age=10.0,
        parameters=(Parameter("drug", 100.0),),
        state_costs=(
            StateCost("drug", "alive", "where(cycle < 2, drug, 0)"),
            StateCost("schedule", "alive", (5.0, 7.0)),
            StateCost("by age", "alive", "age - time"),
        ),
    )
    r = run_model(model).strategies[0]
    assert dict(r.costs_by_name) == {"drug": 200.0, "schedule": 5.0 + 7.0 * 3, "by age": 40.0}
    assert r.cost == 200.0 + 26.0 + 40.0


def test_strategy_specific_transitions_costs_and_utilities_override_or_add() -> None:
    model = two_state(
        cycles=2,
        strategies=(Strategy("old"), Strategy("new")),
        transitions=(
            Transition("alive", "dead", 0.5),
            Transition("alive", "dead", 0.25, "new"),
            Transition("alive", "alive", COMPLEMENT),
            Transition("dead", "dead", 1.0),
        ),
        state_costs=(StateCost("care", "alive", 1.0), StateCost("drug", "alive", 10.0, "new")),
        state_utilities=(StateUtility("alive", 1.0), StateUtility("alive", 0.5, "new")),
    )
    result = run_model(model)
    old, new = result.strategy("old"), result.strategy("new")
    assert (old.cost, old.qalys, old.life_years) == (1.5, 1.5, 1.5)
    assert (new.cost, new.qalys, new.life_years) == (11 * 1.75, 0.5 * 1.75, 1.75)
    assert result.net_monetary_benefit(100.0) == {"old": 150.0 - 1.5, "new": 87.5 - 19.25}


def test_transition_costs_utilities_and_one_off_costs() -> None:
    model = two_state(
        cycles=2,
        rate=0.1,
        state_costs=(),
        state_utilities=(),
        transition_costs=(TransitionCost("death", "alive", "dead", 100.0),),
        transition_utilities=(TransitionUtility("alive", "dead", -0.5),),
        one_off_costs=(OneOffCost("surgery", 1000.0), OneOffCost("review", 10.0, cycle=1)),
    )
    r = run_model(model).strategies[0]
    assert r.cost == pytest.approx(50 + 25 / 1.1 + 1000 + 10 / 1.1, abs=1e-9)
    assert r.cost_undiscounted == pytest.approx(1085.0, abs=1e-9)
    assert r.qalys == pytest.approx(-0.25 - 0.125 / 1.1, abs=1e-12)
    assert dict(r.costs_by_name) == pytest.approx({"death": 50 + 25 / 1.1, "surgery": 1000.0, "review": 10 / 1.1})


def test_initial_distribution_and_matrix_helper() -> None:
    states = ("a", "b", "c")
    transitions = transitions_from_matrix(states, ((0.5, 0.5, 0), (0, 0.5, 0.5), (0, 0, 1.0)))
    assert len(transitions) == 5
    model = Model(
        name="m",
        states=tuple(State(s) for s in states),
        strategies=(Strategy("s"),),
        transitions=transitions,
        conventions=Conventions(counting="start", discount_costs=0, discount_effects=0),
        cycles=2,
        initial=(("a", 0.5), ("b", 0.5)),
    )
    trace = run_model(model).strategies[0].trace
    assert trace.tolist() == [[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.125, 0.375, 0.5]]


# ------------------------------------------------------------------------------------------ life table
def test_background_mortality_independent_and_max() -> None:
    table = LifeTable(ages=(0, 10, 20), qx=(0.0, 0.1, 0.5), source="test", combination="independent")
    model = two_state(p_death=0.2, cycles=2, start_age=19.0, life_table=table)
    trace = run_model(model).strategies[0].trace
    # age 19: q 0.1 -> 1 - 0.9 * 0.8 = 0.28 dead; age 20: q 0.5 -> 1 - 0.5 * 0.8 = 0.6 of the living die
    assert trace[1].tolist() == pytest.approx([0.72, 0.28])
    assert trace[2].tolist() == pytest.approx([0.72 * 0.4, 0.28 + 0.72 * 0.6])
    maxed = two_state(p_death=0.2, cycles=2, start_age=19.0, life_table=dataclasses.replace(table, combination="max"))
    trace = run_model(maxed).strategies[0].trace
    assert trace[1].tolist() == pytest.approx([0.8, 0.2])
    assert trace[2].tolist() == pytest.approx([0.8 * 0.5, 0.2 + 0.8 * 0.5])


def test_background_mortality_rescales_for_cycle_length_and_keeps_other_transitions_proportional() -> None:
    model = Model(
        name="m",
        states=(State("well"), State("ill"), State("dead", dead=True)),
        strategies=(Strategy("s"),),
        transitions=(
            Transition("well", "ill", 0.5),
            Transition("well", "well", COMPLEMENT),
            Transition("ill", "ill", 1.0),
            Transition("dead", "dead", 1.0),
        ),
        conventions=Conventions(counting="start", discount_costs=0, discount_effects=0, cycle_length_years=0.5),
        cycles=1,
        start_age=50.0,
        life_table=LifeTable(ages=(50,), qx=(0.19,), source="test"),
    )
    p = compile_model(model).transition_matrices(0, compile_model(model).namespace(model.base_values())[0], 1)[0, 0]
    bg = 1 - math.sqrt(0.81)
    assert p[0].tolist() == pytest.approx([0.5 * (1 - bg), 0.5 * (1 - bg), bg])
    assert p[1].tolist() == pytest.approx([0.0, 1 - bg, bg])
    assert p[2].tolist() == [0.0, 0.0, 1.0]


# ------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(transitions=(Transition("alive", "limbo", 0.5),)), "unknown state 'limbo'; allowed: alive, dead"),
        (
            dict(transitions=(Transition("alive", "dead", 0.5), Transition("dead", "dead", 1.0))),
            "transitions from state 'alive' in strategy 'only' sum to 0.5 at cycle 0 (parameter set 0); allowed: a "
            "row summing to 1",
        ),
        (dict(p_death=1.5), "transition alive -> dead in strategy 'only' is 1.5 at cycle 0 (parameter set 0); allowed"),
        (
            dict(
                states=(State("alive"), State("ill"), State("dead", dead=True)),
                transitions=(
                    Transition("alive", "dead", 0.7),
                    Transition("alive", "ill", 0.5),
                    Transition("alive", "alive", COMPLEMENT),
                    Transition("ill", "ill", 1.0),
                    Transition("dead", "dead", 1.0),
                ),
            ),
            "transitions from state 'alive' in strategy 'only' other than the complement (alive -> alive) sum to 1.2 "
            "at cycle 0 (parameter set 0); allowed: at most 1",
        ),
        (dict(p_death="-0.1"), "is -0.1 at cycle 0 (parameter set 0); allowed: a probability from 0 to 1"),
        (dict(p_death="p_missing"), "uses unknown name(s) p_missing; allowed: the model's parameters, cycle"),
        (dict(p_death="__import__('os')"), "calling '__import__' is not allowed"),
        (dict(p_death="(1).real"), "Attribute is not allowed"),
        (dict(cycles=0), "cycles is 0; allowed: a whole number from 1 to 10000"),
        (dict(counting="middle"), "conventions.counting is 'middle'; allowed: start, end"),
        (dict(rate=-0.01), "conventions.discount_costs is -0.01; allowed: a rate from 0"),
        (dict(parameters=(Parameter("cycle", 1.0),)), "parameter name(s) cycle are reserved"),
        (dict(parameters=(Parameter("x", float("inf")),)), "parameter 'x' has base value inf; allowed: a finite"),
        (dict(parameters=(Parameter("x", 1.0, low=float("nan")),)), "parameter 'x' has low nan; allowed: a finite"),
        (dict(states=(State("alive"), State("alive"))), "state 'alive' is declared twice"),
        (dict(initial=(("alive", 0.6),)), "initial shares sum to 0.6; allowed: shares summing to 1"),
        (dict(state_costs=(StateCost("x", "alive", 1.0, "other"),)), "unknown strategy 'other'; allowed: only"),
        (
            dict(
                transitions=(
                    Transition("alive", "dead", COMPLEMENT),
                    Transition("alive", "alive", COMPLEMENT),
                    Transition("dead", "dead", 1.0),
                )
            ),
            "has 2 complement transitions; allowed: at most one 'C' per row",
        ),
        (dict(state_costs=(StateCost("x", "alive", float("nan")),)), "cost 'x' of state 'alive' is nan; allowed"),
        (dict(one_off_costs=(OneOffCost("x", 1.0, cycle=3),)), "one-off cost 'x' has cycle 3; allowed: 0 to 2"),
        (
            dict(life_table=LifeTable(ages=(0, 10), qx=(0.1,), source="x")),
            "life_table has 2 ages and 1 qx; allowed: the same number",
        ),
    ],
)
def test_invalid_models_are_refused_with_a_message_naming_the_item(change: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError) as info:
        run_model(two_state(**change))  # type: ignore[arg-type]
    assert message in str(info.value)


def test_run_model_refuses_unknown_override() -> None:
    with pytest.raises(ModelError, match="values name unknown parameter\\(s\\) nope"):
        run_model(two_state(), {"nope": 1.0})


# ------------------------------------------------------------------------------------------ expressions
@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('x')",
        "x.__class__",
        "x[0]",
        "lambda: 1",
        "[i for i in x]",
        "'a'",
        "f(x=1)",
        "0 < x < 1",
        "x and y",
        "open('f')",
        "exp",
    ],
)
def test_expression_whitelist_refuses(text: str) -> None:
    with pytest.raises(ExpressionError, match="is not allowed; allowed: numbers, names"):
        parse_expression(text)


def test_expression_syntax_error_and_empty() -> None:
    with pytest.raises(ExpressionError, match="is not valid"):
        parse_expression("1 +")
    with pytest.raises(ExpressionError, match="is empty"):
        parse_expression("  ")


def test_expression_functions_vectorise() -> None:
    expr = parse_expression("where(cycle < 2, rate_to_prob(r), max(p, 0.3, q)) + min(1, 2)")
    assert expr.names == frozenset({"cycle", "r", "p", "q"})
    out = expr.evaluate({"cycle": np.arange(3)[None, :], "r": np.array([[0.1], [0.2]]), "p": 0.1, "q": 0.2})
    expected = np.array([[1 - math.exp(-0.1)] * 2 + [0.3], [1 - math.exp(-0.2)] * 2 + [0.3]]) + 1
    assert np.allclose(out, expected)
    assert float(parse_expression("prob_to_rate(rescale_prob(0.19, 1, 0.5))").evaluate({})) == pytest.approx(
        -math.log(0.9)
    )


# ------------------------------------------------------------------------------------------ incremental
def test_incremental_analysis_dominance_and_extended_dominance() -> None:
    names = ["A", "B", "C", "D", "E"]
    costs = [0.0, 10000.0, 15000.0, 12000.0, 15000.0]
    effects = [0.0, 0.5, 1.0, 0.4, 1.0]
    result = incremental_analysis(names, costs, effects)
    status = {r.name: r.status for r in result.rows}
    assert status == {
        "A": "reference",
        "B": "extendedly dominated",
        "C": "frontier",
        "D": "dominated",
        "E": "dominated",  # identical to C, listed later
    }
    c = result.row("C")
    assert (c.compared_with, c.incremental_cost, c.incremental_effect, c.icer) == ("A", 15000.0, 1.0, 15000.0)
    assert result.frontier == ("A", "C")
    assert result.optimal(10000.0) == "A"
    assert result.optimal(20000.0) == "C"
    assert net_monetary_benefit([1.0, 2.0], [0.5, 0.5], 10.0).tolist() == [4.0, 3.0]


def test_incremental_analysis_single_and_mismatched() -> None:
    assert incremental_analysis(["x"], [1.0], [1.0]).rows[0].status == "reference"
    with pytest.raises(ValueError, match="names, costs and effects have 2, 1, 2 items"):
        incremental_analysis(["a", "b"], [1.0], [1.0, 2.0])


def test_initial_shares_may_be_expressions_of_parameters_checked_per_parameter_set() -> None:
    from carefund.economics.engine import compile_model as compile_

    model = two_state(
        cycles=1,
        parameters=(Parameter("share", 0.25),),
        initial=(("alive", "1 - share"), ("dead", "share")),
    )
    assert run_model(model).strategies[0].trace[0].tolist() == [0.75, 0.25]
    batch, _ = compile_(model).evaluate({"share": np.array([0.0, 0.5])})
    assert batch.life_years[:, 0].tolist() == [1.0, 0.5]  # counting "start": the first cycle's alive share
    with pytest.raises(
        ModelError, match=re.escape("initial share of 'alive' is -0.5 (parameter set 1); allowed: a proportion")
    ):
        compile_(model).evaluate({"share": np.array([0.5, 1.5])})
    lopsided = dataclasses.replace(model, initial=(("alive", "share"), ("dead", "share")))
    with pytest.raises(
        ModelError, match=re.escape("initial shares sum to 0.5 (parameter set 0); allowed: shares summing to 1")
    ):
        run_model(lopsided)
    # an initial share sees the first cycle's cycle, time and age (a model file's qx at the start age)
    aged = dataclasses.replace(model, start_age=25.0, initial=(("alive", "1 - age / 100"), ("dead", "age / 100")))
    assert run_model(aged).strategies[0].trace[0].tolist() == [0.75, 0.25]
