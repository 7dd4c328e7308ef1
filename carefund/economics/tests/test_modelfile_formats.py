"""The model language's newer constructs, each checked against a hand computation: real cycles only (no cycle 0),
life tables of any length used directly (probabilities, rates, by sex), lookup tables by age band, derived values,
% floor ceil, Simpson counting and a counting rule per outcome, and when one-off and move costs are charged."""

from __future__ import annotations

import math

import pytest

from carefund.economics.modelfile import ModelFileError, parse_model
from carefund.economics.report import run_model
from carefund.economics.tests.test_modelfile import VALID
from carefund.economics.tests.test_modelfile_extensions import WITH_MOVES


def strategies(text: str):  # type: ignore[no-untyped-def]
    return run_model(parse_model(text, file="m.toml")).strategies


def refusal(text: str) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        parse_model(text, file="m.toml")
    return info.value


ALIVE_A = (1.0, 0.9, 0.81)  # the toy's living cohort at the start of cycles 1-3 under a (10% die a cycle)


def test_strategy_values_are_checked_in_the_real_cycles_only():
    # sqrt(cycle - 1) is nan only in a "cycle 0" that the model does not have; it used to be refused there
    text = (
        VALID.replace("values = { rr = 1 }", 'values = { rr = 1, extra = "sqrt(cycle - 1)" }')
        .replace('values = { rr = "rr_b" }', 'values = { rr = "rr_b", extra = 0 }')
        .replace('costs = { care = "c_well" }', 'costs = { care = "c_well", more = "extra" }')
    )
    a, _ = strategies(text)
    assert a.cost == pytest.approx(2710 + sum(m * math.sqrt(c) for c, m in enumerate(ALIVE_A)), rel=1e-12)


def test_a_refusal_names_the_first_real_cycle_that_fails():
    err = refusal(VALID.replace("values = { rr = 1 }", 'values = { rr = "1 / (3 - cycle)" }'))
    assert err.key == "strategies.a.values.rr"
    assert (
        err.message
        == "'1 / (3 - cycle)' is inf in cycle 3 for strategy a at the base values; it must be a finite number"
    )


def lifetime(column: str, values: list[float], *, start_age: int = 25, cycles: int = 75) -> str:
    """Two states dying at the life table's rate, ages 0-100: a national table's length."""
    return f"""\
[model]
name = "lifetime"
cycles = {cycles}
start_age = {start_age}
start_age_source = "assumption: illustration"

[conventions]
counting = "start"
discount_costs = 0
discount_effects = 0

[[states]]
name = "alive"
initial = 1
utility = 1

[[states]]
name = "dead"
dead = true

[[strategies]]
name = "only"

[transitions.alive]
alive = "C"
dead = "qx"

[transitions.dead]
dead = 1

[life_table]
ages = {list(range(101))}
{column} = {values}
source = "assumption: illustration"
"""


def test_a_life_table_of_101_ages_is_used_directly():
    qx = [round(0.0005 + a * 0.002, 6) for a in range(101)]
    (only,) = strategies(lifetime("qx", qx))
    alive, expected = 1.0, 0.0
    for t in range(75):
        expected += alive
        alive *= 1 - qx[25 + t]
    assert only.life_years == pytest.approx(expected, rel=1e-12)


def test_a_life_table_of_rates_is_converted_once():
    (only,) = strategies(lifetime("mx", [0.02] * 101, cycles=10))
    assert only.life_years == pytest.approx(sum(math.exp(-0.02 * t) for t in range(10)), rel=1e-12)


def test_a_life_table_by_sex_takes_the_model_sex():
    text = lifetime("qx_female", [0.01] * 101, cycles=3).replace(
        "qx_female = ", f"qx_male = {[0.1] * 101}\nqx_female = "
    )
    err = refusal(text)
    assert (err.key, err.message) == (
        "model.sex",
        "is missing; the life table is by sex, so say whose it is: female or male",
    )
    female = text.replace('name = "lifetime"', 'name = "lifetime"\nsex = "female"')
    male = text.replace('name = "lifetime"', 'name = "lifetime"\nsex = "male"')
    assert strategies(female)[0].life_years == pytest.approx(1 + 0.99 + 0.99**2, rel=1e-12)
    assert strategies(male)[0].life_years == pytest.approx(1 + 0.9 + 0.81, rel=1e-12)


