"""Tunnel states: a state whose values depend on the cycles spent in it, written out as N states of its own."""

from __future__ import annotations

import ast
import dataclasses

from carefund.economics.modelfile.spec import (
    STATE_CYCLE,
    Expression,
    ModelFileError,
    ModelSpec,
    State,
    TransitionValue,
    compile_expression,
)


def tunnel_state_name(name: str, k: int) -> str:
    """The name of the k-th cycle (from 1) of a tunnel state (the engine's state names are identifiers)."""
    return f"{name}_{k}"


def state_cycle_value_name(name: str, k: int) -> str:
    """The name of strategy value `name` at `state_cycle` = k (a value that uses state_cycle is written out per k)."""
    return f"{name}_at_state_cycle_{k}"


class _StateCycle(ast.NodeTransformer):
    def __init__(self, k: int, timed: frozenset[str]) -> None:
        self.k = k
        self.timed = timed

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == STATE_CYCLE:
            return ast.copy_location(ast.Constant(self.k), node)
        if node.id in self.timed:
            return ast.copy_location(ast.Name(id=state_cycle_value_name(node.id, self.k), ctx=ast.Load()), node)
        return node


def _at_state_cycle(e: Expression, k: int, *, file: str, key: str, timed: frozenset[str] = frozenset()) -> Expression:
    if STATE_CYCLE not in e.names and not e.names & timed:
        return e
    tree = _StateCycle(k, timed).visit(ast.parse(e.text.strip(), mode="eval"))
    return compile_expression(ast.unparse(ast.fix_missing_locations(tree)), file=file, key=key)


def _state_cycle_values(spec: ModelSpec) -> frozenset[str]:
    """Strategy values that use `state_cycle`, directly or through another such value (in any strategy)."""
    timed: set[str] = set()
    grew = True
    while grew:
        grew = False
        for strategy in spec.strategies:
            for name, e in strategy.values:
                if name not in timed and (STATE_CYCLE in e.names or e.names & timed):
                    timed.add(name)
                    grew = True
    return frozenset(timed)


def _refuse_outside_tunnels(spec: ModelSpec, tunnels: dict[str, int], timed: frozenset[str]) -> None:
    """A strategy value that uses state_cycle has a value only in a tunnel state: refuse it anywhere else."""

    def check(e: Expression, key: str) -> None:
        used = sorted(e.names & timed)
        if used:
            raise ModelFileError(
                f"uses {used[0]!r}, a strategy value that uses {STATE_CYCLE}; allowed: only in a tunnel state's "
                "values (its row, costs and utility, and the moves out of it)",
                file=spec.file,
                key=key,
            )

    for st in spec.states:
        check(st.initial, f"states.{st.name}.initial")
        if st.name not in tunnels:
            check(st.utility, f"states.{st.name}.utility")
            for c, e in st.costs:
                check(e, f"states.{st.name}.costs.{c}")
    for frm, row in spec.transitions:
        if frm not in tunnels:
            for to, e in row:
                check(e, f"transitions.{frm}.{to}")
    for i, tv in enumerate(spec.transition_values):
        if tv.source not in tunnels:
            check(tv.value, f"transition_values[{i}]")
    for strategy in spec.strategies:
        for c, e in strategy.one_off_costs:
            check(e, f"strategies.{strategy.name}.one_off_costs.{c}")


def expand_tunnels(spec: ModelSpec) -> ModelSpec:
    """Make each tunnel state (`tunnel = N`: what happens in it depends on how long the cohort has been there) N
    states of their own, `name_1` to `name_N`, the way tunnel states are built by hand in a Markov model:

    - entering the state (from another state, or at the start) is entering `name_1`;
    - staying (the row's entry for the state itself, or its complement when that is where "C" sits) moves `name_k`
      on to `name_<k+1>`, and `name_N` keeps those who stay longer;
    - its row, utility and costs, and the transition costs and utilities of moves out of it, may use `state_cycle`,
      which is k in `name_k`.

    The result is an ordinary model (validated and run like any other); a spec without tunnels is returned as it is.
    """
    tunnels = {st.name: st.tunnel for st in spec.states if st.tunnel}
    if not tunnels:
        return spec
    f = spec.file
    taken = {st.name for st in spec.states}
    for name, n in tunnels.items():
        clash = sorted(taken & {tunnel_state_name(name, k) for k in range(1, n + 1)})
        if clash:
            raise ModelFileError(
                f"makes the states {name}_1 to {name}_{n}, but another state is called {clash[0]}; rename one",
                file=f,
                key=f"states.{name}.tunnel",
            )

    timed = _state_cycle_values(spec)
    _refuse_outside_tunnels(spec, tunnels, timed)
    longest = max(tunnels.values())
    strategies = tuple(
        dataclasses.replace(
            strategy,
            values=tuple(
                item
                for name, e in strategy.values
                for item in (
                    [
                        (
                            state_cycle_value_name(name, k),
                            _at_state_cycle(e, k, file=f, key=f"strategies.{strategy.name}.values.{name}", timed=timed),
                        )
                        for k in range(1, longest + 1)
                    ]
                    if name in timed
                    else [(name, e)]
                )
            ),
        )
        for strategy in spec.strategies
    )

    def entry(name: str) -> str:
        return tunnel_state_name(name, 1) if name in tunnels else name

    def stay(name: str, k: int) -> str:
        return tunnel_state_name(name, min(k + 1, tunnels[name]))

    states: list[State] = []
    for st in spec.states:
        cycles_in = tunnels.get(st.name, 0)
        if not cycles_in:
            states.append(st)
            continue
        for k in range(1, cycles_in + 1):
            key = f"states.{st.name}"
            states.append(
                State(
                    name=tunnel_state_name(st.name, k),
                    label=f"{st.label}, cycle {k}{'+' if k == cycles_in else ''} in the state",
                    initial=st.initial if k == 1 else compile_expression(0, file=f, key=f"{key}.initial"),
                    utility=_at_state_cycle(st.utility, k, file=f, key=f"{key}.utility", timed=timed),
                    costs=tuple(
                        (c, _at_state_cycle(e, k, file=f, key=f"{key}.costs.{c}", timed=timed)) for c, e in st.costs
                    ),
                )
            )
    transitions: list[tuple[str, tuple[tuple[str, Expression], ...]]] = []
    for frm, row in spec.transitions:
        if frm not in tunnels:
            transitions.append((frm, tuple((entry(to), e) for to, e in row)))
            continue
        for k in range(1, tunnels[frm] + 1):
            transitions.append(
                (
                    tunnel_state_name(frm, k),
                    tuple(
                        (
                            stay(frm, k) if to == frm else entry(to),
                            _at_state_cycle(e, k, file=f, key=f"transitions.{frm}.{to}", timed=timed),
                        )
                        for to, e in row
                    ),
                )
            )
    values: list[TransitionValue] = []
    for i, tv in enumerate(spec.transition_values):
        if tv.source not in tunnels:
            values.append(dataclasses.replace(tv, target=entry(tv.target)))
            continue
        for k in range(1, tunnels[tv.source] + 1):
            values.append(
                dataclasses.replace(
                    tv,
                    source=tunnel_state_name(tv.source, k),
                    target=stay(tv.source, k) if tv.target == tv.source else entry(tv.target),
                    value=_at_state_cycle(tv.value, k, file=f, key=f"transition_values[{i}]", timed=timed),
                )
            )
    return dataclasses.replace(
        spec,
        states=tuple(states),
        strategies=strategies,
        transitions=tuple(transitions),
        transition_values=tuple(values),
    )
