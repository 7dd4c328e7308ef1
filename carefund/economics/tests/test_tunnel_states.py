"""Tunnel states in model files (`tunnel = N` on a state, `state_cycle` in its values; modelfile.expand_tunnels): a
model written with a tunnel state runs exactly as the same model written out by hand with one state per cycle in it,
and what is not allowed is refused with the file's key."""

from __future__ import annotations

import pytest

from carefund.economics.modelfile import ModelFileError, parse_model
from carefund.economics.report import run_model

HEADER = """\
[model]
name = "rehab"
cycles = 8

[conventions]
counting = "start"
discount_costs = 0.035
discount_effects = 0.035

[[strategies]]
name = "only"

[[states]]
name = "well"
initial = 0.9
utility = 1
"""
DEAD = """
[[states]]
name = "dead"
dead = true

[transitions.dead]
dead = 1
"""

WITH_TUNNEL = (
    HEADER
    + DEAD
    + """
[[states]]
name = "rehab"
initial = 0.1
utility = "0.5 + 0.1 * state_cycle"
tunnel = 3
costs = { therapy = "1000 / state_cycle" }

[transitions.well]
well = "C"
rehab = 0.2
dead = 0.05

[transitions.rehab]
rehab = "C"
well = "0.1 * state_cycle"
dead = 0.02

[[transition_costs]]
from = "rehab"
to = "well"
name = "discharge"
amount = "50 * state_cycle"

[[transition_utilities]]
from = "well"
to = "rehab"
qalys = -0.05
"""
)

BY_HAND = (
    HEADER
    + DEAD
    + """
[[states]]
name = "r1"
initial = 0.1
utility = 0.6
costs = { therapy = 1000 }

[[states]]
name = "r2"
utility = 0.7
costs = { therapy = 500 }

[[states]]
name = "r3"
utility = 0.8
costs = { therapy = "1000 / 3" }

[transitions.well]
well = "C"
r1 = 0.2
dead = 0.05

[transitions.r1]
r2 = "C"
well = 0.1
dead = 0.02

[transitions.r2]
r3 = "C"
well = 0.2
dead = 0.02

[transitions.r3]
r3 = "C"
well = 0.3
dead = 0.02

[[transition_costs]]
from = "r1"
to = "well"
name = "discharge"
amount = 50

[[transition_costs]]
from = "r2"
to = "well"
name = "discharge"
amount = 100

[[transition_costs]]
from = "r3"
to = "well"
name = "discharge"
amount = 150

[[transition_utilities]]
from = "well"
to = "r1"
qalys = -0.05
"""
)


def test_a_tunnel_state_becomes_one_state_per_cycle_in_it():
    spec = parse_model(WITH_TUNNEL, file="rehab.toml")
    assert spec.state_names == ("well", "dead", "rehab_1", "rehab_2", "rehab_3")
    labels = [s.label for s in spec.states]
    assert labels[2:] == ["rehab, cycle 1 in the state", "rehab, cycle 2 in the state", "rehab, cycle 3+ in the state"]
    rows = dict(spec.transitions)
    assert [to for to, _ in rows["well"]] == ["well", "rehab_1", "dead"]
    assert [to for to, _ in rows["rehab_1"]] == ["rehab_2", "well", "dead"]
    assert [to for to, _ in rows["rehab_3"]] == ["rehab_3", "well", "dead"]


def test_a_model_with_a_tunnel_state_runs_exactly_as_the_same_model_written_by_hand():
    tunnel = run_model(parse_model(WITH_TUNNEL, file="rehab.toml")).strategies[0]
    by_hand = run_model(parse_model(BY_HAND, file="by_hand.toml")).strategies[0]
    assert tunnel.cost == pytest.approx(by_hand.cost, rel=1e-12)
    assert tunnel.qalys == pytest.approx(by_hand.qalys, rel=1e-12)
    assert tunnel.life_years == pytest.approx(by_hand.life_years, rel=1e-12)
    assert tunnel.cost > 0 and tunnel.qalys > 0


