"""Checking a `ModelSpec`: its structure (names, rows, groups), then every value at the base values in every real
cycle, with the engine's evaluator and the engine's namespace (the same `cycle`, `age`, `qx` and tables a run sees),
so that what was checked is what runs. Refusals name the file's key and the first cycle that fails."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from carefund.economics.model import ModelError
from carefund.economics.modelfile.spec import (
    _SUPPORT,
    BUILTIN_NAMES,
    COMPLEMENT,
    FUNCTIONS,
    ROW_TOLERANCE,
    STATE_CYCLE,
    Expression,
    ModelFileError,
    ModelSpec,
    TransitionValue,
)

FloatArray = npt.NDArray[np.float64]


def validate_spec(spec: ModelSpec) -> None:
    """Check a model's structure and, at the base values, every cycle's transition rows. Raises ModelFileError."""
    f = spec.file

    def err(key: str, message: str) -> ModelFileError:
        return ModelFileError(message, file=f, key=key)

    names = [s.name for s in spec.states]
    for st in spec.states:
        if st.tunnel:
            raise err(f"states.{st.name}.tunnel", "is not expanded; pass the spec through expand_tunnels first")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise err(f"states.{dup}", "is defined twice; state names must be unique")
    strat_names = [s.name for s in spec.strategies]
    if len(set(strat_names)) != len(strat_names):
        dup = next(n for n in strat_names if strat_names.count(n) > 1)
        raise err(f"strategies.{dup}", "is defined twice; strategy names must be unique")
    if not spec.strategies:
        raise err("strategies", "at least one strategy is needed")
    params = spec.parameter_map
    for p in spec.parameters:
        key = f"parameters.{p.name}"
        if not p.source.strip():
            raise err(
                f"{key}.source",
                "is missing; every parameter needs a source (a citation, or 'assumption: why' with assumption = true)",
            )
        lo, hi = _SUPPORT.get(p.distribution.kind, (-math.inf, math.inf))
        if p.distribution.kind == "uniform":
            lo, hi = p.distribution.get("low"), p.distribution.get("high")
        if not lo <= p.value <= hi:
            raise err(
                f"{key}.value",
                f"is {p.value:g}, outside its {p.distribution.kind} distribution's range {lo:g} to {hi:g}",
            )
        if p.unit.startswith("probability") and not 0 <= p.value <= 1:
            raise err(f"{key}.value", f"is {p.value:g}; a probability must be from 0 to 1")
    members: dict[str, str] = {}
    for g in spec.dirichlet:
        key = f"dirichlet.{g.name}"
        if g.name in params or g.name in BUILTIN_NAMES:
            raise err(key, "has the name of a parameter or built-in; choose another group name")
        if not g.source.strip():
            raise err(f"{key}.source", "is missing; every number needs a source (a citation or 'assumption: why')")
        if len(g.parameters) != len(g.alphas) or len(g.parameters) < 2:
            raise err(f"{key}.alphas", "must have one alpha per parameter, at least two")
        if any(not (math.isfinite(a) and a > 0) for a in g.alphas):
            raise err(f"{key}.alphas", "has an alpha <= 0; a Dirichlet needs every alpha > 0")
        for n in g.parameters:
            if n in params or n in BUILTIN_NAMES or n in FUNCTIONS:
                raise err(
                    f"{key}.parameters",
                    f"defines {n!r}, which is already a parameter, built-in or function; a Dirichlet group defines "
                    "new names, used in [transitions] like parameters",
                )
            if n in members:
                raise err(f"{key}.parameters", f"defines {n!r}, also defined by dirichlet.{members[n]}; allowed: once")
            members[n] = g.name
    correlated: dict[str, int] = {}
    for i, corr in enumerate(spec.correlations):
        key = f"correlations[{i}]"
        for n in corr.parameters:
            if n not in params:
                where = f" (a member of dirichlet.{members[n]}, already drawn jointly)" if n in members else ""
                raise err(
                    f"{key}.parameters",
                    f"names {n!r}{where}, which is not in [parameters]; allowed: {', '.join(sorted(params))}",
                )
            if params[n].distribution.kind == "fixed":
                raise err(f"{key}.parameters", f"names {n!r}, which is fixed; allowed: uncertain parameters only")
            if n in correlated:
                raise err(
                    f"{key}.parameters",
                    f"names {n!r}, already in correlations[{correlated[n]}]; allowed: one group each",
                )
            correlated[n] = i
        k = len(corr.parameters)
        matrix = np.asarray(corr.matrix, dtype=np.float64)
        if matrix.shape != (k, k) or not np.all(np.isfinite(matrix)):
            raise err(f"{key}.matrix", f"must be a {k} x {k} matrix of numbers (one row and column per parameter)")
        if not np.allclose(np.diag(matrix), 1.0) or not np.allclose(matrix, matrix.T) or np.abs(matrix).max() > 1:
            raise err(
                f"{key}.matrix",
                "is not a correlation matrix; allowed: symmetric, ones on the diagonal, entries from -1 to 1",
            )
        if k > 1 and np.linalg.eigvalsh(matrix).min() <= 1e-12:
            raise err(
                f"{key}.matrix",
                "is not positive definite (the correlations contradict each other, or one is exactly +/-1); "
                "allowed: a matrix whose eigenvalues are all > 0",
            )
    known = set(params) | set(BUILTIN_NAMES) | set(members)
    for d in spec.derived:
        key = f"derived.{d.name}"
        if d.name in known:
            raise err(key, "has the name of a parameter, built-in or earlier derived value; choose another name")
        bad = d.expression.names - known
        if bad:
            raise err(key, f"uses unknown name {sorted(bad)[0]!r}; allowed: parameters and earlier derived values")
        timed = sorted(d.expression.names & set(BUILTIN_NAMES))
        if timed:
            raise err(key, f"uses {timed[0]!r}; a derived value is one number per draw: allowed: parameters")
        known.add(d.name)
    for t in spec.tables:
        if t.name in known:
            raise err(f"tables.{t.name}", "has the name of a parameter, built-in or derived value; choose another")
        known.add(t.name)
    strategy_values: set[str] = set()
    for s in spec.strategies:
        for vname, e in s.values:
            if vname in params or vname in BUILTIN_NAMES:
                raise err(
                    f"strategies.{s.name}.values.{vname}",
                    "has the name of a parameter or built-in; choose another name",
                )
            bad = e.names - known
            if STATE_CYCLE in bad:
                raise err(
                    f"strategies.{s.name}.values.{vname}",
                    f"uses {STATE_CYCLE}, which only the values of a model with tunnel states may use",
                )
            if bad:
                raise err(
                    f"strategies.{s.name}.values.{vname}",
                    f"uses unknown name {sorted(bad)[0]!r}; allowed: parameters, derived values, tables, cycle, age, "
                    "time, qx",
                )
            strategy_values.add(vname)
    for s in spec.strategies:
        missing = strategy_values - {v for v, _ in s.values}
        if missing:
            raise err(
                f"strategies.{s.name}.values.{sorted(missing)[0]}",
                "is set by another strategy but not this one; every strategy must set the same values",
            )
    known_all = known | strategy_values

    def check_names(e: Expression, key: str) -> None:
        bad = e.names - known_all
        if STATE_CYCLE in bad:
            raise err(key, f"uses {STATE_CYCLE}, which only a tunnel state's values may (its row, costs and utility)")
        if bad:
            raise err(
                key,
                f"uses unknown name {sorted(bad)[0]!r}; allowed: parameters, derived values, strategy values, tables, "
                "cycle, age, time, qx",
            )
        if "qx" in e.names and spec.life_table is None:
            raise err(key, "uses qx but the model has no [life_table]")

    for st in spec.states:
        check_names(st.initial, f"states.{st.name}.initial")
        per_strategy = sorted(st.initial.names & strategy_values)
        if per_strategy:
            raise err(
                f"states.{st.name}.initial",
                f"uses the strategy value {per_strategy[0]!r}; the starting cohort is the same for every strategy, "
                "so allowed: numbers and parameters",
            )
        check_names(st.utility, f"states.{st.name}.utility")
        for c, e in st.costs:
            check_names(e, f"states.{st.name}.costs.{c}")
    for s in spec.strategies:
        for c, e in s.one_off_costs:
            check_names(e, f"strategies.{s.name}.one_off_costs.{c}")
    rows = dict(spec.transitions)
    for frm, row in spec.transitions:
        if frm not in names:
            raise err(f"transitions.{frm}", f"is not a state; states: {', '.join(names)}")
        complements = 0
        for to, e in row:
            if to not in names:
                raise err(f"transitions.{frm}.{to}", f"is not a state; states: {', '.join(names)}")
            if e.text == COMPLEMENT:
                complements += 1
            else:
                check_names(e, f"transitions.{frm}.{to}")
        if complements > 1:
            raise err(f"transitions.{frm}", 'uses "C" (the complement) more than once; at most one entry per row may')
    for n in names:
        if n not in rows:
            raise err(f"transitions.{n}", "is missing; every state needs a row (an absorbing state: itself = 1)")
    dead = [st.name for st in spec.states if st.dead]
    for tv in spec.transition_values:
        key = transition_value_key(spec, tv)
        for end, state in (("from", tv.source), ("to", tv.target)):
            if state not in names:
                raise err(f"{key}.{end}", f"is {state!r}, not a state; states: {', '.join(names)}")
        moves = [to for to, _ in rows[tv.source]]
        if spec.life_table is not None and dead and dead[0] not in moves:
            moves.append(dead[0])  # background mortality: every living state can move to the dead state
        if tv.target not in moves:
            raise err(
                f"{key}.to",
                f"is {tv.target!r}, but the model has no move {tv.source} -> {tv.target}; "
                f"moves from {tv.source}: {', '.join(moves)}",
            )
        check_names(tv.value, f"{key}.{'amount' if tv.kind == 'cost' else 'qalys'}")
    _check_numbers(spec)


def transition_value_key(spec: ModelSpec, tv: TransitionValue) -> str:
    """The dotted key of a transition cost or utility: ``transition_costs[i]`` counting that section only."""
    section = "transition_costs" if tv.kind == "cost" else "transition_utilities"
    same = [t for t in spec.transition_values if t.kind == tv.kind]
    return f"{section}[{next(i for i, t in enumerate(same) if t is tv)}]"


def _values(
    e: Expression, ns: Mapping[str, Any], cycles: int, *, file: str, key: str, where: str, start: bool = False
) -> FloatArray:
    """An expression at the base values in every cycle, (cycles,), or at the start only, (1,); a failure or a number
    that is not finite is refused naming the key and the first cycle (counted from 1, as in the file) where it
    happens."""
    try:
        with np.errstate(all="ignore"):
            raw = np.asarray(e.evaluate(ns), dtype=np.float64)
        out = np.broadcast_to(raw, (cycles, 1))[: 1 if start else cycles, 0]
    except (ArithmeticError, TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"{e.text!r} cannot be evaluated {where.replace('in cycle {cycle} ', '')} at the base values ({exc}); "
            "check the arithmetic and the functions' arguments",
            file=file,
            key=key,
        ) from None
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        t = int(bad[0])
        at = where.replace("{cycle}", str(t + 1))
        raise ModelFileError(
            f"{e.text!r} is {out[t]} {at} at the base values; it must be a finite number", file=file, key=key
        )
    return np.asarray(out, dtype=np.float64)


def _check_numbers(spec: ModelSpec) -> None:
    """Evaluate every value at the base values in every cycle for every strategy, through the engine's namespace:
    shares of the cohort from 0 to 1 summing to 1, each transition row a probability vector, every cost and utility
    a finite number. Only the model's real cycles are evaluated (1 to `cycles`); the start (shares, one-off costs)
    is the first cycle's values."""
    from carefund.economics.engine import compile_model
    from carefund.economics.modelfile.convert import to_engine_model

    f = spec.file
    T = spec.cycles
    try:
        # the namespace does not depend on the starting cohort, whose shares are checked below with their keys
        compiled = compile_model(replace(to_engine_model(spec), initial=()))
        ns, _ = compiled.namespace({k: np.array([v]) for k, v in spec.base_values().items()})
    except ModelError as exc:
        raise ModelFileError(str(exc), file=f) from None
    for d in spec.derived:
        _values(d.expression, ns, T, file=f, key=f"derived.{d.name}", where="at the base values")
    for strategy in spec.strategies:
        cyc = "in cycle {cycle} for strategy " + strategy.name
        nsk = dict(ns)
        for name, e in strategy.values:
            nsk[name] = _values(e, nsk, T, file=f, key=f"strategies.{strategy.name}.values.{name}", where=cyc)[:, None]
        start = f"at the start for strategy {strategy.name}"
        init = []
        for st in spec.states:
            key = f"states.{st.name}.initial"
            v = float(_values(st.initial, ns, T, file=f, key=key, where=start, start=True)[0])
            if not -ROW_TOLERANCE <= v <= 1 + ROW_TOLERANCE:
                raise ModelFileError(
                    f"is {v:.6g} at the base values; a share of the cohort must be from 0 to 1", file=f, key=key
                )
            init.append(v)
        if abs(sum(init) - 1) > 1e-6:
            raise ModelFileError(f"the initial shares sum to {sum(init):.6g}; they must sum to 1", file=f, key="states")
        for c, e in strategy.one_off_costs:
            _values(e, nsk, T, file=f, key=f"strategies.{strategy.name}.one_off_costs.{c}", where=start, start=True)
        for tv in spec.transition_values:
            field_name = "amount" if tv.kind == "cost" else "qalys"
            _values(tv.value, nsk, T, file=f, key=f"{transition_value_key(spec, tv)}.{field_name}", where=cyc)
        for st in spec.states:
            _values(st.utility, nsk, T, file=f, key=f"states.{st.name}.utility", where=cyc)
            for c, e in st.costs:
                _values(e, nsk, T, file=f, key=f"states.{st.name}.costs.{c}", where=cyc)
        for frm, row in spec.transitions:
            _check_row(spec, frm, row, nsk, cyc)


