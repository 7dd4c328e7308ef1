"""The engine's structural checks of a `model.Model` (names, references, conventions, groups), run once by
`engine.compile_model` before anything is evaluated; every refusal is a `ModelError` naming the item and what is
allowed. Expressions and values are checked as they are compiled and evaluated (`engine.py`)."""

from __future__ import annotations

import itertools
import math
import re

from carefund.economics.expressions import RESERVED
from carefund.economics.model import Model, ModelError, TransitionCost, TransitionUtility

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_model(model: Model) -> None:
    """Structural checks with messages naming the item and what is allowed."""
    if not model.states:
        raise ModelError("states is empty; allowed: at least one state")
    if not model.strategies:
        raise ModelError("strategies is empty; allowed: at least one strategy")
    if not isinstance(model.cycles, int) or isinstance(model.cycles, bool) or not 1 <= model.cycles <= 10000:
        raise ModelError(f"cycles is {model.cycles!r}; allowed: a whole number from 1 to 10000")
    c = model.conventions
    rules = ("start", "end", "half_cycle", "trapezoid", "simpson", "simpson_darth")
    for label, rule in (
        ("counting", c.counting),
        ("counting_costs", c.counting_costs),
        ("counting_effects", c.counting_effects),
        ("counting_life_years", c.counting_life_years),
    ):
        if rule not in rules and not (rule is None and label != "counting"):
            raise ModelError(f"conventions.{label} is {rule!r}; allowed: {', '.join(rules)}")
    if isinstance(model.first_cycle, bool) or model.first_cycle not in (0, 1):
        raise ModelError(f"first_cycle is {model.first_cycle!r}; allowed: 0 or 1")
    if c.discounting not in ("discrete", "continuous"):
        raise ModelError(f"conventions.discounting is {c.discounting!r}; allowed: discrete, continuous")
    for label, rate in (("discount_costs", c.discount_costs), ("discount_effects", c.discount_effects)):
        if not (isinstance(rate, int | float) and math.isfinite(rate) and 0 <= rate < 1):
            raise ModelError(f"conventions.{label} is {rate!r}; allowed: a rate from 0 to below 1 (0.035 is 3.5%)")
    if not (isinstance(c.cycle_length_years, int | float) and 0 < c.cycle_length_years <= 100):
        raise ModelError(f"conventions.cycle_length_years is {c.cycle_length_years!r}; allowed: a number of years > 0")
    seen: set[str] = set()
    for kind, names in (
        ("state", model.state_names),
        ("strategy", model.strategy_names),
        ("parameter", model.parameter_names + tuple(d.name for d in model.derived)),
    ):
        local: set[str] = set()
        for n in names:
            if not isinstance(n, str) or not _NAME.match(n):
                raise ModelError(f"{kind} name {n!r} is not allowed; allowed: letters, digits and underscores")
            if n in local:
                raise ModelError(f"{kind} {n!r} is declared twice; allowed: unique names")
            local.add(n)
        if kind == "parameter":
            clash = sorted(local & (RESERVED | seen))
            if clash:
                raise ModelError(f"parameter name(s) {', '.join(clash)} are reserved; allowed: other names")
        seen |= local
    for p in model.parameters:
        if isinstance(p.base, bool) or not isinstance(p.base, int | float) or not math.isfinite(p.base):
            raise ModelError(f"parameter {p.name!r} has base value {p.base!r}; allowed: a finite number")
        for label, bound in (("low", p.low), ("high", p.high)):
            if bound is not None and not (isinstance(bound, int | float) and math.isfinite(bound)):
                raise ModelError(f"parameter {p.name!r} has {label} {bound!r}; allowed: a finite number or None")
    if sum(1 for s in model.states if s.dead) > 1:
        raise ModelError("more than one state is dead; allowed: at most one dead state")
    states = set(model.state_names)
    strategies = set(model.strategy_names)

    def check_state(n: str, where: str) -> None:
        if n not in states:
            raise ModelError(f"{where} names unknown state {n!r}; allowed: {', '.join(model.state_names)}")

    def check_strategy(n: str | None, where: str) -> None:
        if n is not None and n not in strategies:
            raise ModelError(f"{where} names unknown strategy {n!r}; allowed: {', '.join(model.strategy_names)}")

    for tr in model.transitions:
        check_state(tr.source, "a transition")
        check_state(tr.target, "a transition")
        check_strategy(tr.strategy, f"transition {tr.source} -> {tr.target}")
    for sc in model.state_costs:
        check_state(sc.state, f"cost {sc.name!r}")
        check_strategy(sc.strategy, f"cost {sc.name!r}")
    for su in model.state_utilities:
        check_state(su.state, "a utility")
        check_strategy(su.strategy, f"utility of {su.state!r}")
    for tc in model.transition_costs:
        check_state(tc.source, f"transition cost {tc.name!r}")
        check_state(tc.target, f"transition cost {tc.name!r}")
        check_strategy(tc.strategy, f"transition cost {tc.name!r}")
    for tu in model.transition_utilities:
        check_state(tu.source, "a transition utility")
        check_state(tu.target, "a transition utility")
        check_strategy(tu.strategy, "a transition utility")
    moves: tuple[TransitionCost | TransitionUtility, ...] = (*model.transition_costs, *model.transition_utilities)
    for move in moves:
        if move.timing not in ("cycle", "end"):
            raise ModelError(
                f"transition {move.source} -> {move.target} has timing {move.timing!r}; allowed: cycle, end"
            )
    for oc in model.one_off_costs:
        check_strategy(oc.strategy, f"one-off cost {oc.name!r}")
        if not 0 <= oc.cycle < model.cycles:
            raise ModelError(f"one-off cost {oc.name!r} has cycle {oc.cycle}; allowed: 0 to {model.cycles - 1}")
        if oc.timing not in ("cycle", "time_zero") or (oc.timing == "time_zero" and oc.cycle != 0):
            raise ModelError(
                f"one-off cost {oc.name!r} has timing {oc.timing!r} in cycle {oc.cycle}; allowed: cycle, or "
                "time_zero in cycle 0"
            )
    for sv in model.strategy_values:
        check_strategy(sv.strategy, f"strategy value {sv.name!r}")
        if not isinstance(sv.name, str) or not _NAME.match(sv.name):
            raise ModelError(f"strategy value name {sv.name!r} is not allowed; allowed: letters, digits and _")
    names_taken = set(model.parameter_names) | {d.name for d in model.derived} | RESERVED
    for lk in model.lookups:
        if not isinstance(lk.name, str) or not _NAME.match(lk.name) or lk.name in names_taken:
            raise ModelError(
                f"lookup name {lk.name!r} is not allowed; allowed: letters, digits and _, not a parameter's or a "
                "reserved name, once"
            )
        names_taken.add(lk.name)
        if not lk.ages or len(lk.ages) != len(lk.values):
            raise ModelError(
                f"lookup {lk.name!r} has {len(lk.ages)} ages and {len(lk.values)} values; allowed: the same number"
            )
        if any(b <= a for a, b in itertools.pairwise(lk.ages)):
            raise ModelError(f"lookup {lk.name!r} has ages that do not increase; allowed: ages in increasing order")
        if not all(math.isfinite(v) for v in (*lk.ages, *lk.values)):
            raise ModelError(f"lookup {lk.name!r} holds a value that is not a finite number")
        if lk.interpolation not in ("linear", "step"):
            raise ModelError(f"lookup {lk.name!r} has interpolation {lk.interpolation!r}; allowed: linear, step")
    if model.initial:
        for name, share in model.initial:
            check_state(name, "initial")
            if isinstance(share, str):
                continue  # an expression: checked for every parameter set when evaluated
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
                raise ModelError(
                    f"initial share of {name!r} is {share!r}; allowed: a proportion from 0 to 1 or an expression"
                )
        if all(not isinstance(s, str) for _, s in model.initial):
            total = sum(float(s) for _, s in model.initial)
            if abs(total - 1.0) > 1e-9:
                raise ModelError(f"initial shares sum to {total:g}; allowed: shares summing to 1")
    for g in model.dirichlet:
        if len(g.names) != len(g.alphas) or len(g.names) < 2:
            raise ModelError(
                f"Dirichlet group {g.names!r} has {len(g.names)} names and {len(g.alphas)} alphas; allowed: the same "
                "number, at least two"
            )
        if any(not a > 0 for a in g.alphas):
            raise ModelError(f"Dirichlet group {g.names!r} has alphas {g.alphas!r}; allowed: numbers greater than 0")
    lt = model.life_table
    if lt is not None:
        if not lt.ages or len(lt.ages) != len(lt.qx):
            raise ModelError(f"life_table has {len(lt.ages)} ages and {len(lt.qx)} qx; allowed: the same number, >= 1")
        if any(b <= a for a, b in zip(lt.ages, lt.ages[1:], strict=False)):
            raise ModelError("life_table.ages are not increasing; allowed: ages in increasing order")
        if any(not 0 <= q <= 1 for q in lt.qx):
            raise ModelError("life_table.qx has a value outside [0, 1]; allowed: probabilities from 0 to 1")
        if lt.death_state:
            check_state(lt.death_state, "life_table.death_state")
        if lt.combination not in ("independent", "max"):
            raise ModelError(f"life_table.combination is {lt.combination!r}; allowed: independent, max")
    for threshold in model.thresholds:
        if not threshold >= 0:
            raise ModelError(f"threshold {threshold!r}; allowed: a number >= 0")
