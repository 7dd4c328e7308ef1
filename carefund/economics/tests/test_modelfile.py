"""The model-file validator: every refusal names the file and the key (and the line when it can) and what is allowed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carefund.economics.modelfile import (
    Conventions,
    Distribution,
    ModelFileError,
    ModelSpec,
    Parameter,
    State,
    Strategy,
    compile_expression,
    engine_distribution,
    load_model,
    make_distribution,
    parse_model,
    validate_spec,
)

VALID = """\
[model]
name = "toy"
title = "Toy"
cycles = 3
start_age = 40
start_age_source = "assumption: illustration"

[conventions]
counting = "start"
discount_costs = 0
discount_effects = 0

[[states]]
name = "well"
initial = 1
utility = 1
costs = { care = "c_well" }

[[states]]
name = "dead"
initial = 0
utility = 0
dead = true

[[strategies]]
name = "a"
values = { rr = 1 }

[[strategies]]
name = "b"
values = { rr = "rr_b" }
one_off_costs = { drug = 100 }

[transitions.well]
well = "C"
dead = "p_die * rr"

[transitions.dead]
dead = 1

[parameters.p_die]
value = 0.1
unit = "probability"
distribution = { type = "beta", alpha = 10, beta = 90 }
source = "a textbook"

[parameters.rr_b]
value = 0.5
distribution = { type = "lognormal", meanlog = -0.693, sdlog = 0.1 }
source = "a trial"