def test_time_in_the_state_changes_the_result():
    """The same model with the tunnel's values flat (state_cycle taken as 1 throughout) gives other figures: the
    expansion is not a no-op."""
    flat = WITH_TUNNEL.replace('"0.5 + 0.1 * state_cycle"', "0.6").replace('"1000 / state_cycle"', "1000")
    flat = flat.replace('"0.1 * state_cycle"', "0.1").replace('"50 * state_cycle"', "50")
    varying = run_model(parse_model(WITH_TUNNEL, file="rehab.toml")).strategies[0]
    constant = run_model(parse_model(flat, file="flat.toml")).strategies[0]
    assert varying.cost != pytest.approx(constant.cost, rel=1e-6)


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (("tunnel = 3", "tunnel = 1"), "states.rehab.tunnel", "allowed: a whole number of cycles from 2 to 100"),
        (("tunnel = 3", 'tunnel = "3"'), "states.rehab.tunnel", "is '3'"),
        (("tunnel = 3", "tunnel = 101"), "states.rehab.tunnel", "from 2 to 100"),
        (("dead = true", "dead = true\ntunnel = 2"), "states.dead.tunnel", "on living states only"),
        (('name = "well"', 'name = "rehab_2"'), "states.rehab.tunnel", "another state is called rehab_2; rename one"),
        (
            (
                'name = "well"\ninitial = 0.9\nutility = 1',
                'name = "well"\ninitial = 0.9\nutility = "1 - 0 * state_cycle"',
            ),
            "states.well.utility",
            "uses state_cycle, which only a tunnel state's values may",
        ),
    ],
)
def test_what_a_tunnel_may_not_be_is_refused_with_its_key(change: tuple[str, str], key: str, message: str):
    text = WITH_TUNNEL.replace(*change)
    assert text != WITH_TUNNEL
    with pytest.raises(ModelFileError) as info:
        parse_model(text, file="rehab.toml")
    assert info.value.key == key
    assert message in info.value.message


THROUGH_A_STRATEGY_VALUE = WITH_TUNNEL.replace(
    '[[strategies]]\nname = "only"\n',
    '[[strategies]]\nname = "only"\nvalues = { therapy_cost = "1000 / state_cycle" }\n',
).replace('costs = { therapy = "1000 / state_cycle" }', 'costs = { therapy = "therapy_cost" }')


def test_state_cycle_may_be_used_through_a_strategy_value():
    assert THROUGH_A_STRATEGY_VALUE != WITH_TUNNEL
    direct = run_model(parse_model(WITH_TUNNEL, file="rehab.toml")).strategies[0]
    through = run_model(parse_model(THROUGH_A_STRATEGY_VALUE, file="rehab.toml")).strategies[0]
    assert through.cost == pytest.approx(direct.cost, rel=1e-12)
    assert through.qalys == pytest.approx(direct.qalys, rel=1e-12)


def test_a_strategy_value_using_state_cycle_is_refused_outside_tunnel_states():
    text = THROUGH_A_STRATEGY_VALUE.replace(
        'name = "well"\ninitial = 0.9\nutility = 1\n',
        'name = "well"\ninitial = 0.9\nutility = 1\ncosts = { x = "therapy_cost" }\n',
    )
    with pytest.raises(ModelFileError) as info:
        parse_model(text, file="rehab.toml")
    assert (info.value.key, info.value.message) == (
        "states.well.costs.x",
        "uses 'therapy_cost', a strategy value that uses state_cycle; allowed: only in a tunnel state's values (its "
        "row, costs and utility, and the moves out of it)",
    )
    without_tunnels = THROUGH_A_STRATEGY_VALUE.replace("tunnel = 3\n", "")
    with pytest.raises(ModelFileError) as info:
        parse_model(without_tunnels, file="rehab.toml")
    assert info.value.key == "strategies.only.values.therapy_cost"
    assert info.value.message.startswith("uses state_cycle, which only")
