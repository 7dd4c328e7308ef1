"""Model-file constructs beyond the first format: Dirichlet groups, correlated parameters, per-transition costs and
utilities, and EVPPI for chosen parameters (command JSON, API and report). Each is run through the engine and checked
by hand or against its defining property, and each refusal names the file, key and line and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from carefund.economics.modelfile import ModelFileError, parse_model, to_engine_model
from carefund.economics.psa import draw_parameters
from carefund.economics.report import run_model, write_report
from carefund.economics.tests.test_command import run
from carefund.economics.tests.test_modelfile import VALID, line_no

# ------------------------------------------------------------------------------------------------ Dirichlet groups
THREE_STATES = """\
[model]
name = "three"
cycles = 2

[conventions]
counting = "start"
discount_costs = 0
discount_effects = 0

[[states]]
name = "well"
initial = 1
utility = 1

[[states]]
name = "sick"
initial = 0
utility = 0.5

[[states]]
name = "dead"
initial = 0
dead = true

[[strategies]]
name = "only"

[transitions.well]
well = "p_stay"
sick = "p_sick"
dead = "p_die"

[transitions.sick]
sick = "C"
dead = 0.2

[transitions.dead]
dead = 1

[dirichlet.from_well]
parameters = ["p_stay", "p_sick", "p_die"]
alphas = [80, 15, 5]
source = "a cohort of 100: 80 stayed well, 15 fell sick, 5 died"
"""


def refusal(text: str) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        parse_model(text, file="m.toml")
    return info.value


def test_dirichlet_group_defines_parameters_at_alpha_over_sum():
    spec = parse_model(THREE_STATES, file="m.toml")
    assert spec.base_values() == {"p_stay": 0.8, "p_sick": 0.15, "p_die": 0.05}
    (only,) = run_model(spec).strategies
    # start counting, 2 cycles: points m[0] = (1, 0, 0) and m[1] = (0.8, 0.15, 0.05)
    assert only.qalys == pytest.approx(1 + 0.8 + 0.15 * 0.5, rel=1e-12)
    assert only.life_years == pytest.approx(1 + 0.95, rel=1e-12)


def test_dirichlet_draws_keep_the_row_a_probability_vector_with_the_right_means():
    spec = parse_model(THREE_STATES, file="m.toml")
    draws = draw_parameters(to_engine_model(spec), 20000, 5)
    total = draws["p_stay"] + draws["p_sick"] + draws["p_die"]
    assert np.allclose(total, 1.0, atol=1e-12)
    assert draws["p_stay"].mean() == pytest.approx(0.8, abs=0.005)
    assert draws["p_die"].mean() == pytest.approx(0.05, abs=0.002)
    # Dirichlet variance: a_i (A - a_i) / (A^2 (A + 1)), A = 100
    assert draws["p_sick"].var() == pytest.approx(15 * 85 / (100**2 * 101), rel=0.05)
    result = run_model(spec, psa=300, seed=2)
    assert result.psa is not None and result.psa.iterations == 300


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("alphas = [80, 15, 5]", "alphas = [80, 15]", "dirichlet.from_well.alphas", "must be a list of 3 numbers"),
        (
            "alphas = [80, 15, 5]",
            "alphas = [80, 0, 5]",
            "dirichlet.from_well.alphas",
            "entry 2 is 0; a Dirichlet needs every alpha > 0",
        ),
        (
            'parameters = ["p_stay", "p_sick", "p_die"]',
            'parameters = ["p_stay"]',
            "dirichlet.from_well.parameters",
            "must be a list of at least 2 parameter names",
        ),
        (
            'source = "a cohort of 100: 80 stayed well, 15 fell sick, 5 died"',
            "",
            "dirichlet.from_well.source",
            "is missing; every number needs a source",
        ),
        (
            'source = "a cohort of 100: 80 stayed well, 15 fell sick, 5 died"',
            'source = "x"\nweights = [1, 2, 3]',
            "dirichlet.from_well.weights",
            "is not a field of a Dirichlet group; allowed: alphas, assumption, description, parameters, source",
        ),
    ],
)
def test_dirichlet_refusals_name_key_and_what_is_allowed(old, new, key, message):
    text = THREE_STATES.replace(old, new)
    err = refusal(text)
    assert err.key == key
    assert err.message.startswith(message), err.message
    assert str(err).startswith(f"m.toml, line {err.line}, {key}: ")
    assert err.line is not None


def test_dirichlet_member_may_not_also_be_a_parameter():
    text = THREE_STATES + '\n[parameters.p_die]\nvalue = 0.05\nsource = "a table"\n'
    err = refusal(text)
    assert err.key == "dirichlet.from_well.parameters"
    assert err.message.startswith("defines 'p_die', which is already a parameter, built-in or function")
    assert err.line == line_no(text, "parameters = [")


# ------------------------------------------------------------------------------------------------ correlations
CORRELATED = VALID.replace(
    "[parameters.p_die]",
    '[[correlations]]\nparameters = ["p_die", "c_well"]\nrho = 0.9\n'
    'source = "assumption: sicker patients cost more"\n\n'
    "[parameters.p_die]",
)


def spearman(text: str) -> float:
    draws = draw_parameters(to_engine_model(parse_model(text, file="m.toml")), 5000, 11)
    return float(stats.spearmanr(draws["p_die"], draws["c_well"]).statistic)


def test_correlated_parameters_are_drawn_with_the_rank_correlation_of_the_copula():
    # Gaussian copula with Pearson r: Spearman rho = 6/pi * asin(r/2) (0.891 for r = 0.9)
    assert spearman(CORRELATED) == pytest.approx(6 / np.pi * np.arcsin(0.45), abs=0.02)
    assert abs(spearman(VALID)) < 0.05  # independent without the group
    matrix = CORRELATED.replace("rho = 0.9", "matrix = [[1, -0.5], [-0.5, 1]]")
    assert spearman(matrix) == pytest.approx(6 / np.pi * np.arcsin(-0.25), abs=0.03)
    # marginals are kept: p_die still beta(10, 90)
    draws = draw_parameters(to_engine_model(parse_model(CORRELATED, file="m.toml")), 20000, 3)
    assert draws["p_die"].mean() == pytest.approx(0.1, abs=0.002)
    assert run_model(parse_model(CORRELATED, file="m.toml")).strategies[0].cost == pytest.approx(2710.0)


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ('["p_die", "c_well"]', '["p_die", "nope"]', "correlations[0].parameters", "names 'nope', which is not in"),
        ("rho = 0.9", "rho = 1.5", "correlations[0].rho", "is 1.5; allowed: -1 to 1"),
        ("rho = 0.9", "rho = 1", "correlations[0].matrix", "is not positive definite"),
        (
            "rho = 0.9",
            "matrix = [[1, 0.5], [0.2, 1]]",
            "correlations[0].matrix",
            "is not a correlation matrix; allowed: symmetric, ones on the diagonal, entries from -1 to 1",
        ),
        ("rho = 0.9", "matrix = [[1, 0.5]]", "correlations[0].matrix", "must be a 2 x 2 list of lists of numbers"),
        ("rho = 0.9", "", "correlations[0]", "needs exactly one of matrix"),
        (
            '["p_die", "c_well"]',
            '["p_die", "c_well", "rr_b"]',
            "correlations[0].rho",
            "is for two parameters, not 3",
        ),
        ('source = "assumption: sicker patients cost more"', "", "correlations[0].source", "is missing"),
    ],
)
def test_correlation_refusals_name_key_and_what_is_allowed(old, new, key, message):
    text = CORRELATED.replace(old, new, 1)
    err = refusal(text)
    assert err.key == key
    assert err.message.startswith(message), err.message
    assert err.line is not None and err.line >= line_no(text, "[[correlations]]")


def test_a_fixed_parameter_cannot_be_correlated():
    text = CORRELATED.replace('distribution = { type = "gamma", mean = 1000, sd = 100 }\n', "")
    err = refusal(text)
    assert (err.key, err.message) == (
        "correlations[0].parameters",
        "names 'c_well', which is fixed; allowed: uncertain parameters only",
    )


# ------------------------------------------------------------------------------------------------ transition values
WITH_MOVES = (
    VALID
    + """