[parameters.c_well]
value = 1000
distribution = { type = "gamma", mean = 1000, sd = 100 }
source = "a tariff"
"""


def line_no(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def refusal(text: str) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        parse_model(text, file="toy.toml")
    return info.value


def test_valid_model_loads_with_its_parts():
    spec = parse_model(VALID, file="toy.toml")
    assert spec.state_names == ("well", "dead")
    assert [s.name for s in spec.strategies] == ["a", "b"]
    assert spec.base_values() == {"p_die": 0.1, "rr_b": 0.5, "c_well": 1000.0}
    assert spec.parameter_map["c_well"].distribution == Distribution("gamma", (("shape", 100.0), ("scale", 10.0)))
    assert spec.conventions == Conventions(counting="start", discount_costs=0.0, discount_effects=0.0)
    assert spec.file == "toy.toml"


def test_toml_syntax_error_names_the_file_and_line():
    err = refusal(VALID.replace("[transitions.dead]", "[transitions.dead"))
    line = line_no(VALID, "[transitions.dead]")
    assert err.file == "toy.toml"
    assert err.line == line
    assert (
        str(err)
        == f"toy.toml, line {line}: is not valid TOML: Expected ']' at the end of a table declaration (see https://toml.io)"
    )


def test_unknown_state_in_a_transition():
    err = refusal(VALID.replace('dead = "p_die * rr"', 'gone = "p_die * rr"'))
    assert err.key == "transitions.well.gone"
    assert err.message == "is not a state; states: well, dead"
    line = line_no(VALID, 'dead = "p_die * rr"')
    assert err.line == line
    assert str(err) == f"toy.toml, line {line}, transitions.well.gone: is not a state; states: well, dead"


def test_unknown_source_state_row():
    err = refusal(VALID + "\n[transitions.limbo]\nlimbo = 1\n")
    assert err.key == "transitions.limbo"
    assert err.message == "is not a state; states: well, dead"


def test_row_that_does_not_sum_to_one():
    err = refusal(VALID.replace('well = "C"', "well = 0.5"))
    assert err.key == "transitions.well"
    assert err.message == 'sums to 0.6 in cycle 1 for strategy a; a row must sum to 1 (use "C" for the complement)'


def test_complement_would_be_negative():
    text = VALID.replace(
        "[[strategies]]", '[[states]]\nname = "sick"\ninitial = 0\nutility = 0.5\n\n[[strategies]]', 1
    ).replace('well = "C"\ndead = "p_die * rr"', 'well = 0.6\nsick = "C"\ndead = "p_die * rr * 5"')
    err = refusal(text + "\n[transitions.sick]\nsick = 1\n")
    assert err.key == "transitions.well"
    assert err.message == (
        'the other entries sum to 1.1 in cycle 1 for strategy a, so "C" would be negative; they must sum to at most 1'
    )


def test_probability_outside_zero_one():
    err = refusal(VALID.replace("[transitions.dead]\ndead = 1", "[transitions.dead]\ndead = 1.5"))
    assert err.key == "transitions.dead.dead"
    assert err.message == "is 1.5 in cycle 1 for strategy a at the base values; a probability must be from 0 to 1"


def test_probability_parameter_outside_zero_one():
    err = refusal(
        VALID.replace("value = 0.1\nunit", "value = 1.2\nunit")
        .replace("alpha = 10, beta = 90", "mean = 5, sd = 1")
        .replace('type = "beta"', 'type = "normal"')
    )
    assert err.key == "parameters.p_die.value"
    assert err.message == "is 1.2; a probability must be from 0 to 1"


def test_parameter_without_a_source():
    err = refusal(VALID.replace('source = "a trial"\n', ""))
    assert err.key == "parameters.rr_b.source"
    assert err.message.startswith("is missing; every parameter needs a source")
    assert err.line == line_no(VALID, "[parameters.rr_b]")  # the parameter's table


def test_empty_source_is_refused_too():
    err = refusal(VALID.replace('source = "a trial"', 'source = "  "'))
    assert err.key == "parameters.rr_b.source"


@pytest.mark.parametrize(
    ("dist", "key", "message"),
    [
        (
            '{ type = "beta", alpha = 0, beta = 90 }',
            "parameters.p_die.distribution.alpha",
            "is 0; a beta distribution needs alpha > 0",
        ),
        (
            '{ type = "beta", alpha = 10 }',
            "parameters.p_die.distribution.beta",
            "a beta distribution takes exactly: alpha, beta",
        ),
        (
            '{ type = "beta", mean = 0.1, sd = 0.5 }',
            "parameters.p_die.distribution.sd",
            "is 0.5; a beta sd must be > 0 and below sqrt(mean*(1-mean)) = 0.3",
        ),
        (
            '{ type = "uniform", low = 0.2, high = 0.1 }',
            "parameters.p_die.distribution.high",
            "is 0.1; a uniform distribution needs high > low (0.2)",
        ),
        (
            '{ type = "weibull", shape = 1 }',
            "parameters.p_die.distribution.type",
            "is 'weibull'; allowed: fixed, beta, gamma, lognormal, normal, uniform",
        ),
        (
            '{ type = "normal", mean = 0.1, sd = -1 }',
            "parameters.p_die.distribution.sd",
            "is -1; a normal distribution needs sd > 0",
        ),
        (
            '{ type = "gamma", shape = 2, scale = "x" }',
            "parameters.p_die.distribution.scale",
            "must be a finite number, not 'x'",
        ),
    ],
)
def test_invalid_distribution_parameters(dist, key, message):
    err = refusal(VALID.replace('{ type = "beta", alpha = 10, beta = 90 }', dist))
    assert (err.key, err.message) == (key, message)
    assert err.file == "toy.toml"


def test_base_value_outside_the_distribution_support():
    err = refusal(
        VALID.replace("value = 1000", "value = -5").replace(
            '{ type = "gamma", mean = 1000, sd = 100 }', '{ type = "gamma", shape = 2, scale = 3 }'
        )
    )
    assert err.key == "parameters.c_well.value"
    assert err.message == "is -5, outside its gamma distribution's range 0 to inf"


def test_expression_with_unknown_name():
    err = refusal(VALID.replace('care = "c_well"', 'care = "c_wel"'))
    assert err.key == "states.well.costs.care"
    assert (
        err.message
        == "uses unknown name 'c_wel'; allowed: parameters, derived values, strategy values, tables, cycle, age, "
        "time, qx"
    )


@pytest.mark.parametrize("expr", ["__import__('os')", "c_well.real", "[1][0]", "lambda: 1", "open('x')"])
def test_expression_that_is_not_arithmetic_is_refused(expr):
    err = refusal(VALID.replace('care = "c_well"', f'care = "{expr}"'))
    assert err.key == "states.well.costs.care"
    assert "allowed" in err.message


def test_strategy_values_must_match_across_strategies():
    err = refusal(VALID.replace('values = { rr = "rr_b" }', 'values = { rr = "rr_b", extra = 1 }'))
    assert err.key == "strategies.a.values.extra"
    assert err.message == "is set by another strategy but not this one; every strategy must set the same values"


def test_unknown_section_and_convention():
    assert refusal(VALID + "\n[extras]\nx = 1\n").key == "extras"
    err = refusal(VALID.replace('counting = "start"', 'counting = "middle"'))
    assert (err.key, err.message, err.line) == (
        "conventions.counting",
        "is 'middle'; allowed: start, end, half_cycle, trapezoid, simpson, simpson_darth",
        line_no(VALID, "counting ="),
    )


def test_cycles_must_be_a_positive_whole_number():
    err = refusal(VALID.replace("cycles = 3", "cycles = -1"))
    assert (err.key, err.message) == ("model.cycles", "is -1; allowed: a whole number from 1 to 1000")


def test_missing_row_and_bad_initial_shares():
    err = refusal(VALID.replace("[transitions.dead]\ndead = 1\n", ""))
    assert (err.key, err.message) == (
        "transitions.dead",
        "is missing; every state needs a row (an absorbing state: itself = 1)",
    )
    err = refusal(VALID.replace("initial = 1\n", "initial = 0.7\n"))
    assert (err.key, err.message) == ("states", "the initial shares sum to 0.7; they must sum to 1")


def test_duplicate_state():
    err = refusal(VALID.replace('name = "dead"', 'name = "well"'))
    assert err.key == "states.well"
    assert err.message == "is defined twice; state names must be unique"


def test_qx_needs_a_life_table():
    err = refusal(VALID.replace('dead = "p_die * rr"', 'dead = "qx"'))
    assert (err.key, err.message) == ("transitions.well.dead", "uses qx but the model has no [life_table]")


def test_missing_file_and_unknown_shipped_model(tmp_path: Path):
    with pytest.raises(ModelFileError) as info:
        load_model(str(tmp_path / "nope.toml"))
    assert (
        str(info.value)
        == f"{tmp_path / 'nope.toml'}: no such file; give a shipped model name or the path of a .toml model file"
    )
    with pytest.raises(ModelFileError) as info:
        load_model("nosuchmodel")
    assert (
        str(info.value)
        == "nosuchmodel: no shipped model of that name; shipped models: sdr (or give a path to a .toml file)"
    )


def test_file_path_loads(tmp_path: Path):
    p = tmp_path / "toy.toml"
    p.write_text(VALID)
    assert load_model(str(p)).file == str(p)


def test_model_built_in_python_is_validated_the_same_way():
    one = compile_expression(1, file="py", key="k")
    zero = compile_expression(0, file="py", key="k")
    spec = ModelSpec(
        name="py",
        title="",
        states=(State("alive", "Alive", one, one), State("dead", "Dead", zero, zero, dead=True)),
        strategies=(Strategy("only", "Only"),),
        transitions=(
            (
                "alive",
                (
                    ("alive", compile_expression("C", file="py", key="t")),
                    ("dead", compile_expression("p", file="py", key="t")),
                ),
            ),
            ("dead", (("dead", one),)),
        ),
        parameters=(Parameter("p", 0.2, Distribution("fixed"), source="assumption: example"),),
        conventions=Conventions(counting="end", discount_costs=0, discount_effects=0),
        cycles=2,
    )
    validate_spec(spec)
    bad = ModelSpec(**{**spec.__dict__, "parameters": (Parameter("p", 0.2, Distribution("fixed"), source=""),)})
    with pytest.raises(ModelFileError) as info:
        validate_spec(bad)
    assert info.value.key == "parameters.p.source"


def test_overrides_refuse_an_unknown_parameter_and_recheck_rows():
    spec = parse_model(VALID, file="toy.toml")
    with pytest.raises(ModelFileError) as info:
        spec.with_overrides(values={"nope": 1})
    assert info.value.key == "parameters.nope"
    assert info.value.message == "no such parameter; allowed: c_well, p_die, rr_b"
    with pytest.raises(ModelFileError) as info:
        spec.with_overrides(values={"rr_b": 30.0})
    assert info.value.key == "transitions.well.dead"
    assert info.value.message == "is 3 in cycle 1 for strategy b at the base values; a probability must be from 0 to 1"
    changed = spec.with_overrides(values={"p_die": 0.2}, cycles=5)
    assert changed.base_values()["p_die"] == 0.2
    assert changed.cycles == 5
    assert spec.base_values()["p_die"] == 0.1  # the original is untouched


def test_make_distribution_moments_match():
    d = make_distribution("beta", {"mean": 0.3, "sd": 0.1})
    p = Parameter(name="p", value=0.3, distribution=d, source="x")
    draws = engine_distribution(p).sample(np.random.default_rng(1), 200_000)
    assert abs(draws.mean() - 0.3) < 0.002
    assert abs(draws.std() - 0.1) < 0.002


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        (
            'care = "c_well"',
            'care = "c_well / 0"',
            "states.well.costs.care",
            "'c_well / 0' is inf in cycle 1 for strategy a at the base values; it must be a finite number",
        ),
        (
            'care = "c_well"',
            'care = "exp(1, 2)"',
            "states.well.costs.care",
            "'exp(1, 2)' cannot be evaluated for strategy a at the base values",
        ),
        (
            'care = "c_well"',
            'care = "log(0 * c_well)"',
            "states.well.costs.care",
            "'log(0 * c_well)' is -inf in cycle 1 for strategy a at the base values; it must be a finite number",
        ),
        (
            "utility = 1\n",
            'utility = "sqrt(-1)"\n',
            "states.well.utility",
            "'sqrt(-1)' is nan in cycle 1 for strategy a at the base values; it must be a finite number",
        ),
        (
            'values = { rr = "rr_b" }',
            'values = { rr = "rr_b / (cycle - 1)" }',
            "strategies.b.values.rr",
            "'rr_b / (cycle - 1)' is inf in cycle 1 for strategy b at the base values; it must be a finite number",
        ),
        (
            "one_off_costs = { drug = 100 }",
            'one_off_costs = { drug = "1 / (age - 40)" }',
            "strategies.b.one_off_costs.drug",
            "'1 / (age - 40)' is inf at the start for strategy b at the base values",
        ),
    ],
)
def test_expressions_that_fail_at_the_base_values_name_their_key(old, new, key, message):
    assert old in VALID
    err = refusal(VALID.replace(old, new, 1))
    assert err.key == key
    assert err.message.startswith(message)


@pytest.mark.parametrize(
    ("old", "new", "key", "message", "line_of"),
    [
        ("dead = true", 'dead = "yes"', "states.dead.dead", "must be true or false, not 'yes'", 'dead = "yes"'),
        (
            "dead = true",
            "dead = true\ncolour = 1",
            "states.dead.colour",
            "is not a state field; allowed: costs, dead, initial, label, name, tunnel, utility",
            "colour = 1",
        ),
        ('name = "dead"\n', "", "states[1].name", "is missing; it must be a string", None),
        ("cycles = 3", "cycles = 2.5", "model.cycles", "is 2.5; allowed: a whole number from 1 to 1000", "cycles"),
        (
            "discount_costs = 0",
            'discount_costs = "x"',
            "conventions.discount_costs",
            "must be a finite number, not 'x'",
            "discount_costs",
        ),
        (
            "discount_costs = 0",
            "discount_costs = 0\nthresholds = [20000, -1]",
            "conventions.thresholds",
            "entry 2 is -1; allowed: an amount per QALY, 0 or more",
            "thresholds",
        ),
        ("value = 0.1", 'value = "0.1"', "parameters.p_die.value", "must be a finite number, not '0.1'", "value = "),
        ("value = 0.1", "value = inf", "parameters.p_die.value", "must be a finite number, not inf", "value = inf"),
        ("value = 0.1", "value = true", "parameters.p_die.value", "must be a finite number, not true", "value = true"),
        (
            'costs = { care = "c_well" }',
            "costs = 3",
            "states.well.costs",
            "must be a table of cost name = expression, not 3",
            "costs = 3",
        ),
        (
            'costs = { care = "c_well" }',
            "costs = { care = true }",
            "states.well.costs.care",
            "must be a number or an expression in quotes, not true/false",
            "costs = {",
        ),
        (
            "[transitions.dead]\ndead = 1",
            "[transitions]\ndead = 1",
            "transitions.dead",
            "must be a table of destination state = probability, not 1",
            None,
        ),
        ("[model]", "[modelx]", "model", "is missing; it must be a [model] table with name and cycles", None),
        ('name = "a"', 'name = "a"\nlabel = 3', "strategies.a.label", "must be a string, not 3", "label = 3"),
    ],
)
def test_structure_refusals_name_key_line_and_what_is_allowed(old, new, key, message, line_of):
    """The file's structure (sections, keys, types, required fields) is checked by a schema (pydantic) whose errors
    read like every other refusal: the dotted key, the line, what is wrong and what is allowed."""
    text = VALID.replace(old, new, 1)
    err = refusal(text)
    assert (err.key, err.message) == (key, message)
    if line_of is not None:
        assert err.line == line_no(text, line_of)


def test_an_unknown_key_inside_a_dict_section_is_refused_with_its_owner():
    text = VALID + "\n[dirichlet.g]\nparameters = ['a1', 'a2']\nalphas = [1, 2]\nsource = 's'\nweights = 1\n"
    err = refusal(text)
    assert err.key == "dirichlet.g.weights"
    assert err.message == (
        "is not a field of a Dirichlet group; allowed: alphas, assumption, description, parameters, source"
    )
    matrix = (
        VALID + "\n[[correlations]]\nparameters = ['p_die', 'c_well']\nmatrix = [[1, 0.1], [0.1, 'y']]\nsource = 's'\n"
    )
    err = refusal(matrix)
    assert (err.key, err.message) == ("correlations[0].matrix", "row 2, entry 2 must be a finite number, not 'y'")


def test_pydantic_is_imported_only_when_a_file_is_read():
    """Models built in Python, and the command before it has a file, do not pay for the schema library."""
    import subprocess
    import sys

    probe = (
        "import sys; from carefund.economics import cli, report; from carefund.economics.examples import hiv_model; "
        "from carefund.economics.engine import run_model; run_model(hiv_model()); before = 'pydantic' in sys.modules; "
        "from carefund.economics.modelfile import load_model; load_model('sdr'); "
        "print(before, 'pydantic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
