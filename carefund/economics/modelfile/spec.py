"""Model files: a declarative TOML description of a Markov cohort model (the format is docs/economics.md).

This module holds what a file says, as frozen dataclasses with each number's source (`ModelSpec`); `reading.py` reads
a file into it, `tunnels.py` writes tunnel states out, `validation.py` checks it with the engine's evaluator and
`convert.py` builds the engine's `model.Model`, which every run uses. Expressions are the engine's
(`carefund.economics.expressions`): one language, one set of functions, for checking and for running.

Every refusal is a `ModelFileError` naming the file, the dotted key (and the line when it can be found) and what
is allowed; nothing here raises a bare exception on bad input. Pure Python + numpy: no Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from carefund.economics import expressions

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
COUNTING_METHODS = ("start", "end", "half_cycle", "trapezoid", "simpson", "simpson_darth")
DISCOUNTING_METHODS = ("discrete", "continuous")
DISTRIBUTION_TYPES = ("fixed", "beta", "gamma", "lognormal", "normal", "uniform")
BUILTIN_NAMES = ("cycle", "age", "time", "qx")
COMPLEMENT = "C"
STATE_CYCLE = "state_cycle"  # in a tunnel state's values: the cycles spent in the state so far, 1 in the first
MAX_TUNNEL = 100
ROW_TOLERANCE = 1e-9
FUNCTIONS = tuple(sorted(expressions.FUNCTIONS))


class ModelFileError(ValueError):
    """A model file (or a model built in Python) that cannot be used; the message names the file, key and fix."""

    def __init__(self, message: str, *, file: str = "<model>", key: str = "", line: int | None = None) -> None:
        self.file = file
        self.key = key
        self.line = line
        self.message = message
        where = file
        if line is not None:
            where += f", line {line}"
        if key:
            where += f", {key}"
        super().__init__(f"{where}: {message}")


# --------------------------------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Expression:
    """A number, or an expression of the engine's language (`carefund.economics.expressions`) over parameters,
    derived parameters, strategy values, lookups (`qx`, tables), `cycle`, `time` and `age`."""

    text: str
    names: frozenset[str]
    parsed: expressions.Expression | None = field(default=None, repr=False, compare=False)
    constant: float | None = None

    def evaluate(self, namespace: Mapping[str, Any]) -> Any:
        """The value with the engine's evaluator (numbers or numpy arrays in `namespace`)."""
        if self.constant is not None:
            return self.constant
        assert self.parsed is not None
        return self.parsed.evaluate(namespace)

    @property
    def engine_value(self) -> float | str:
        """The engine's `model.Value`: the number, or the expression's text (parsed once, cached by the engine)."""
        return self.constant if self.constant is not None else self.text


def compile_expression(raw: object, *, file: str, key: str) -> Expression:
    """Check a TOML value (a number or an expression string) with the engine's parser; anything but arithmetic,
    comparisons and the engine's functions is refused."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ModelFileError(
            f"must be a number or an expression in quotes, not {type(raw).__name__}", file=file, key=key
        )
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ModelFileError("must be a finite number", file=file, key=key)
        return Expression(text=repr(raw), names=frozenset(), constant=float(raw))
    try:
        parsed = expressions.parse_expression(raw.strip())
    except expressions.ExpressionError as exc:
        raise ModelFileError(str(exc), file=file, key=key) from None
    return Expression(text=raw.strip(), names=parsed.names, parsed=parsed)


# --------------------------------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class Distribution:
    """A parameter's uncertainty as written in a model file: `kind` in DISTRIBUTION_TYPES, `params` its defining
    numbers (normalised). Sampling and quantiles are the engine's (`engine_distribution`, `distributions.py`)."""

    kind: str
    params: tuple[tuple[str, float], ...] = ()

    def get(self, name: str) -> float:
        return dict(self.params)[name]

    def describe(self) -> str:
        if self.kind == "fixed":
            return "fixed"
        return f"{self.kind}(" + ", ".join(f"{k}={v:g}" for k, v in self.params) + ")"


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    distribution: Distribution
    source: str
    assumption: bool = False
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class State:
    name: str
    label: str
    initial: Expression
    utility: Expression
    costs: tuple[tuple[str, Expression], ...] = ()
    dead: bool = False
    tunnel: int = 0  # as read from a file: N > 1 until `expand_tunnels` makes it N states of its own


