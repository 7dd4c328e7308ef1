"""The Markov cohort engine: evaluates a `carefund.economics.model.Model` for one or many parameter sets at once.

`compile_model(model)` checks the model (names, expressions, conventions) once and returns a `CompiledModel`;
`CompiledModel.evaluate(values)` runs every strategy for a block of D parameter sets together: each value becomes an
array of shape (T, D) (cycles x draws; (1, D) when it does not change with the cycle), the transitions an array
(T, S, S, D) (or (1, S, S, D)), and the cohort advances with one `einsum` per cycle over all D draws. Sub-expressions
are computed once per block (and those of cycle, time and age only once per compiled model). `run_model(model)` is
the deterministic (base-case) run with the trace, the costs by name and the incremental analysis. See `model.py`
for the meaning of every item and convention; the results are per member of the cohort. By concern: the
structural checks of a model are `checks.py` (run once by `compile_model`), the result types `results.py`.

Pure numpy: imports nothing of Django or of the rest of carefund.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from carefund.economics.checks import check_model
from carefund.economics.expressions import RESERVED, Expression, ExpressionError, parse_expression
from carefund.economics.incremental import incremental_analysis
from carefund.economics.model import (
    COMPLEMENT,
    Lookup,
    Model,
    ModelError,
    Value,
)
from carefund.economics.results import BatchResult, ModelResult, StrategyResult

FloatArray = npt.NDArray[np.float64]
_TOL = 1e-9
_CACHE = "\x00cache"  # namespace keys no expression can name: the per-block and the time-only sub-expression caches
_TIME_CACHE = "\x00time_cache"


# ------------------------------------------------------------------------------------------------ values
@dataclass(frozen=True)
class _Compiled:
    """A Value ready to evaluate: a constant, a per-cycle vector, or an expression."""

    constant: float | None = None
    per_cycle: FloatArray | None = None
    expression: Expression | None = None

    def evaluate(self, ns: Mapping[str, Any]) -> Any:
        if self.constant is not None:
            return self.constant
        if self.per_cycle is not None:
            return self.per_cycle[:, None]
        assert self.expression is not None
        return self.expression.evaluate(ns, cache=ns.get(_CACHE), time_cache=ns.get(_TIME_CACHE))


def _compile_value(value: Value, *, what: str, cycles: int, known: frozenset[str]) -> _Compiled:
    if isinstance(value, bool):
        raise ModelError(f"{what} is {value!r}; allowed: a number, an expression or a tuple of numbers per cycle")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ModelError(f"{what} is {value!r}; allowed: a finite number")
        return _Compiled(constant=float(value))
    if isinstance(value, tuple):
        if not value or not all(isinstance(v, int | float) and math.isfinite(v) for v in value):
            raise ModelError(f"{what} is {value!r}; allowed: a non-empty tuple of finite numbers, one per cycle")
        vec = np.array([float(value[min(t, len(value) - 1)]) for t in range(cycles)])
        return _Compiled(per_cycle=vec)
    if isinstance(value, str):
        try:
            expr = parse_expression(value)
        except ExpressionError as exc:
            raise ModelError(f"{what}: {exc}") from None
        unknown = sorted(expr.names - known)
        if unknown:
            raise ModelError(
                f"{what}: expression {value!r} uses unknown name(s) {', '.join(unknown)}; allowed: the model's "
                "parameters, cycle, time, age"
            )
        return _Compiled(expression=expr)
    raise ModelError(f"{what} is {value!r}; allowed: a number, an expression or a tuple of numbers per cycle")


# ------------------------------------------------------------------------------------------------ the engine
@dataclass(frozen=True)
class _Counting:
    """Where each counted point comes from: trace index, value cycle, weight and discount time (in cycles)."""

    trace_index: npt.NDArray[np.intp]
    value_cycle: npt.NDArray[np.intp]
    weight: FloatArray
    time_cycles: FloatArray


def _counting(model: Model, rule: str) -> _Counting:
    c = model.conventions
    T = model.cycles
    t = np.arange(T)
    tf = t.astype(np.float64)
    offset = 1.0 if c.discount_first_cycle else 0.0
    if rule == "start":
        return _Counting(t, t, np.ones(T), tf + offset)
    if rule == "end":
        return _Counting(t + 1, t, np.ones(T), tf + offset)
    if rule == "trapezoid":
        return _Counting(
            np.concatenate([t, t + 1]), np.concatenate([t, t]), np.full(2 * T, 0.5), np.concatenate([tf, tf]) + offset
        )
    k = np.arange(T + 1)
    if rule == "half_cycle":
        w = np.ones(T + 1)
        w[0] = w[-1] = 0.5
    elif rule == "simpson":
        if T % 2:
            raise ModelError(f"cycles is {T}; allowed with counting 'simpson': an even number")
        w = np.where(k % 2 == 1, 4.0, 2.0) / 3.0
        w[0] = w[-1] = 1.0 / 3.0
    elif rule == "simpson_darth":
        w = np.where(k % 2 == 1, 2.0, 4.0) / 3.0
        w[0] = w[-1] = 1.0 / 3.0
    else:
        raise ModelError(
            f"conventions.counting is {rule!r}; allowed: start, end, half_cycle, trapezoid, simpson, simpson_darth"
        )
    return _Counting(k, np.minimum(k, T - 1), w, k.astype(np.float64) + offset)


@dataclass(frozen=True)
class _Rule:
    """One outcome's counting rule, ready to total: the counted points as contiguous runs of the trace (first trace
    row, end row, points), their weights, and their weights x discount factors."""

    counting: _Counting
    runs: list[tuple[int, int, slice]]
    discounted_weight: FloatArray

    @classmethod
    def build(cls, model: Model, rule: str, rate: float) -> _Rule:
        counting = _counting(model, rule)
        c = model.conventions
        disc = _discount(rate, counting.time_cycles * float(c.cycle_length_years), c.discounting)
        idx = counting.trace_index
        cuts = [0, *(np.flatnonzero(np.diff(idx) != 1) + 1).tolist(), len(idx)]
        runs = [(int(idx[a]), int(idx[b - 1]) + 1, slice(a, b)) for a, b in itertools.pairwise(cuts)]
        return cls(counting, runs, counting.weight * disc)

    def occupancy(self, trace: FloatArray, S: int, D: int) -> _Occupancy:
        """The trace weighted by this rule: discounted and undiscounted occupancy per state (S, D)."""
        disc, total = np.zeros((S, D)), np.zeros((S, D))
        for a, b, sl in self.runs:
            disc += np.einsum("nsd,n->sd", trace[a:b], self.discounted_weight[sl])
            total += np.einsum("nsd,n->sd", trace[a:b], self.counting.weight[sl])
        return _Occupancy(
            trace, self.runs, self.counting.value_cycle, self.counting.weight, total, disc, self.discounted_weight
        )


def _discount(rate: float, years: FloatArray, kind: str) -> FloatArray:
    if kind == "continuous":
        return np.exp(-rate * years)
    return np.asarray((1.0 + rate) ** (-years), dtype=np.float64)


class CompiledModel:
    """A checked model, ready to evaluate for any block of parameter sets."""

    def __init__(self, model: Model) -> None:
        self.model = model
        check_model(model)
        self.states = model.state_names
        self.strategies = model.strategy_names
        self.S = len(self.states)
        self.T = model.cycles
        self.L = float(model.conventions.cycle_length_years)
        sidx = {n: i for i, n in enumerate(self.states)}
        self._sidx = sidx
        dead = [i for i, s in enumerate(model.states) if s.dead]
        self.alive = np.array([not s.dead for s in model.states], dtype=np.float64)
        param_names = frozenset(model.parameter_names)
        lookup_names = frozenset(lk.name for lk in model.lookups)
        self.time_names = RESERVED | lookup_names
        known = param_names | self.time_names
        self._derived: list[tuple[str, _Compiled]] = []
        for d in model.derived:
            dcomp = _compile_value(d.expression, what=f"derived parameter {d.name!r}", cycles=self.T, known=known)
            if dcomp.expression is not None and dcomp.expression.names & self.time_names:
                raise ModelError(
                    f"derived parameter {d.name!r} uses cycle, time, age or a lookup; allowed: parameters only"
                )
            self._derived.append((d.name, dcomp))
            known = known | {d.name}
        self.known = known
        self._strategy_values: list[list[tuple[str, _Compiled]]] = []
        for strat in self.strategies:
            seen = known
            values: list[tuple[str, _Compiled]] = []
            for sv in model.strategy_values:
                if sv.strategy != strat:
                    continue
                if sv.name in seen:
                    raise ModelError(
                        f"strategy value {sv.name!r} of strategy {strat!r} has the name of a parameter, a reserved "
                        "name or an earlier value; allowed: a new name"
                    )
                what = f"strategy value {sv.name!r} of strategy {strat!r}"
                values.append((sv.name, _compile_value(sv.value, what=what, cycles=self.T, known=seen)))
                seen = seen | {sv.name}
            self._strategy_values.append(values)
        value_names = {sv.name for sv in model.strategy_values}
        for strat, values in zip(self.strategies, self._strategy_values, strict=True):
            missing = sorted(value_names - {n for n, _ in values})
            if missing:
                raise ModelError(
                    f"strategy {strat!r} does not set the strategy value(s) {', '.join(missing)}; allowed: every "
                    "strategy sets the same values"
                )
        known = known | value_names

        def comp(value: Value, what: str) -> _Compiled:
            return _compile_value(value, what=what, cycles=self.T, known=known)

        # transitions per strategy: (i, j) -> compiled (None: complement)
        self._transitions: list[dict[tuple[int, int], _Compiled | None]] = []
        for strat in self.strategies:
            cells: dict[tuple[int, int], _Compiled | None] = {}
            for spec in (None, strat):
                for tr in model.transitions:
                    if tr.strategy != spec:
                        continue
                    what = f"transition {tr.source} -> {tr.target}" + (f" (strategy {spec})" if spec else "")
                    cells[(sidx[tr.source], sidx[tr.target])] = (
                        None if tr.probability == COMPLEMENT else comp(tr.probability, what)
                    )
            for i in range(self.S):
                row = [j for (a, j), v in cells.items() if a == i and v is None]
                if len(row) > 1:
                    raise ModelError(
                        f"state {self.states[i]!r} in strategy {strat!r} has {len(row)} complement transitions; "
                        "allowed: at most one 'C' per row"
                    )
            self._transitions.append(cells)
        self._state_costs = [
            [
                (c.name, sidx[c.state], comp(c.amount, f"cost {c.name!r} of state {c.state!r}"))
                for c in model.state_costs
                if c.strategy in (None, strat)
            ]
            for strat in self.strategies
        ]
        self._utilities: list[dict[int, _Compiled]] = []
        for strat in self.strategies:
            util: dict[int, _Compiled] = {}
            for spec in (None, strat):
                for u in model.state_utilities:
                    if u.strategy == spec:
                        util[sidx[u.state]] = comp(u.value, f"utility of state {u.state!r}")
            self._utilities.append(util)
        self._transition_costs = [
            [
                (c.name, sidx[c.source], sidx[c.target], comp(c.amount, f"transition cost {c.name!r}"), c.timing)
                for c in model.transition_costs
                if c.strategy in (None, strat)
            ]
            for strat in self.strategies
        ]
        self._transition_utilities = [
            [
                (
                    sidx[u.source],
                    sidx[u.target],
                    comp(u.qalys, f"transition utility {u.source} -> {u.target}"),
                    u.timing,
                )
                for u in model.transition_utilities
                if u.strategy in (None, strat)
            ]
            for strat in self.strategies
        ]
        self._one_off = [
            [
                (c.name, c.cycle, comp(c.amount, f"one-off cost {c.name!r}"), c.timing)
                for c in model.one_off_costs
                if c.strategy in (None, strat)
            ]
            for strat in self.strategies
        ]
        self.cost_names: tuple[str, ...] = tuple(
            dict.fromkeys(
                [c.name for c in model.state_costs]
                + [c.name for c in model.transition_costs]
                + [c.name for c in model.one_off_costs]
            )
        )
        init = np.zeros(self.S)
        self._initial_values: list[tuple[int, _Compiled]] = []
        if model.initial:
            for name, share in model.initial:
                if isinstance(share, str):
                    ic = _compile_value(share, what=f"initial share of {name!r}", cycles=self.T, known=self.known)
                    self._initial_values.append((sidx[name], ic))
                else:
                    init[sidx[name]] += float(share)
        else:
            init[0] = 1.0
        self.initial = init
        c = model.conventions
        self.rule_costs = _Rule.build(model, c.counting_for("costs"), c.discount_costs)
        self.rule_effects = _Rule.build(model, c.counting_for("effects"), c.discount_effects)
        self.rule_life_years = _Rule.build(model, c.counting_for("life_years"), c.discount_effects)
        cycle_years = (np.arange(self.T, dtype=np.float64) + (1.0 if c.discount_first_cycle else 0.0)) * self.L
        end_years = (np.arange(self.T, dtype=np.float64) + 1.0) * self.L
        self.disc_cost_cycles = _discount(c.discount_costs, cycle_years, c.discounting)
        self.disc_effect_cycles = _discount(c.discount_effects, cycle_years, c.discounting)
        self._disc_moves = {
            ("cost", "cycle"): self.disc_cost_cycles,
            ("cost", "end"): _discount(c.discount_costs, end_years, c.discounting),
            ("effect", "cycle"): self.disc_effect_cycles,
            ("effect", "end"): _discount(c.discount_effects, end_years, c.discounting),
        }
        # background mortality per cycle
        self.background: FloatArray | None = None
        self.death_index = -1
        if model.life_table is not None:
            lt = model.life_table
            if lt.death_state:
                self.death_index = sidx[lt.death_state]
            elif len(dead) == 1:
                self.death_index = dead[0]
            else:
                raise ModelError(
                    "life_table.death_state is empty and the model has no single dead state; allowed: "
                    "the name of the death state"
                )
            ages = np.asarray(lt.ages, dtype=np.float64)
            qx = np.asarray(lt.qx, dtype=np.float64)
            age_t = model.start_age + np.arange(self.T) * self.L
            row = np.clip(np.searchsorted(ages, np.floor(age_t + 1e-9), side="right") - 1, 0, len(ages) - 1)
            self.background = 1.0 - (1.0 - qx[row]) ** self.L
        self._time_cache: dict[str, Any] = {}
        self._buffers = threading.local()
        t = np.arange(self.T, dtype=np.float64)
        ages_t = model.start_age + t * self.L
        self._time_ns = {
            "cycle": (t + model.first_cycle)[:, None],
            "time": (t * self.L)[:, None],
            "age": ages_t[:, None],
        }
        for lk in model.lookups:
            self._time_ns[lk.name] = lookup_values(lk, ages_t)[:, None]

    # -------------------------------------------------------------------------------------------- helpers
    def namespace(self, values: Mapping[str, FloatArray]) -> tuple[dict[str, Any], int]:
        """The evaluation namespace for a block of D parameter sets: each parameter a (1, D) row, ``cycle``, ``time``
        and ``age`` (T, 1) columns, so that every value broadcasts to (T, D) (cycles x draws)."""
        names = self.model.parameter_names
        missing = [n for n in names if n not in values]
        if missing:
            raise ModelError(f"values lack parameter(s) {', '.join(missing)}; allowed: a value for every parameter")
        D = max((np.size(values[n]) for n in names), default=1)
        ns: dict[str, Any] = {}
        for n in names:
            arr = np.asarray(values[n], dtype=np.float64).reshape(-1)
            if arr.size not in (1, D):
                raise ModelError(f"parameter {n!r} has {arr.size} values; allowed: 1 or {D}")
            ns[n] = np.broadcast_to(arr, (D,))[None, :]
        ns.update(self._time_ns)
        ns[_CACHE] = {}
        ns[_TIME_CACHE] = self._time_cache
        for name, comp in self._derived:
            ns[name] = np.broadcast_to(np.asarray(comp.evaluate(ns), dtype=np.float64), (1, D))
        return ns, D

    def strategy_namespace(self, k: int, ns: Mapping[str, Any], D: int) -> Mapping[str, Any]:
        """The namespace of strategy k: `ns` with its strategy values, and a sub-expression cache of its own
        (the same text means different numbers in different strategies); `ns` itself when there are none."""
        values = self._strategy_values[k]
        if not values:
            return ns
        out = dict(ns)
        out[_CACHE] = {}
        for name, comp in values:
            out[name] = self._grid(comp, out, D, f"strategy value {name!r} of strategy {self.strategies[k]!r}")
        return out

    def _buffer(self, name: str, shape: tuple[int, ...]) -> FloatArray:
        """A scratch array (the transitions) reused between blocks of the same size in this thread; every
        entry is written before it is read.

        A fresh array per block is several MiB, which glibc serves with mmap and unmaps at once on free: the SDR PSA
        then spent about half its time faulting in fresh pages (docs/benchmarks.md)."""
        buffer: FloatArray | None = getattr(self._buffers, name, None)
        if buffer is None or buffer.shape != shape:
            buffer = np.empty(shape)
            setattr(self._buffers, name, buffer)
        return buffer

    def _grid(self, comp: _Compiled, ns: Mapping[str, Any], D: int, what: str) -> FloatArray:
        """A value as a (T, D) array (cycles x draws), or (1, D) when it does not change with the cycle."""
        if comp.per_cycle is not None:
            return np.broadcast_to(comp.per_cycle[:, None], (self.T, D))
        value = np.asarray(comp.evaluate(ns), dtype=np.float64)
        varies = value.ndim == 2 and value.shape[0] == self.T
        shape = (self.T, D) if varies else (1, D)
        try:
            out = np.broadcast_to(value, shape)
        except ValueError:
            raise ModelError(f"{what} has shape {value.shape}; allowed: a value per draw and cycle") from None
        lo, hi = out.min(), out.max()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            t, d = np.argwhere(~np.isfinite(out))[0]
            raise ModelError(f"{what} is {out[t, d]} at cycle {t} (parameter set {d}); allowed: a finite number")
        return out

    def starting_distribution(self, ns: Mapping[str, Any], D: int) -> FloatArray:
        """The cohort at the start, (S, D): fixed shares plus shares given as expressions of parameters, checked
        to be proportions summing to 1 in every parameter set."""
        start = np.repeat(self.initial[:, None], D, axis=1)
        if not self._initial_values:
            return start
        for s, comp in self._initial_values:
            share = self._grid(comp, ns, D, f"initial share of {self.states[s]!r}")[0]
            if share.min() < -_TOL or share.max() > 1 + _TOL:
                d = int(np.argmax((share < -_TOL) | (share > 1 + _TOL)))
                raise ModelError(
                    f"initial share of {self.states[s]!r} is {share[d]:.6g} (parameter set {d}); allowed: a "
                    "proportion from 0 to 1"
                )
            start[s] += share
        total = start.sum(axis=0)
        if np.abs(total - 1.0).max() > 1e-6:
            d = int(np.argmax(np.abs(total - 1.0)))
            raise ModelError(f"initial shares sum to {total[d]:.6g} (parameter set {d}); allowed: shares summing to 1")
        return start

    def transition_entries(self, k: int, ns: Mapping[str, Any], D: int) -> list[tuple[int, int, FloatArray]]:
        """The non-zero transitions of strategy k as (from, to, probability) with each probability a (T, D) or
        (1, D) array, checked (each in [0, 1], each row summing to 1), with the complement filled in and background
        mortality applied."""
        strat = self.strategies[k]
        rows: dict[int, dict[int, FloatArray]] = {}
        complement: dict[int, int] = {}
        for (i, j), comp in self._transitions[k].items():
            if comp is None:
                complement[i] = j
                continue
            what = f"transition {self.states[i]} -> {self.states[j]} in strategy {strat!r}"
            arr = self._grid(comp, ns, D, what)
            lo, hi = arr.min(), arr.max()
            if lo < -_TOL or hi > 1 + _TOL:
                t, d = np.argwhere((arr < -_TOL) | (arr > 1 + _TOL))[0]
                raise ModelError(
                    f"{what} is {arr[t, d]:.6g} at cycle {t} (parameter set {d}); allowed: a probability from 0 to 1"
                )
            rows.setdefault(i, {})[j] = np.clip(arr, 0.0, 1.0) if (lo < 0 or hi > 1) else arr
        for i in range(self.S):
            row = rows.setdefault(i, {})
            total: Any = 0.0
            for arr in row.values():
                total = total + arr
            if i in complement:
                j = complement[i]
                rest = 1.0 - np.asarray(total if row else np.zeros((1, D)))
                if rest.min() < -_TOL:
                    t, d = np.argwhere(rest < -_TOL)[0]
                    raise ModelError(
                        f"transitions from state {self.states[i]!r} in strategy {strat!r} other than the complement "
                        f"({self.states[i]} -> {self.states[j]}) sum to {1.0 - rest[t, d]:.6g} at cycle {t} "
                        f"(parameter set {d}); allowed: at most 1"
                    )
                row[j] = np.broadcast_to(np.clip(rest, 0.0, 1.0), rest.shape) if row else np.ones((1, D))
            else:
                sums = np.asarray(total, dtype=np.float64) * np.ones((1, D))
                off = np.abs(sums - 1.0) > 1e-6
                if off.any():
                    t, d = np.argwhere(off)[0]
                    raise ModelError(
                        f"transitions from state {self.states[i]!r} in strategy {strat!r} sum to {sums[t, d]:.6g} at "
                        f"cycle {t} (parameter set {d}); allowed: a row summing to 1 (use 'C' for the complement)"
                    )
        if self.background is not None:
            self._apply_background(rows, D)
        return [(i, j, arr) for i in range(self.S) for j, arr in rows[i].items()]

    def _apply_background(self, rows: dict[int, dict[int, FloatArray]], D: int) -> None:
        assert self.background is not None
        m = self.death_index
        bg = self.background[:, None]  # (T, 1)
        use_max = self.model.life_table is not None and self.model.life_table.combination == "max"
        for i in np.flatnonzero(self.alive):
            row = rows[int(i)]
            p_d = row.get(m, np.zeros((1, D)))
            if use_max:
                new = np.maximum(p_d, bg)
                safe = np.where(p_d < 1.0, 1.0 - p_d, 1.0)
                scale = np.where(p_d < 1.0, (1.0 - new) / safe, 0.0)
            else:
                new = 1.0 - (1.0 - bg) * (1.0 - p_d)
                scale = np.broadcast_to(1.0 - bg, new.shape)
            for j in list(row):
                if j != m:
                    row[j] = row[j] * scale
            row[m] = new

    def transition_matrices(self, k: int, ns: Mapping[str, Any], D: int) -> FloatArray:
        """The full transition probabilities of strategy k as a (D, T, S, S) array (for inspection and tests)."""
        P = np.zeros((D, self.T, self.S, self.S))
        for i, j, arr in self.transition_entries(k, self.strategy_namespace(k, ns, D), D):
            P[:, :, i, j] = np.broadcast_to(arr, (self.T, D)).T
        return P

    # -------------------------------------------------------------------------------------------- evaluation
    def evaluate(
        self, values: Mapping[str, FloatArray], *, detail: bool = False
    ) -> tuple[BatchResult, list[dict[str, Any]]]:
        """Evaluate every strategy for D parameter sets (each parameter an array of D values, or a scalar).

        The cohort is advanced with one vector operation per non-zero transition and cycle over all D draws at
        once. Returns the totals and, with detail=True, per strategy a dict with the trace (D, T+1, S) and the
        discounted costs by name (D,) (used by the deterministic run).
        """
        shared, D = self.namespace(values)
        K = len(self.strategies)
        S, T, L = self.S, self.T, self.L
        shape = (D, K)
        cost, qalys, ly = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        cost_u, qalys_u, ly_u = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        details: list[dict[str, Any]] = []
        alive_idx = np.flatnonzero(self.alive)
        start = self.starting_distribution(shared, D)
        for k in range(K):
            ns = self.strategy_namespace(k, shared, D)
            entries = self.transition_entries(k, ns, D)
            trace = np.empty((T + 1, S, D))
            trace[0] = start
            steps = max(arr.shape[0] for _, _, arr in entries)
            P = self._buffer("transitions", (steps, S, S, D))  # cycles x from x to x draws: P[t] is contiguous
            listed = {(i, j) for i, j, _ in entries}
            for i in range(S):
                for j in range(S):
                    if (i, j) not in listed:
                        P[:, i, j, :] = 0.0
            for i, j, arr in entries:
                P[:, i, j, :] = arr
            for t in range(T):
                np.einsum("sd,sjd->jd", trace[t], P[t if steps > 1 else 0], out=trace[t + 1])
            # weighted (and discounted) occupancy per state under each outcome's counting rule: (S, D) each
            occ_cost = self.rule_costs.occupancy(trace, S, D)
            occ_effect = occ_cost if self.rule_effects is self.rule_costs else self.rule_effects.occupancy(trace, S, D)
            occ_ly = self.rule_life_years.occupancy(trace, S, D)
            by_name: dict[str, FloatArray] = {}
            by_cycle = np.zeros((T, D)) if detail else None

            for name, s, comp in self._state_costs[k]:
                grid = self._grid(comp, ns, D, f"cost {name!r}")
                disc, undisc = occ_cost.accrue(s, grid)
                cost[:, k] += disc
                cost_u[:, k] += undisc
                by_name[name] = by_name.get(name, 0.0) + disc
                if by_cycle is not None:
                    by_cycle += occ_cost.by_cycle(s, grid, T)
            ly[:, k] = occ_ly.discounted[alive_idx].sum(axis=0) * L
            ly_u[:, k] = occ_ly.total[alive_idx].sum(axis=0) * L
            for s, comp in self._utilities[k].items():
                grid = self._grid(comp, ns, D, f"utility of state {self.states[s]!r}") * L
                disc, undisc = occ_effect.accrue(s, grid)
                qalys[:, k] += disc
                qalys_u[:, k] += undisc
            # transition costs and utilities: the flow during cycle t is trace[t, i] * p_ij(t)
            probability = {(i, j): arr for i, j, arr in entries}
            for name, i, j, comp, timing in self._transition_costs[k]:
                p_ij = probability.get((i, j), np.zeros((1, D)))
                flow = trace[:-1, i, :] * p_ij * self._grid(comp, ns, D, f"transition cost {name!r}")
                disc = self._disc_moves["cost", timing] @ flow
                cost[:, k] += disc
                cost_u[:, k] += flow.sum(axis=0)
                by_name[name] = by_name.get(name, 0.0) + disc
                if by_cycle is not None:
                    by_cycle += flow
            for i, j, comp, timing in self._transition_utilities[k]:
                p_ij = probability.get((i, j), np.zeros((1, D)))
                flow = trace[:-1, i, :] * p_ij * self._grid(comp, ns, D, "transition utility")
                qalys[:, k] += self._disc_moves["effect", timing] @ flow
                qalys_u[:, k] += flow.sum(axis=0)
            for name, cyc, comp, charged in self._one_off[k]:
                grid = self._grid(comp, ns, D, f"one-off cost {name!r}")
                amount = grid[cyc if grid.shape[0] > 1 else 0]
                factor = 1.0 if charged == "time_zero" else float(self.disc_cost_cycles[cyc])
                cost[:, k] += amount * factor
                cost_u[:, k] += amount
                by_name[name] = by_name.get(name, 0.0) + amount * factor
                if by_cycle is not None:
                    by_cycle[cyc] += amount
            if detail:
                details.append({"trace": trace.transpose(2, 0, 1), "costs_by_name": by_name, "cost_by_cycle": by_cycle})
        return BatchResult(self.strategies, cost, qalys, ly, cost_u, qalys_u, ly_u), details


@dataclass(frozen=True)
class _Occupancy:
    """A strategy's trace with the counting rule, to total a per-cycle value over the counted points."""

    trace: FloatArray  # (T + 1, S, D)
    runs: list[tuple[int, int, slice]]
    value_cycle: npt.NDArray[np.intp]
    weight: FloatArray
    total: FloatArray  # (S, D): weighted occupancy, undiscounted
    discounted: FloatArray  # (S, D): weighted and discounted occupancy
    weights: FloatArray  # the points' weight x discount factor

    def accrue(self, s: int, grid: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Discounted and undiscounted totals (D,) of a per-cycle value `grid` ((1, D) or (T, D)) in state s."""
        weights = self.weights
        if grid.shape[0] == 1:
            return grid[0] * self.discounted[s], grid[0] * self.total[s]
        disc = np.zeros(grid.shape[1])
        undisc = np.zeros(grid.shape[1])
        for a, b, sl in self.runs:
            values = self.trace[a:b, s, :] * grid[self.value_cycle[sl]]
            disc += weights[sl] @ values
            undisc += self.weight[sl] @ values
        return disc, undisc

    def by_cycle(self, s: int, grid: FloatArray, cycles: int) -> FloatArray:
        """Undiscounted totals (T, D) of a per-cycle value `grid` in state s, each counted point added to the cycle
        whose values it takes."""
        out = np.zeros((cycles, grid.shape[1]))
        for a, b, sl in self.runs:
            values = self.trace[a:b, s, :] * grid[self.value_cycle[sl] if grid.shape[0] > 1 else 0]
            np.add.at(out, self.value_cycle[sl], self.weight[sl][:, None] * values)
        return out


def lookup_values(lookup: Lookup, ages: FloatArray) -> FloatArray:
    """A `Lookup`'s values at `ages`: straight lines between the listed ages (ends held) or age bands (step)."""
    table_ages = np.asarray(lookup.ages, dtype=np.float64)
    values = np.asarray(lookup.values, dtype=np.float64)
    if lookup.interpolation == "linear":
        return np.asarray(np.interp(ages, table_ages, values), dtype=np.float64)
    row = np.clip(np.searchsorted(table_ages, ages + 1e-9, side="right") - 1, 0, len(table_ages) - 1)
    return np.asarray(values[row], dtype=np.float64)


def compile_model(model: Model) -> CompiledModel:
    """Check and compile `model` once; raises ModelError naming the problem and what is allowed."""
    return CompiledModel(model)


def run_model(model: Model, values: Mapping[str, float] | None = None) -> ModelResult:
    """The deterministic run at the base values (or at `values`, overriding some parameters)."""
    compiled = compile_model(model)
    params = model.base_values()
    if values:
        unknown = sorted(set(values) - set(params))
        if unknown:
            raise ModelError(f"values name unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(params)}")
        params.update({k: float(v) for k, v in values.items()})
    batch, details = compiled.evaluate({k: np.array([v]) for k, v in params.items()}, detail=True)
    results = []
    for k, name in enumerate(compiled.strategies):
        by_name = details[k]["costs_by_name"]
        results.append(
            StrategyResult(
                name=name,
                cost=float(batch.cost[0, k]),
                qalys=float(batch.qalys[0, k]),
                life_years=float(batch.life_years[0, k]),
                cost_undiscounted=float(batch.cost_undiscounted[0, k]),
                qalys_undiscounted=float(batch.qalys_undiscounted[0, k]),
                life_years_undiscounted=float(batch.life_years_undiscounted[0, k]),
                costs_by_name=tuple(
                    (n, float(np.asarray(by_name[n]).reshape(-1)[0])) for n in compiled.cost_names if n in by_name
                ),
                trace=details[k]["trace"][0],
                cost_by_cycle=np.asarray(details[k]["cost_by_cycle"][:, 0], dtype=np.float64),
            )
        )
    names = [r.name for r in results]
    return ModelResult(
        model=model,
        strategies=tuple(results),
        incremental=incremental_analysis(names, [r.cost for r in results], [r.qalys for r in results]),
        incremental_life_years=incremental_analysis(names, [r.cost for r in results], [r.life_years for r in results]),
    )
