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


class _StateCycle(ast.NodeTransformer):
    def __init__(self, k: int) -> None:
        self.k = k

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Constant(self.k), node) if node.id == STATE_CYCLE else node


def _at_state_cycle(e: Expression, k: int, *, file: str, key: str) -> Expression:
    if STATE_CYCLE not in e.names:
        return e
    tree = _StateCycle(k).visit(ast.parse(e.text.strip(), mode="eval"))
    return compile_expression(ast.unparse(ast.fix_missing_locations(tree)), file=file, key=key)


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
                    utility=_at_state_cycle(st.utility, k, file=f, key=f"{key}.utility"),
                    costs=tuple((c, _at_state_cycle(e, k, file=f, key=f"{key}.costs.{c}")) for c, e in st.costs),
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
                            _at_state_cycle(e, k, file=f, key=f"transitions.{frm}.{to}"),
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
                    value=_at_state_cycle(tv.value, k, file=f, key=f"transition_values[{i}]"),
                )
            )
    return dataclasses.replace(
        spec, states=tuple(states), transitions=tuple(transitions), transition_values=tuple(values)
    )