@dataclass(frozen=True)
class Strategy:
    name: str
    label: str
    values: tuple[tuple[str, Expression], ...] = ()
    one_off_costs: tuple[tuple[str, Expression], ...] = ()


@dataclass(frozen=True)
class DirichletGroup:
    """Probabilities of a multinomial transition row drawn together from one Dirichlet: `parameters` are the names
    the group defines (usable in expressions like any parameter), `alphas` their concentrations (e.g. the observed
    counts of each move); the base values are alpha / sum of alphas."""

    name: str
    parameters: tuple[str, ...]
    alphas: tuple[float, ...]
    source: str
    assumption: bool = False
    description: str = ""

    def base_values(self) -> dict[str, float]:
        total = sum(self.alphas)
        return {n: a / total for n, a in zip(self.parameters, self.alphas, strict=True)}

    def describe(self) -> str:
        return "dirichlet(" + ", ".join(f"{a:g}" for a in self.alphas) + ")"


@dataclass(frozen=True)
class Correlation:
    """Correlated draws of `parameters` (each keeping its own distribution) through a Gaussian copula with
    correlation `matrix` (see `carefund.economics.model.Correlation`)."""

    parameters: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]
    source: str = ""


@dataclass(frozen=True)
class TransitionValue:
    """A cost (`kind` "cost", in money) or a QALY change (`kind` "utility", in QALYs, not a weight) charged once
    for each member of the cohort moving `source` -> `target` in a cycle."""

    kind: str
    name: str
    source: str
    target: str
    value: Expression
    timing: str = "cycle"  # "cycle": discounted like the cycle of the move; "end": at the end of that cycle


@dataclass(frozen=True)
class Conventions:
    """How the cohort is counted and discounted (the engine's `model.Conventions`, plus the thresholds).

    counting_costs, counting_effects, counting_life_years: one outcome's own counting rule ("" : `counting`).
    one_off_timing: "first_cycle" (a strategy's one-off costs are discounted like the first cycle, so undiscounted
    unless discount_first_cycle) or "time_zero" (always at time 0, undiscounted: hesim's THR)."""

    counting: str = "half_cycle"
    discount_costs: float = 0.035
    discount_effects: float = 0.035
    discounting: str = "discrete"
    discount_first_cycle: bool = False
    thresholds: tuple[float, ...] = (20000.0, 30000.0)
    counting_costs: str = ""
    counting_effects: str = ""
    counting_life_years: str = ""
    one_off_timing: str = "first_cycle"


@dataclass(frozen=True)
class LifeTable:
    """Annual probabilities of death by age, linear between the listed ages (the ends held); a file may give them as
    death rates, converted once on reading (q = 1 - exp(-m)), and by sex (the model's `sex` picks the column)."""

    ages: tuple[float, ...]
    qx: tuple[float, ...]
    source: str
    assumption: bool = False


@dataclass(frozen=True)
class Table:
    """A lookup table by age band (a step function: the value of the last band starting at or below the cohort's
    age), used by its name in expressions, e.g. mortality by age band and sex."""

    name: str
    ages: tuple[float, ...]
    values: tuple[float, ...]
    source: str
    assumption: bool = False


@dataclass(frozen=True)
class Derived:
    """A named intermediate value computed from parameters (after each PSA draw), in declaration order."""

    name: str
    expression: Expression