[[transition_costs]]
from = "well"
to = "dead"
name = "end_of_life_care"
amount = "c_death"

[[transition_utilities]]
from = "well"
to = "dead"
qalys = -0.1

[parameters.c_death]
value = 500
distribution = { type = "gamma", mean = 500, sd = 50 }
source = "a tariff"
"""
)


def test_transition_costs_and_utilities_are_charged_per_member_moving():
    a, b = run_model(parse_model(WITH_MOVES, file="m.toml")).strategies
    deaths_a = 0.1 + 0.09 + 0.081  # 10% of the living die in each of 3 cycles
    deaths_b = 0.05 + 0.0475 + 0.045125
    assert a.cost == pytest.approx(2710 + 500 * deaths_a, rel=1e-12)
    assert b.cost == pytest.approx(2852.5 + 100 + 500 * deaths_b, rel=1e-12)
    assert a.qalys == pytest.approx(2.71 - 0.1 * deaths_a, rel=1e-12)
    assert a.life_years == pytest.approx(2.71, rel=1e-12)
    names = dict(a.costs_by_name)
    assert names["end_of_life_care"] == pytest.approx(500 * deaths_a, rel=1e-12)


def test_transition_costs_are_discounted_by_the_cycle_of_the_move():
    text = WITH_MOVES.replace("discount_costs = 0", "discount_costs = 0.1")
    a, _ = run_model(parse_model(text, file="m.toml")).strategies
    care = 1000 * (1 + 0.9 / 1.1 + 0.81 / 1.1**2)
    assert a.cost == pytest.approx(care + 500 * (0.1 + 0.09 / 1.1 + 0.081 / 1.1**2), rel=1e-12)


def test_a_transition_cost_may_differ_by_strategy_through_strategy_values():
    text = WITH_MOVES.replace('amount = "c_death"', 'amount = "c_death * rr"')
    a, b = run_model(parse_model(text, file="m.toml")).strategies
    assert dict(a.costs_by_name)["end_of_life_care"] == pytest.approx(500 * (0.1 + 0.09 + 0.081), rel=1e-12)
    assert dict(b.costs_by_name)["end_of_life_care"] == pytest.approx(250 * (0.05 + 0.0475 + 0.045125), rel=1e-12)


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ('to = "dead"\nname', 'to = "gone"\nname', "transition_costs[0].to", "is 'gone', not a state; states: well"),
        (
            'from = "well"\nto = "dead"\nname',
            'from = "dead"\nto = "well"\nname',
            "transition_costs[0].to",
            "is 'well', but the model has no move dead -> well; moves from dead: dead",
        ),
        ('amount = "c_death"', "", "transition_costs[0].amount", "is missing; it must be a number or an expression"),
        (
            'amount = "c_death"',
            'amount = "c_dying"',
            "transition_costs[0].amount",
            "uses unknown name 'c_dying'; allowed: parameters, derived values, strategy values, tables, cycle, age, "
            "time, qx",
        ),
        ("qalys = -0.1", "qalys = -0.1\nweight = 1", "transition_utilities[0].weight", "is not a field of"),
        ('name = "end_of_life_care"', 'name = "end of life"', "transition_costs[0].name", "is 'end of life'"),
    ],
)
def test_transition_value_refusals_name_key_line_and_what_is_allowed(old, new, key, message):
    text = WITH_MOVES.replace(old, new, 1)
    err = refusal(text)
    assert err.key == key
    assert err.message.startswith(message), err.message
    section = "[[transition_costs]]" if key.startswith("transition_costs") else "[[transition_utilities]]"
    assert err.line is not None and line_no(text, section) <= err.line <= line_no(text, section) + 5


def test_initial_shares_may_not_differ_by_strategy():
    text = VALID.replace('name = "well"\ninitial = 1', 'name = "well"\ninitial = "rr"').replace(
        'name = "dead"\ninitial = 0', 'name = "dead"\ninitial = "1 - rr"'
    )
    err = refusal(text)
    assert err.key == "states.well.initial"
    assert err.message == (
        "uses the strategy value 'rr'; the starting cohort is the same for every strategy, so allowed: numbers and "
        "parameters"
    )


def test_initial_shares_drawn_in_the_psa():
    # the starting mix is an expression of a parameter with a distribution: the engine draws it per draw
    text = VALID.replace('name = "well"\ninitial = 1', 'name = "well"\ninitial = "p_well"').replace(
        'name = "dead"\ninitial = 0', 'name = "dead"\ninitial = "1 - p_well"'
    )
    text += '\n[parameters.p_well]\nvalue = 0.5\ndistribution = { type = "uniform", low = 0, high = 1 }\nsource = "x"\n'
    spec = parse_model(text, file="m.toml")
    a, _ = run_model(spec).strategies
    assert a.life_years == pytest.approx(0.5 * 2.71, rel=1e-12)
    psa = run_model(spec, psa=400, seed=1, evppi=("p_well",)).psa
    assert psa is not None
    # strategy a, start counting: life years = p_well x (1 + (1 - p_die) + (1 - p_die)^2) in every draw
    p_well, survive = psa.parameters["p_well"], 1 - psa.parameters["p_die"]
    assert np.std(p_well) > 0.2
    assert np.allclose(psa.life_years[:, 0], p_well * (1 + survive + survive**2), rtol=1e-12, atol=0)


# ------------------------------------------------------------------------------------------------ EVPPI
NEAR_ICER = VALID.replace("discount_effects = 0\n", "discount_effects = 0\nthresholds = [1500, 2000]\n")


def test_evppi_per_group_in_the_json_between_zero_and_evpi():
    spec = parse_model(NEAR_ICER, file="m.toml")
    result = run_model(spec, psa=3000, seed=4, evppi=("p_die", "rr_b,c_well", "p_die,rr_b,c_well"))
    data = result.to_json()["psa"]
    assert list(data["evppi_per_person"]) == ["p_die", "rr_b,c_well", "p_die,rr_b,c_well"]
    assert data["evppi_per_person"]["rr_b,c_well"]["parameters"] == ["rr_b", "c_well"]
    for t in ("1500", "2000"):
        evpi = data["evpi_per_person"][t]
        assert evpi > 1
        for group in data["evppi_per_person"].values():
            assert 0 <= group[t] <= evpi * 1.02 + 0.01
        # all parameters together: EVPPI is EVPI (up to the regression's error)
        assert data["evppi_per_person"]["p_die,rr_b,c_well"][t] == pytest.approx(evpi, rel=0.1)


def test_evppi_of_a_dirichlet_group_by_its_name_uses_all_members():
    spec = parse_model(THREE_STATES, file="m.toml")
    result = run_model(spec, psa=200, seed=1, evppi=("from_well",))
    assert result.evppi_groups == {"from_well": ("p_stay", "p_sick", "p_die")}
    assert result.evppi["from_well"] == {"20000": 0.0, "30000": 0.0}  # one strategy: nothing to decide


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"psa": 0, "evppi": ("p_die",)}, "needs a PSA; allowed: with --psa N draws (N > 0)"),
        ({"psa": 100, "evppi": ("nope",)}, "names 'nope', which is not a parameter or Dirichlet group; allowed: "),
        ({"psa": 100, "evppi": (" , ",)}, "is empty; allowed: parameter names separated by commas"),
        ({"psa": 30, "evppi": ("p_die",)}, "draws is 30; allowed for EVPPI with 1 parameter(s): more than 50"),
    ],
)
def test_evppi_refusals(kwargs, message):
    with pytest.raises(ModelFileError) as info:
        run_model(parse_model(NEAR_ICER, file="m.toml"), seed=1, **kwargs)
    assert info.value.key == "evppi"
    assert info.value.message.startswith(message), info.value.message


def test_command_evppi_json_and_report(capsys, tmp_path: Path):
    path = tmp_path / "near.toml"
    path.write_text(NEAR_ICER)
    args = [str(path), "--psa", "600", "--seed", "3", "--evppi", "p_die", "--evppi", "rr_b,c_well"]
    code, out, err = run(capsys, *args, "--json", "--report", str(tmp_path / "r"))
    assert code == 0, err
    data = json.loads(out)
    assert set(data["psa"]["evppi_per_person"]) == {"p_die", "rr_b,c_well"}
    assert set(data["psa"]["evppi_per_person"]["p_die"]) == {"parameters", "1500", "2000"}
    html = (tmp_path / "r" / "index.html").read_text()
    assert "EVPPI" in html and "<td>rr_b, c_well</td>" in html
    code, out, err = run(capsys, str(path), "--evppi", "p_die")
    assert code == 2
    assert "evppi: needs a PSA; allowed: with --psa N draws (N > 0)" in err
    assert "Traceback" not in err
    code, out, err = run(capsys, str(path), "--psa", "100", "--evppi", "c_wel")
    assert code == 2
    assert "evppi: names 'c_wel', which is not a parameter or Dirichlet group; allowed: c_well, p_die, rr_b" in err


def test_report_lists_dirichlet_groups_and_correlations(tmp_path: Path):
    result = run_model(parse_model(THREE_STATES, file="m.toml"), psa=100, seed=1)
    write_report(result, tmp_path)
    html = (tmp_path / "index.html").read_text()
    assert "<td>p_sick</td><td>0.15</td><td>dirichlet(80, 15, 5) (group from_well)</td>" in html
    result = run_model(parse_model(CORRELATED, file="m.toml"))
    write_report(result, tmp_path / "c")
    html = (tmp_path / "c" / "index.html").read_text()
    assert "<h2>Correlated parameters (Gaussian copula)</h2><ul><li>p_die, c_well: correlation matrix" in html


@pytest.mark.django_db  # the API counts runs per address in the shared rate-limit cache, a database table
def test_api_evppi(client):
    response = client.post(
        "/api/economics/models/sdr/run",
        data=json.dumps({"psa": 300, "seed": 2, "evppi": ["rr_decline_sdr,p_improve_sdr"]}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    group = response.json()["psa"]["evppi_per_person"]["rr_decline_sdr,p_improve_sdr"]
    assert group["parameters"] == ["rr_decline_sdr", "p_improve_sdr"]
    assert set(group) == {"parameters", "20000", "25000", "30000", "35000"}
    response = client.post(
        "/api/economics/models/sdr/run",
        data=json.dumps({"psa": 300, "evppi": ["nope"]}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("evppi: names 'nope', which is not a parameter or Dirichlet group")