def _check_row(
    spec: ModelSpec, frm: str, row: tuple[tuple[str, Expression], ...], ns: Mapping[str, Any], cyc: str
) -> None:
    """One transition row in every cycle: each entry a probability, and the row summing to 1 (or, with "C", the
    other entries to at most 1). The message names the first cycle that fails."""
    f = spec.file
    T = spec.cycles

    def refuse_first(bad: npt.NDArray[np.bool_], key: str, message: str, values: FloatArray) -> None:
        if bad.any():
            t = int(np.argmax(bad))
            where = cyc.replace("{cycle}", str(t + 1))
            raise ModelFileError(message.format(v=values[t], where=where), file=f, key=key)

    total = np.zeros(T)
    has_c = False
    for to, e in row:
        if e.text == COMPLEMENT:
            has_c = True
            continue
        key = f"transitions.{frm}.{to}"
        v = _values(e, ns, T, file=f, key=key, where=cyc)
        out_of_range = (v < -ROW_TOLERANCE) | (v > 1 + ROW_TOLERANCE)
        refuse_first(out_of_range, key, "is {v:.6g} {where} at the base values; a probability must be from 0 to 1", v)
        total += v
    if has_c:
        message = 'the other entries sum to {v:.6g} {where}, so "C" would be negative; they must sum to at most 1'
        refuse_first(total > 1 + ROW_TOLERANCE, f"transitions.{frm}", message, total)
    else:
        message = 'sums to {v:.6g} {where}; a row must sum to 1 (use "C" for the complement)'
        refuse_first(np.abs(total - 1) > 1e-6, f"transitions.{frm}", message, total)