BANDED = (
    VALID.replace('costs = { care = "c_well" }', 'costs = { care = "c_band" }').replace(
        'name = "toy"', 'name = "toy"\nsex = "male"'
    )
    + """
[tables.c_band]
ages = [0, 42]
female = [100, 200]
male = [300, 400]
source = "assumption: illustration"
"""
)


def test_a_lookup_table_by_age_band_and_sex_is_a_step_function():
    a, _ = strategies(BANDED)  # ages 40, 41, 42 at the start of cycles 1-3: bands 0, 0, 42
    assert a.cost == pytest.approx(300 * 1.0 + 300 * 0.9 + 400 * 0.81, rel=1e-12)
    female, _ = strategies(BANDED.replace('sex = "male"', 'sex = "female"'))
    assert female.cost == pytest.approx(100 * 1.0 + 100 * 0.9 + 200 * 0.81, rel=1e-12)


def test_derived_values_and_percent_floor_ceil():
    text = (
        VALID.replace('dead = "p_die * rr"', 'dead = "p_half * 2 * rr"').replace(
            'costs = { care = "c_well" }', 'costs = { care = "c_well * (cycle % 2) + floor(2.5) + ceil(0.2)" }'
        )
        + '\n[derived]\np_half = "p_die / 2"\n'
    )
    a, _ = strategies(text)  # cycles 1 and 3 are odd: 1000 + 3; cycle 2: 0 + 3
    assert a.cost == pytest.approx(1003 * 1.0 + 3 * 0.9 + 1003 * 0.81, rel=1e-12)
    err = refusal(text.replace('p_half = "p_die / 2"', 'p_half = "p_die / cycle"'))
    assert (err.key, err.message) == (
        "derived.p_half",
        "uses 'cycle'; a derived value is one number per draw: allowed: parameters",
    )


FOUR_CYCLES = VALID.replace("cycles = 3", "cycles = 4")
TRACE_A = (1.0, 0.9, 0.81, 0.729, 0.6561)  # m[0..4] under a


@pytest.mark.parametrize(
    ("rule", "weights"),
    [
        ("simpson", (1 / 3, 4 / 3, 2 / 3, 4 / 3, 1 / 3)),
        ("simpson_darth", (1 / 3, 2 / 3, 4 / 3, 2 / 3, 1 / 3)),
    ],
)
def test_simpson_counting_from_a_file(rule, weights):
    a, _ = strategies(FOUR_CYCLES.replace('counting = "start"', f'counting = "{rule}"'))
    assert a.life_years == pytest.approx(sum(w * m for w, m in zip(weights, TRACE_A, strict=True)), rel=1e-12)


def test_each_outcome_may_count_by_its_own_rule():
    # the DMHEE HIV exercise: costs at the end of each cycle, life years half-cycle corrected
    text = VALID.replace(
        'counting = "start"', 'counting = "start"\ncounting_costs = "end"\ncounting_life_years = "half_cycle"'
    )
    a, _ = strategies(text)
    assert a.cost == pytest.approx(1000 * (0.9 + 0.81 + 0.729), rel=1e-12)
    assert a.life_years == pytest.approx(0.5 * 1 + 0.9 + 0.81 + 0.5 * 0.729, rel=1e-12)
    assert a.qalys == pytest.approx(2.71, rel=1e-12)  # effects still counted at the start


def test_one_off_costs_at_time_zero_stay_undiscounted():
    text = VALID.replace("discount_costs = 0\n", "discount_costs = 0.1\ndiscount_first_cycle = true\n")
    _, b = strategies(text)
    _, b0 = strategies(
        text.replace("discount_first_cycle = true", 'discount_first_cycle = true\none_off_timing = "time_zero"')
    )
    assert b0.cost - b.cost == pytest.approx(100 - 100 / 1.1, rel=1e-12)


def test_move_costs_may_be_charged_at_the_end_of_the_cycle():
    text = WITH_MOVES.replace("discount_costs = 0", "discount_costs = 0.1")
    end = text.replace('amount = "c_death"', 'amount = "c_death"\ntiming = "end"')
    care = 1000 * (1 + 0.9 / 1.1 + 0.81 / 1.1**2)
    a, _ = strategies(end)
    assert a.cost == pytest.approx(care + 500 * (0.1 / 1.1 + 0.09 / 1.1**2 + 0.081 / 1.1**3), rel=1e-12)
    err = refusal(text.replace('amount = "c_death"', 'amount = "c_death"\ntiming = "later"'))
    assert err.key == "transition_costs[0].timing"
