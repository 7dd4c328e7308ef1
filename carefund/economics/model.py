"""The description of a discrete-time Markov cohort model, as frozen dataclasses (the engine's Python API).

A `Model` is pure data: it says *what* the model is; `carefund.economics.engine` says how to evaluate it. The same
model can be written by hand in Python (the golden tests do) or produced from a TOML model file.

Values
------
Anything numeric in a model (a transition probability, a cost, a utility) is a `Value`:

* a number (``0.1``),
* an expression string over parameter names, ``cycle``, ``time``, ``age`` and whitelisted numpy functions
  (``"p_progress * rr"``, ``"where(cycle < 2, c_drug, 0)"``; see `carefund.economics.expressions`), or
* a tuple of numbers, one per cycle (the last value repeats after the tuple ends).

``cycle`` is the number of the cycle, counted from `Model.first_cycle` (0 by default, so 0 is the first cycle;
model files count from 1), ``time`` is the years since the start at the start of the cycle (0 in the first) and
``age = start_age + time``. A `Lookup` (a table by age) is read by its name, a `StrategyValue` by its name.
A transition probability may be `COMPLEMENT` (``"C"``): one minus the rest of its row.

Per-strategy values
-------------------
Costs, utilities and transitions carry ``strategy``: ``None`` means every strategy; a name restricts the entry to that
strategy. For transitions a strategy-specific entry for a (source, target) pair replaces the general one. Costs and
utility entries add up (two costs for the same state are both counted); a utility entry with a strategy replaces the
general utility of that state in that strategy.

Units
-----
State costs are per cycle spent in the state. Utilities are QALY weights per year; QALYs = occupancy x utility x
cycle length. Life years = occupancy of the non-dead states x cycle length. Transition costs and utilities are
charged once per member of the cohort making that transition (e.g. the cost of a surgical revision, or a QALY loss).
One-off costs are charged per member of the starting cohort at the given cycle.

Background mortality
--------------------
With a `LifeTable`, the annual probability of death q(age) (age = start age + time, floor to the table's ages, the last
row repeated) becomes a per-cycle probability ``1 - (1 - q) ** cycle_length_years`` and is applied to every state that
is not dead, combined with the model's own (disease-specific) transition to `LifeTable.death_state` by
`LifeTable.combination`:

* ``"independent"`` (default, competing risks): p_death = 1 - (1 - p_bg)(1 - p_disease); every other transition of the
  row is multiplied by (1 - p_bg), so the row still sums to 1.
* ``"max"``: p_death = max(p_bg, p_disease) (the disease-specific figure already includes all-cause death); other
  transitions are rescaled by (1 - p_death) / (1 - p_disease).

Conventions
-----------
See `Conventions`: how state membership is counted within a cycle and how costs and effects are discounted are always
chosen explicitly, because published models differ and results depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from carefund.economics.distributions import Distribution, fixed

Value = float | int | str | tuple[float, ...]
"""A number, an expression string, or a tuple of numbers per cycle (see the module docstring)."""

COMPLEMENT = "C"
"""A transition probability meaning "one minus the other probabilities of this row"."""

Counting = Literal["start", "end", "half_cycle", "trapezoid", "simpson", "simpson_darth"]
Discounting = Literal["discrete", "continuous"]
MortalityCombination = Literal["independent", "max"]
OneOffTiming = Literal["cycle", "time_zero"]
MoveTiming = Literal["cycle", "end"]
Interpolation = Literal["linear", "step"]


class ModelError(ValueError):
    """A model that cannot be evaluated; the message names the item (state, parameter, key) and what is allowed."""


@dataclass(frozen=True)
class Parameter:
    """A model input.

    name: an identifier usable in expressions (letters, digits, underscores; not a reserved name such as ``cycle``).
    base: the value for the deterministic (base-case) analysis.
    distribution: its uncertainty for PSA (default: fixed at `base`).
    source: where the number comes from (a citation, with its URL (docs/sources.md), or ``"assumption: why"``).
    low, high: the range for one-way sensitivity analysis; if None, the 2.5% and 97.5% quantiles of the distribution.
    """

    name: str
    base: float
    distribution: Distribution | None = None
    source: str = ""
    description: str = ""
    low: float | None = None
    high: float | None = None

    @property
    def dist(self) -> Distribution:
        """The distribution, `fixed(base)` if none was given."""
        return self.distribution if self.distribution is not None else fixed(self.base)


@dataclass(frozen=True)
class DirichletGroup:
    """Several parameters drawn together from one Dirichlet (the probabilities of a multinomial transition row).

    names: the parameter names the group defines (they must not also be `Parameter`s).
    alphas: concentration parameters, e.g. the observed counts of each transition; the base values are alphas/sum.
    """

    names: tuple[str, ...]
    alphas: tuple[float, ...]
    source: str = ""
    description: str = ""


@dataclass(frozen=True)
class Derived:
    """A parameter computed from others by an expression, evaluated in declaration order after the draws
    (e.g. ``Derived("p_combo", "p_mono * rr")``); may not use ``cycle``, ``time`` or ``age``."""

    name: str
    expression: str
    description: str = ""


@dataclass(frozen=True)
class Correlation:
    """Correlated draws of `names` through a Gaussian copula with the given correlation matrix (rows as tuples).

    The normal scores are drawn with Cholesky factor L of `matrix` (z = e @ L.T), mapped to uniforms by the standard
    normal CDF and then to each parameter's own marginal distribution by its inverse CDF. The rank correlation is
    therefore close to, not equal to, the matrix given (for Pearson r, Spearman rho = 6/pi * asin(r/2)).
    """

    names: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class State:
    """A health state. `dead` marks the absorbing death state (excluded from life years, the target of background
    mortality); a model has at most one dead state."""

    name: str
    label: str = ""
    dead: bool = False


@dataclass(frozen=True)
class Strategy:
    """An alternative being compared (e.g. usual care, SDR)."""

    name: str
    label: str = ""


@dataclass(frozen=True)
class Transition:
    """The per-cycle probability of moving from `source` to `target` (a `Value` or `COMPLEMENT`).

    Pairs that are not listed have probability 0. strategy None: all strategies (a strategy-specific entry for the
    same pair overrides it).
    """

    source: str
    target: str
    probability: Value
    strategy: str | None = None


@dataclass(frozen=True)
class StateCost:
    """A cost per cycle spent in `state`; `name` groups costs in the results (e.g. ``"drug"``, ``"physiotherapy"``)."""

    name: str
    state: str
    amount: Value
    strategy: str | None = None


@dataclass(frozen=True)
class StateUtility:
    """The QALY weight (per year) of `state`; states with no utility have weight 0. A strategy-specific entry
    replaces the general one for that strategy."""

    state: str
    value: Value
    strategy: str | None = None


@dataclass(frozen=True)
class TransitionCost:
    """A cost charged once for each member of the cohort moving from `source` to `target` in a cycle.

    timing: ``"cycle"`` discounts it like the values of the cycle in which the move happens; ``"end"`` at the end
    of that cycle (time (t + 1) x cycle length for the 0-based cycle t), as models that count a move when it is
    complete do (the DMHEE exercises)."""

    name: str
    source: str
    target: str
    amount: Value
    strategy: str | None = None
    timing: MoveTiming = "cycle"


@dataclass(frozen=True)
class TransitionUtility:
    """A one-off QALY change (usually negative, in QALYs, not a weight) for each member moving `source` -> `target`;
    `timing` as for `TransitionCost`."""

    source: str
    target: str
    qalys: Value
    strategy: str | None = None
    timing: MoveTiming = "cycle"


@dataclass(frozen=True)
class OneOffCost:
    """A cost per member of the starting cohort, charged in cycle `cycle` (0: the first), e.g. the SDR operation.

    timing: ``"cycle"`` discounts it like that cycle's values (see `Conventions.discount_first_cycle`);
    ``"time_zero"`` charges it at time 0, undiscounted, whatever the conventions (hesim's THR: the operation is paid
    before the model starts); `cycle` must then be 0.
    """

    name: str
    amount: Value
    strategy: str | None = None
    cycle: int = 0
    timing: OneOffTiming = "cycle"


@dataclass(frozen=True)
class StrategyValue:
    """A named value that differs between strategies (``rr`` is 1 under usual care and ``rr_sdr`` under SDR),
    usable by name in every other value of that strategy. Evaluated per strategy in declaration order; it may use
    parameters, derived parameters, lookups, ``cycle``, ``time``, ``age`` and earlier strategy values."""

    name: str
    strategy: str
    value: Value


@dataclass(frozen=True)
class Lookup:
    """A table of `values` by age (`ages` ascending), usable by `name` in expressions as a value of the cohort's age
    in each cycle (``age`` = start age + time, the age at the start of the cycle).

    interpolation: ``"linear"`` (straight lines between the listed ages, the end values beyond them) or ``"step"``
    (the value of the last listed age at or below the cohort's age: age bands; the first value below the first age).
    A model file's ``[life_table]`` becomes ``Lookup("qx", ..., "linear")`` and its ``[tables.NAME]`` step lookups.
    """

    name: str
    ages: tuple[float, ...]
    values: tuple[float, ...]
    interpolation: Interpolation = "linear"
    source: str = ""


@dataclass(frozen=True)
class LifeTable:
    """Background mortality: `qx[i]` is the annual probability of death at age `ages[i]` (whole years, ascending).

    The table's source is required for a model with a source for every number. See the module docstring for how the
    background risk combines with the model's own transition to `death_state`.
    """

    ages: tuple[int, ...]
    qx: tuple[float, ...]
    source: str = ""
    death_state: str = ""
    combination: MortalityCombination = "independent"


@dataclass(frozen=True)
class Conventions:
    """How the cohort is counted and discounted; every published model fixes these, so they are always explicit.

    counting: how a cycle's state membership (occupancy) is taken from the trace ``m[0..T]`` (m[0] the start):

    * ``"start"``: cycle t counts m[t] (membership at the start of the cycle);
    * ``"end"``: cycle t counts m[t+1] (membership at the end);
    * ``"trapezoid"``: cycle t counts (m[t] + m[t+1]) / 2 (the life-table method);
    * ``"half_cycle"``: the T+1 points m[0..T] are counted with weights 1/2, 1, ..., 1, 1/2 (Sonnenberg & Beck's
      half-cycle correction; as in the DARTH models), point k with the values of cycle min(k, T-1);
    * ``"simpson"``: Simpson's 1/3 rule over the points (weights 1/3, 4/3, 2/3, ..., 4/3, 1/3; T must be even);
    * ``"simpson_darth"``: the weights as published and coded by the DARTH group (Alarid-Escudero et al., Med Decis
      Making 2023, section "Within-cycle correction"; darthtools ``gen_wcc(method = "Simpson1/3")``): 1/3 at the first
      and last point, 2/3 at odd points and 4/3 at even points, for any T. It is not textbook Simpson (the odd/even
      weights are swapped) and is kept only to reproduce their published results.

    discount_costs, discount_effects: annual rates (0.035 for NICE).
    discounting: ``"discrete"`` (factor 1/(1+r)^t) or ``"continuous"`` (factor exp(-r t)), t in years.
    discount_first_cycle: False: the first cycle is at time 0 and undiscounted (cycle t at t * cycle length);
      True: cycle t is discounted at (t + 1) * cycle length. For the point-based rules (half_cycle, simpson),
      point k is at k * cycle length, plus one cycle if True.
    cycle_length_years: the length of a cycle in years.
    counting_costs, counting_effects, counting_life_years: a rule for one outcome only (None: `counting`); the DMHEE
      HIV exercise counts costs at the end of each cycle and life years half-cycle corrected.
    """

    counting: Counting
    discount_costs: float
    discount_effects: float
    discounting: Discounting = "discrete"
    discount_first_cycle: bool = False
    cycle_length_years: float = 1.0
    counting_costs: Counting | None = None
    counting_effects: Counting | None = None
    counting_life_years: Counting | None = None

    def counting_for(self, outcome: Literal["costs", "effects", "life_years"]) -> Counting:
        """The counting rule of one outcome: its own if given, else `counting`."""
        own = {"costs": self.counting_costs, "effects": self.counting_effects, "life_years": self.counting_life_years}
        return own[outcome] or self.counting


@dataclass(frozen=True)
class Model:
    """A Markov cohort model.

    states: in order (the order of the trace's columns); strategies: the alternatives compared.
    cycles: the number of cycles T (the horizon is T * cycle length).
    initial: the starting distribution over states, (state name, proportion) pairs summing to 1, each proportion a
      number or an expression of parameters (so the starting mix can be uncertain in the PSA); states not listed
      start at 0. Default: everyone in the first state.
    start_age: the cohort's age at the start (used by `LifeTable`, `Lookup` and the ``age`` variable).
    strategy_values: named values per strategy (`StrategyValue`); lookups: tables by age (`Lookup`).
    first_cycle: the number ``cycle`` has in the first cycle: 0 for models built in Python (the default), 1 for
      model files (people count cycles from 1). Only what expressions see changes; nothing is rewritten.
    thresholds: willingness to pay per QALY for net monetary benefit and acceptability curves (NICE: 20,000 and
      30,000 pounds per QALY).
    """

    name: str
    states: tuple[State, ...]
    strategies: tuple[Strategy, ...]
    transitions: tuple[Transition, ...]
    conventions: Conventions
    cycles: int
    parameters: tuple[Parameter, ...] = ()
    dirichlet: tuple[DirichletGroup, ...] = ()
    derived: tuple[Derived, ...] = ()
    correlations: tuple[Correlation, ...] = ()
    state_costs: tuple[StateCost, ...] = ()
    state_utilities: tuple[StateUtility, ...] = ()
    transition_costs: tuple[TransitionCost, ...] = ()
    transition_utilities: tuple[TransitionUtility, ...] = ()
    one_off_costs: tuple[OneOffCost, ...] = ()
    initial: tuple[tuple[str, float | str], ...] = ()
    start_age: float = 0.0
    life_table: LifeTable | None = None
    strategy_values: tuple[StrategyValue, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    first_cycle: int = 0
    thresholds: tuple[float, ...] = (20000.0, 30000.0)
    title: str = ""
    description: str = field(default="", compare=False)

    @property
    def state_names(self) -> tuple[str, ...]:
        """State names in order."""
        return tuple(s.name for s in self.states)

    @property
    def strategy_names(self) -> tuple[str, ...]:
        """Strategy names in order."""
        return tuple(s.name for s in self.strategies)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of all drawn parameters: `parameters` then every `DirichletGroup`'s names (not `derived`)."""
        return tuple(p.name for p in self.parameters) + tuple(n for g in self.dirichlet for n in g.names)

    def base_values(self) -> dict[str, float]:
        """Base-case values of the drawn parameters (Dirichlet: alpha / sum of alphas)."""
        values = {p.name: float(p.base) for p in self.parameters}
        for g in self.dirichlet:
            total = float(sum(g.alphas))
            values.update({n: float(a) / total for n, a in zip(g.names, g.alphas, strict=False)})
        return values


def transitions_from_matrix(
    states: tuple[str, ...], matrix: tuple[tuple[Value, ...], ...], *, strategy: str | None = None
) -> tuple[Transition, ...]:
    """Transitions from a square matrix of Values (rows: from, columns: to); zero entries are left out."""
    if len(matrix) != len(states) or any(len(row) != len(states) for row in matrix):
        raise ModelError(f"matrix is {len(matrix)} rows; allowed: a square matrix of {len(states)} x {len(states)}")
    out: list[Transition] = []
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
                continue
            out.append(Transition(states[i], states[j], value, strategy))
    return tuple(out)