@dataclass(frozen=True)
class ModelSpec:
    """A whole model, as read from a file or built in Python; `validate_spec` checks it."""

    name: str
    title: str
    states: tuple[State, ...]
    strategies: tuple[Strategy, ...]
    transitions: tuple[tuple[str, tuple[tuple[str, Expression], ...]], ...]
    parameters: tuple[Parameter, ...]
    conventions: Conventions = Conventions()
    cycles: int = 1
    cycle_length_years: float = 1.0
    start_age: float = 0.0
    start_age_source: str = ""
    description: str = ""
    perspective: str = ""
    currency: str = "GBP"
    life_table: LifeTable | None = None
    file: str = "<python>"
    dirichlet: tuple[DirichletGroup, ...] = ()
    correlations: tuple[Correlation, ...] = ()
    transition_values: tuple[TransitionValue, ...] = ()
    derived: tuple[Derived, ...] = ()
    tables: tuple[Table, ...] = ()
    sex: str = ""

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def parameter_map(self) -> dict[str, Parameter]:
        return {p.name: p for p in self.parameters}

    def base_values(self) -> dict[str, float]:
        """Base values of every parameter, Dirichlet members included (alpha / sum of alphas)."""
        values = {p.name: p.value for p in self.parameters}
        for g in self.dirichlet:
            values.update(g.base_values())
        return values

    @property
    def parameter_groups(self) -> dict[str, tuple[str, ...]]:
        """Names a person may give for EVPPI: every parameter alone, and every Dirichlet group (all its members)."""
        out: dict[str, tuple[str, ...]] = {p.name: (p.name,) for p in self.parameters}
        for g in self.dirichlet:
            out[g.name] = g.parameters
            out.update({n: (n,) for n in g.parameters})
        return out

    def assumptions(self) -> list[Parameter]:
        return [p for p in self.parameters if p.assumption]

    def with_parameter(
        self, name: str, *, value: float, distribution: Distribution, source: str, assumption: bool = False
    ) -> ModelSpec:
        """A copy with one parameter replaced by outside evidence: its base value, its uncertainty and the source
        that now stands behind it; validated again. This is how evidence from elsewhere (the outcomes registry's
        fitted annual GMFM-66 change for the SDR model's `gmfm_gain_per_year`) replaces a file's number:
        ``spec.with_parameter("gmfm_gain_per_year", value=2.9, distribution=make_distribution("normal",
        {"mean": 2.9, "sd": 0.4}), source="carefund outcomes registry, fitted 2026-12-01")``."""
        spec = _replace_parameter(
            self, name, value=float(value), distribution=distribution, source=source, assumption=assumption
        )
        from carefund.economics.modelfile.validation import validate_spec

        validate_spec(spec)
        return spec

    def with_overrides(
        self,
        *,
        values: Mapping[str, float] | None = None,
        cycles: int | None = None,
        discount_costs: float | None = None,
        discount_effects: float | None = None,
        thresholds: tuple[float, ...] | None = None,
    ) -> ModelSpec:
        """A copy with some base values (their distributions kept, shifted to keep a uniform's range around the
        value) or conventions changed; validated again."""
        spec = self
        for name, v in (values or {}).items():
            old = spec.parameter_map.get(name)
            recentred = _recentre(old, float(v)) if old is not None else None
            spec = _replace_parameter(spec, name, value=float(v), distribution=recentred)
        conv = self.conventions
        conv = replace(
            conv,
            discount_costs=conv.discount_costs if discount_costs is None else discount_costs,
            discount_effects=conv.discount_effects if discount_effects is None else discount_effects,
            thresholds=conv.thresholds if thresholds is None else thresholds,
        )
        spec = replace(spec, conventions=conv, cycles=self.cycles if cycles is None else cycles)
        from carefund.economics.modelfile.validation import validate_spec

        validate_spec(spec)
        return spec


def _replace_parameter(spec: ModelSpec, name: str, **changes: Any) -> ModelSpec:
    """`spec` with one parameter's fields changed (unvalidated); an unknown name is refused with the known ones."""
    known = spec.parameter_map
    if name not in known:
        raise ModelFileError(
            f"no such parameter; allowed: {', '.join(sorted(known))}", file=spec.file, key=f"parameters.{name}"
        )
    return replace(spec, parameters=tuple(replace(p, **changes) if p.name == name else p for p in spec.parameters))


def _recentre(p: Parameter, value: float) -> Distribution:
    """Move a distribution so that its centre is the new base value, keeping its relative spread."""
    d = p.distribution
    old = p.value
    if d.kind == "fixed" or old == value:
        return d
    q = dict(d.params)
    if d.kind == "uniform":
        half = (q["high"] - q["low"]) / 2
        return Distribution("uniform", (("low", value - half), ("high", value + half)))
    if d.kind == "normal":
        return Distribution("normal", (("mean", value), ("sd", q["sd"])))
    if d.kind == "lognormal" and value > 0:
        return Distribution("lognormal", (("meanlog", math.log(value)), ("sdlog", q["sdlog"])))
    if d.kind == "gamma" and value > 0:
        cv = math.sqrt(q["shape"]) / q["shape"]
        return _gamma_from_moments(value, value * cv)
    if d.kind == "beta" and 0 < value < 1:
        n = q["alpha"] + q["beta"]
        return Distribution("beta", (("alpha", value * n), ("beta", (1 - value) * n)))
    return Distribution("fixed")


def _gamma_from_moments(mean: float, sd: float) -> Distribution:
    shape = (mean / sd) ** 2
    return Distribution("gamma", (("shape", shape), ("scale", mean / shape)))


def make_distribution(kind: str, nums: Mapping[str, float]) -> Distribution:
    """Normalise a distribution's numbers, refusing invalid ones (the key is the offending field)."""

    def need(*names: str) -> None:
        extra = set(nums) - set(names)
        missing = [n for n in names if n not in nums]
        if missing or extra:
            raise ModelFileError(
                f"a {kind} distribution takes exactly: {', '.join(names) or 'no numbers'}",
                key=(missing or sorted(extra))[0],
            )

    def positive(name: str) -> None:
        if nums[name] <= 0:
            raise ModelFileError(f"is {nums[name]:g}; a {kind} distribution needs {name} > 0", key=name)

    if kind == "fixed":
        need()
        return Distribution("fixed")
    if kind == "beta":
        if "mean" in nums or "sd" in nums:
            need("mean", "sd")
            m, s = nums["mean"], nums["sd"]
            if not 0 < m < 1:
                raise ModelFileError(f"is {m:g}; a beta mean must be between 0 and 1", key="mean")
            if not 0 < s * s < m * (1 - m):
                raise ModelFileError(
                    f"is {s:g}; a beta sd must be > 0 and below sqrt(mean*(1-mean)) = {math.sqrt(m * (1 - m)):.4g}",
                    key="sd",
                )
            k = m * (1 - m) / (s * s) - 1
            return Distribution("beta", (("alpha", m * k), ("beta", (1 - m) * k)))
        need("alpha", "beta")
        positive("alpha")
        positive("beta")
        return Distribution("beta", (("alpha", nums["alpha"]), ("beta", nums["beta"])))
    if kind == "gamma":
        if "mean" in nums or "sd" in nums:
            need("mean", "sd")
            positive("mean")
            positive("sd")
            return _gamma_from_moments(nums["mean"], nums["sd"])
        need("shape", "scale")
        positive("shape")
        positive("scale")
        return Distribution("gamma", (("shape", nums["shape"]), ("scale", nums["scale"])))
    if kind == "lognormal":
        need("meanlog", "sdlog")
        positive("sdlog")
        return Distribution("lognormal", (("meanlog", nums["meanlog"]), ("sdlog", nums["sdlog"])))
    if kind == "normal":
        need("mean", "sd")
        positive("sd")
        return Distribution("normal", (("mean", nums["mean"]), ("sd", nums["sd"])))
    if kind == "uniform":
        need("low", "high")
        if nums["high"] <= nums["low"]:
            raise ModelFileError(
                f"is {nums['high']:g}; a uniform distribution needs high > low ({nums['low']:g})", key="high"
            )
        return Distribution("uniform", (("low", nums["low"]), ("high", nums["high"])))
    raise ModelFileError(f"is {kind!r}; allowed: {', '.join(DISTRIBUTION_TYPES)}", key="type")


_SUPPORT = {
    "beta": (0.0, 1.0),
    "gamma": (0.0, math.inf),
    "lognormal": (0.0, math.inf),
}
