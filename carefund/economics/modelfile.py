"""Model files: a declarative TOML description of a Markov cohort model, validated with messages a person can act on.

The format is documented in docs/economics.md. `load_model(name_or_path)` reads a shipped model by name (``sdr``)
or a file by path and returns a `ModelSpec`: frozen dataclasses holding the parameters (base value, distribution,
source), states, strategies, transitions and conventions, with every expression compiled and checked. A model can
also be built in Python by constructing `ModelSpec` directly and calling `validate_spec`.

Every refusal is a `ModelFileError` naming the file, the dotted key (and the line when it can be found) and what
is allowed; nothing here raises a bare exception on bad input. Pure Python + numpy: no Django.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Value = float | FloatArray

MODELS_DIR = Path(__file__).resolve().parent / "models"
COUNTING_METHODS = ("start", "end", "half_cycle", "trapezoid")
DISCOUNTING_METHODS = ("discrete", "continuous")
DISTRIBUTION_TYPES = ("fixed", "beta", "gamma", "lognormal", "normal", "uniform")
BUILTIN_NAMES = ("cycle", "age", "qx")
ENGINE_RESERVED = ("time",)  # a name the engine reserves (years since the start), not usable in model files
COMPLEMENT = "C"
STATE_CYCLE = "state_cycle"  # in a tunnel state's values: the cycles spent in the state so far, 1 in the first
MAX_TUNNEL = 100
ROW_TOLERANCE = 1e-9


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
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": lambda *a: _reduce(np.minimum, a),
    "max": lambda *a: _reduce(np.maximum, a),
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "where": np.where,
    "rate_to_prob": lambda r, t=1.0: 1.0 - np.exp(-np.asarray(r) * t),
    "prob_to_rate": lambda p, t=1.0: -np.log1p(-np.asarray(p)) / t,
}
_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Eq,
    ast.NotEq,
)


def _reduce(fn: Callable[[Any, Any], Any], args: tuple[Any, ...]) -> Any:
    out = args[0]
    for a in args[1:]:
        out = fn(out, a)
    return out


@dataclass(frozen=True)
class Expression:
    """A number or an arithmetic expression over parameters, strategy values, `cycle`, `age` and `qx`."""

    text: str
    names: frozenset[str]
    _code: Any = field(repr=False, compare=False)
    constant: float | None = None

    def evaluate(self, namespace: Mapping[str, Any]) -> Any:
        if self.constant is not None:
            return self.constant
        env: dict[str, Any] = dict(_FUNCTIONS)
        env.update(namespace)
        result = eval(self._code, {"__builtins__": {}}, env)  # noqa: S307 - AST checked against a whitelist
        if isinstance(result, np.ndarray) and result.dtype == bool:
            return result.astype(np.float64)
        if isinstance(result, bool | np.bool_):
            return float(result)
        return result


def compile_expression(raw: object, *, file: str, key: str) -> Expression:
    """Compile a TOML value (number or expression string), refusing anything but arithmetic and known functions."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ModelFileError(
            f"must be a number or an expression in quotes, not {type(raw).__name__}", file=file, key=key
        )
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ModelFileError("must be a finite number", file=file, key=key)
        return Expression(text=repr(raw), names=frozenset(), _code=None, constant=float(raw))
    try:
        tree = ast.parse(raw.strip(), mode="eval")
    except SyntaxError as exc:
        raise ModelFileError(
            f"{raw!r} is not a valid expression ({exc.msg}); allowed: numbers, names, + - * / **, comparisons "
            f"and the functions {', '.join(sorted(_FUNCTIONS))}",
            file=file,
            key=key,
        ) from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ModelFileError(
                f"{raw!r} uses {type(node).__name__}, which a model expression may not; allowed: numbers, names, "
                f"+ - * / **, comparisons and the functions {', '.join(sorted(_FUNCTIONS))}",
                file=file,
                key=key,
            )
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
                raise ModelFileError(
                    f"{raw!r} calls an unknown function; allowed: {', '.join(sorted(_FUNCTIONS))}", file=file, key=key
                )
        elif isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
            names.add(node.id)
        elif isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, int | float)
        ):
            raise ModelFileError(f"{raw!r} contains {node.value!r}; only numbers are allowed", file=file, key=key)
    code = compile(tree, f"<{file}:{key}>", "eval")
    return Expression(text=raw, names=frozenset(names), _code=code)


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


@dataclass(frozen=True)
class Conventions:
    counting: str = "half_cycle"
    discount_costs: float = 0.035
    discount_effects: float = 0.035
    discounting: str = "discrete"
    discount_first_cycle: bool = False
    thresholds: tuple[float, ...] = (20000.0, 30000.0)


@dataclass(frozen=True)
class LifeTable:
    ages: tuple[float, ...]
    qx: tuple[float, ...]
    source: str
    assumption: bool = False

    def at(self, age: Value) -> Value:
        return np.interp(age, self.ages, self.qx)


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
        params = list(self.parameters)
        known = self.parameter_map
        for name, v in (values or {}).items():
            if name not in known:
                raise ModelFileError(
                    f"no such parameter; allowed: {', '.join(sorted(known))}", file=self.file, key=f"parameters.{name}"
                )
            i = next(k for k, p in enumerate(params) if p.name == name)
            params[i] = replace(params[i], value=float(v), distribution=_recentre(params[i], float(v)))
        conv = self.conventions
        conv = replace(
            conv,
            discount_costs=conv.discount_costs if discount_costs is None else discount_costs,
            discount_effects=conv.discount_effects if discount_effects is None else discount_effects,
            thresholds=conv.thresholds if thresholds is None else thresholds,
        )
        spec = replace(
            self, parameters=tuple(params), conventions=conv, cycles=self.cycles if cycles is None else cycles
        )
        validate_spec(spec)
        return spec


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


# --------------------------------------------------------------------------------------------------- reading
def resolve_model_path(name_or_path: str) -> Path:
    """A shipped model by name (``sdr``) or a path to a TOML file."""
    candidate = Path(name_or_path)
    if re.fullmatch(r"[a-z][a-z0-9_]*", name_or_path) and not candidate.exists():
        shipped = MODELS_DIR / f"{name_or_path}.toml"
        if shipped.exists():
            return shipped
        raise ModelFileError(
            f"no shipped model of that name; shipped models: {', '.join(shipped_models())} "
            "(or give a path to a .toml file)",
            file=name_or_path,
        )
    if not candidate.is_file():
        raise ModelFileError(
            "no such file; give a shipped model name or the path of a .toml model file", file=name_or_path
        )
    return candidate


def shipped_models() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.toml"))


def load_model(name_or_path: str) -> ModelSpec:
    path = resolve_model_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(
            f"cannot be read ({exc.__class__.__name__}); it must be a UTF-8 text file", file=str(path)
        ) from None
    return parse_model(text, file=str(path))


_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def parse_model(text: str, *, file: str = "<model>") -> ModelSpec:
    """Parse and validate the text of a model file."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_LINE.search(msg)
        line = int(m.group(1)) if m else None
        raise ModelFileError(
            f"is not valid TOML: {_TOML_LINE.sub('', msg).strip()} (see https://toml.io)", file=file, line=line
        ) from None
    return _Reader(doc, file=file, text=text).read()


class _Reader:
    def __init__(self, doc: dict[str, Any], *, file: str, text: str) -> None:
        self.doc = doc
        self.file = file
        self.lines = text.splitlines()

    def error(self, key: str, message: str) -> ModelFileError:
        return ModelFileError(message, file=self.file, key=key, line=self.line_of(key))

    def line_of(self, key: str) -> int | None:
        """Best effort: the line where a dotted key's table or entry is written."""
        parts = key.split(".")
        m = re.fullmatch(r"([A-Za-z_]+)\[(\d+)\]", parts[0])
        if m:  # the (i+1)-th [[array]] table, then the field below it
            headers = [i for i, line in enumerate(self.lines, start=1) if line.strip() == f"[[{m.group(1)}]]"]
            index = int(m.group(2))
            if index < len(headers):
                start = headers[index]
                if len(parts) > 1:
                    for j in range(start, len(self.lines)):
                        t = self.lines[j].strip()
                        if t.startswith("["):
                            break
                        if re.match(rf"{re.escape(parts[1])}\s*=", t):
                            return j + 1
                return start
        for depth in range(len(parts), 0, -1):
            header = ".".join(parts[:depth])
            header = re.sub(r"\[\d+\]", "", header)
            for i, line in enumerate(self.lines, start=1):
                s = line.strip()
                if s in (f"[{header}]", f"[[{header}]]"):
                    # look for the leaf key below the header
                    leaf = parts[-1]
                    for j in range(i, min(i + 40, len(self.lines))):
                        t = self.lines[j].strip()
                        if t.startswith("["):
                            break
                        if re.match(rf"{re.escape(leaf)}\s*=", t):
                            return j + 1
                    return i
        leaf = parts[-1]
        for i, line in enumerate(self.lines, start=1):
            if re.match(rf"\s*{re.escape(leaf)}\s*=", line):
                return i
        return None

    def table(self, parent: Mapping[str, Any], name: str, key: str, *, required: bool = True) -> dict[str, Any]:
        v = parent.get(name)
        if v is None:
            if required:
                raise self.error(key, "is missing; it must be a table")
            return {}
        if not isinstance(v, dict):
            raise self.error(key, f"must be a table, not {type(v).__name__}")
        return v

    def string(self, parent: Mapping[str, Any], name: str, key: str, *, default: str | None = None) -> str:
        v = parent.get(name, default)
        if v is None:
            raise self.error(key, "is missing; it must be a string")
        if not isinstance(v, str):
            raise self.error(key, f"must be a string, not {type(v).__name__}")
        return v

    def number(
        self,
        parent: Mapping[str, Any],
        name: str,
        key: str,
        *,
        default: float | None = None,
        low: float | None = None,
        high: float | None = None,
    ) -> float:
        v = parent.get(name, default)
        if v is None:
            raise self.error(key, "is missing; it must be a number")
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.error(key, f"must be a finite number, not {v!r}")
        if (low is not None and v < low) or (high is not None and v > high):
            raise self.error(key, f"is {v}; allowed: {low} to {high}")
        return float(v)

    def expr(self, raw: object, key: str) -> Expression:
        try:
            return compile_expression(raw, file=self.file, key=key)
        except ModelFileError as exc:
            raise self.error(key, exc.message) from None

    def read(self) -> ModelSpec:
        allowed_top = {
            "model",
            "conventions",
            "states",
            "strategies",
            "transitions",
            "parameters",
            "life_table",
            "dirichlet",
            "correlations",
            "transition_costs",
            "transition_utilities",
        }
        for k in self.doc:
            if k not in allowed_top:
                raise self.error(k, f"is not a section of a model file; allowed: {', '.join(sorted(allowed_top))}")
        model = self.table(self.doc, "model", "model")
        cycles = model.get("cycles")
        if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1 or cycles > 1000:
            raise self.error("model.cycles", f"is {cycles!r}; allowed: a whole number from 1 to 1000")
        conventions = self.read_conventions()
        params = self.read_parameters()
        states = self.read_states()
        strategies = self.read_strategies()
        transitions = self.read_transitions({s.name for s in states})
        life_table = self.read_life_table()
        dirichlet = self.read_dirichlet()
        correlations = self.read_correlations()
        transition_values = self.read_transition_values("transition_costs", "cost", "amount") + (
            self.read_transition_values("transition_utilities", "utility", "qalys")
        )
        spec = ModelSpec(
            name=self.string(model, "name", "model.name"),
            title=self.string(model, "title", "model.title", default=""),
            description=self.string(model, "description", "model.description", default=""),
            perspective=self.string(model, "perspective", "model.perspective", default=""),
            currency=self.string(model, "currency", "model.currency", default="GBP"),
            cycles=cycles,
            cycle_length_years=self.number(
                model, "cycle_length_years", "model.cycle_length_years", default=1.0, low=1e-6, high=100
            ),
            start_age=self.number(model, "start_age", "model.start_age", default=0.0, low=0, high=120),
            start_age_source=self.string(model, "start_age_source", "model.start_age_source", default=""),
            states=states,
            strategies=strategies,
            transitions=transitions,
            parameters=params,
            conventions=conventions,
            life_table=life_table,
            file=self.file,
            dirichlet=dirichlet,
            correlations=correlations,
            transition_values=transition_values,
        )
        if "start_age" in model and not spec.start_age_source.strip():
            raise self.error(
                "model.start_age_source", "is missing; every number needs a source (a citation or 'assumption: why')"
            )
        try:
            spec = expand_tunnels(spec)
            validate_spec(spec)
        except ModelFileError as exc:
            raise self.error(exc.key, exc.message) from None
        return spec

    def read_conventions(self) -> Conventions:
        c = self.table(self.doc, "conventions", "conventions")
        allowed = {
            "counting",
            "discount_costs",
            "discount_effects",
            "discounting",
            "discount_first_cycle",
            "thresholds",
            "thresholds_source",
        }
        for k in c:
            if k not in allowed:
                raise self.error(f"conventions.{k}", f"is not a convention; allowed: {', '.join(sorted(allowed))}")
        counting = self.string(c, "counting", "conventions.counting")
        if counting not in COUNTING_METHODS:
            raise self.error("conventions.counting", f"is {counting!r}; allowed: {', '.join(COUNTING_METHODS)}")
        discounting = self.string(c, "discounting", "conventions.discounting", default="discrete")
        if discounting not in DISCOUNTING_METHODS:
            raise self.error(
                "conventions.discounting", f"is {discounting!r}; allowed: {', '.join(DISCOUNTING_METHODS)}"
            )
        first = c.get("discount_first_cycle", False)
        if not isinstance(first, bool):
            raise self.error("conventions.discount_first_cycle", "must be true or false")
        thresholds = c.get("thresholds", [20000, 30000])
        if (
            not isinstance(thresholds, list)
            or not thresholds
            or not all(isinstance(t, int | float) and not isinstance(t, bool) and t >= 0 for t in thresholds)
        ):
            raise self.error("conventions.thresholds", "must be a non-empty list of amounts per QALY, each 0 or more")
        return Conventions(
            counting=counting,
            discount_costs=self.number(c, "discount_costs", "conventions.discount_costs", low=0, high=1),
            discount_effects=self.number(c, "discount_effects", "conventions.discount_effects", low=0, high=1),
            discounting=discounting,
            discount_first_cycle=first,
            thresholds=tuple(float(t) for t in thresholds),
        )

    def read_parameters(self) -> tuple[Parameter, ...]:
        table = self.table(self.doc, "parameters", "parameters", required=False)
        out = []
        for name, body in table.items():
            key = f"parameters.{name}"
            reserved = name in BUILTIN_NAMES or name in _FUNCTIONS or name in ENGINE_RESERVED
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or reserved:
                raise self.error(
                    key,
                    "is not an allowed parameter name; use letters, digits and _ "
                    "and not cycle, age, qx, time or a function name",
                )
            if not isinstance(body, dict):
                raise self.error(key, "must be a table with value, distribution and source")
            allowed = {"value", "distribution", "source", "assumption", "unit", "description"}
            for k in body:
                if k not in allowed:
                    raise self.error(f"{key}.{k}", f"is not a parameter field; allowed: {', '.join(sorted(allowed))}")
            value = self.number(body, "value", f"{key}.value")
            source = body.get("source")
            if not isinstance(source, str) or not source.strip():
                raise self.error(
                    f"{key}.source",
                    "is missing; every parameter needs a source "
                    "(a citation with its URL, or 'assumption: why' with assumption = true)",
                )
            assumption = body.get("assumption", False)
            if not isinstance(assumption, bool):
                raise self.error(f"{key}.assumption", "must be true or false")
            dist = self.read_distribution(body.get("distribution", {"type": "fixed"}), f"{key}.distribution")
            unit = self.string(body, "unit", f"{key}.unit", default="")
            out.append(
                Parameter(
                    name=name,
                    value=value,
                    distribution=dist,
                    source=source.strip(),
                    assumption=assumption,
                    unit=unit,
                    description=self.string(body, "description", f"{key}.description", default=""),
                )
            )
        return tuple(out)

    def read_distribution(self, raw: object, key: str) -> Distribution:
        if not isinstance(raw, dict):
            raise self.error(key, 'must be a table such as { type = "beta", alpha = 2, beta = 8 }')
        kind = raw.get("type")
        if kind not in DISTRIBUTION_TYPES:
            raise self.error(f"{key}.type", f"is {kind!r}; allowed: {', '.join(DISTRIBUTION_TYPES)}")
        nums: dict[str, float] = {}
        for k, v in raw.items():
            if k == "type":
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise self.error(f"{key}.{k}", f"must be a finite number, not {v!r}")
            nums[k] = float(v)
        try:
            return make_distribution(str(kind), nums)
        except ModelFileError as exc:
            raise self.error(f"{key}.{exc.key}" if exc.key else key, exc.message) from None

    def read_states(self) -> tuple[State, ...]:
        raw = self.doc.get("states")
        if not isinstance(raw, list) or not raw:
            raise self.error("states", "must be a list of [[states]] tables, at least one")
        out = []
        for i, body in enumerate(raw):
            key = f"states[{i}]"
            if not isinstance(body, dict):
                raise self.error(key, "must be a table")
            allowed = {"name", "label", "initial", "utility", "costs", "dead", "tunnel"}
            for k in body:
                if k not in allowed:
                    raise self.error(f"{key}.{k}", f"is not a state field; allowed: {', '.join(sorted(allowed))}")
            name = self.string(body, "name", f"{key}.name")
            key = f"states.{name}"
            costs = body.get("costs", {})
            if not isinstance(costs, dict):
                raise self.error(f"{key}.costs", "must be a table of cost name = expression")
            dead = body.get("dead", False)
            if not isinstance(dead, bool):
                raise self.error(f"{key}.dead", "must be true or false")
            tunnel = body.get("tunnel", 0)
            if "tunnel" in body and (
                isinstance(tunnel, bool) or not isinstance(tunnel, int) or not 2 <= tunnel <= MAX_TUNNEL
            ):
                raise self.error(
                    f"{key}.tunnel",
                    f"is {tunnel!r}; allowed: a whole number of cycles from 2 to {MAX_TUNNEL} (the cycles after "
                    "which time in the state no longer changes anything)",
                )
            if tunnel and dead:
                raise self.error(f"{key}.tunnel", "is set on the dead state; allowed: on living states only")
            out.append(
                State(
                    name=name,
                    label=self.string(body, "label", f"{key}.label", default=name),
                    initial=self.expr(body.get("initial", 0), f"{key}.initial"),
                    utility=self.expr(body.get("utility", 0), f"{key}.utility"),
                    costs=tuple((k, self.expr(v, f"{key}.costs.{k}")) for k, v in costs.items()),
                    dead=dead,
                    tunnel=tunnel,
                )
            )
        return tuple(out)

    def read_strategies(self) -> tuple[Strategy, ...]:
        raw = self.doc.get("strategies")
        if not isinstance(raw, list) or not raw:
            raise self.error("strategies", "must be a list of [[strategies]] tables, at least one")
        out = []
        for i, body in enumerate(raw):
            key = f"strategies[{i}]"
            if not isinstance(body, dict):
                raise self.error(key, "must be a table")
            allowed = {"name", "label", "values", "one_off_costs"}
            for k in body:
                if k not in allowed:
                    raise self.error(f"{key}.{k}", f"is not a strategy field; allowed: {', '.join(sorted(allowed))}")
            name = self.string(body, "name", f"{key}.name")
            key = f"strategies.{name}"
            values = body.get("values", {})
            one_off = body.get("one_off_costs", {})
            if not isinstance(values, dict):
                raise self.error(f"{key}.values", "must be a table of name = expression")
            if not isinstance(one_off, dict):
                raise self.error(f"{key}.one_off_costs", "must be a table of name = expression")
            out.append(
                Strategy(
                    name=name,
                    label=self.string(body, "label", f"{key}.label", default=name),
                    values=tuple((k, self.expr(v, f"{key}.values.{k}")) for k, v in values.items()),
                    one_off_costs=tuple((k, self.expr(v, f"{key}.one_off_costs.{k}")) for k, v in one_off.items()),
                )
            )
        return tuple(out)

    def read_transitions(self, state_names: set[str]) -> tuple[tuple[str, tuple[tuple[str, Expression], ...]], ...]:
        table = self.table(self.doc, "transitions", "transitions")
        out = []
        for frm, row in table.items():
            if not isinstance(row, dict):
                raise self.error(f"transitions.{frm}", "must be a table of destination state = probability")
            out.append((frm, tuple((to, self.expr(v, f"transitions.{frm}.{to}")) for to, v in row.items())))
        return tuple(out)

    def _fields(self, body: Mapping[str, Any], key: str, allowed: set[str], what: str) -> None:
        for k in body:
            if k not in allowed:
                raise self.error(f"{key}.{k}", f"is not a field of {what}; allowed: {', '.join(sorted(allowed))}")

    def _source(self, body: Mapping[str, Any], key: str) -> tuple[str, bool]:
        source = body.get("source")
        if not isinstance(source, str) or not source.strip():
            raise self.error(
                f"{key}.source",
                "is missing; every number needs a source (a citation with its URL, or 'assumption: why' with "
                "assumption = true)",
            )
        assumption = body.get("assumption", False)
        if not isinstance(assumption, bool):
            raise self.error(f"{key}.assumption", "must be true or false")
        return source.strip(), assumption

    def _names(self, raw: object, key: str, *, at_least: int) -> tuple[str, ...]:
        if (
            not isinstance(raw, list)
            or len(raw) < at_least
            or not all(isinstance(n, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in raw)
        ):
            raise self.error(key, f"must be a list of at least {at_least} parameter names (letters, digits and _)")
        if len(set(raw)) != len(raw):
            dup = next(n for n in raw if raw.count(n) > 1)
            raise self.error(key, f"names {dup!r} twice; allowed: each parameter once")
        return tuple(raw)

    def read_dirichlet(self) -> tuple[DirichletGroup, ...]:
        """[dirichlet.NAME] with parameters = [...], alphas = [...], source (and assumption, description)."""
        table = self.table(self.doc, "dirichlet", "dirichlet", required=False)
        out = []
        for name, body in table.items():
            key = f"dirichlet.{name}"
            if not isinstance(body, dict):
                raise self.error(key, "must be a table with parameters, alphas and source")
            self._fields(
                body, key, {"parameters", "alphas", "source", "assumption", "description"}, "a Dirichlet group"
            )
            names = self._names(body.get("parameters"), f"{key}.parameters", at_least=2)
            alphas = body.get("alphas")
            if (
                not isinstance(alphas, list)
                or len(alphas) != len(names)
                or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in alphas)
            ):
                raise self.error(
                    f"{key}.alphas",
                    f"must be a list of {len(names)} numbers, one per parameter (e.g. the counts of each move)",
                )
            for i, a in enumerate(alphas):
                if not (math.isfinite(a) and a > 0):
                    raise self.error(f"{key}.alphas", f"entry {i + 1} is {a}; a Dirichlet needs every alpha > 0")
            source, assumption = self._source(body, key)
            out.append(
                DirichletGroup(
                    name=name,
                    parameters=names,
                    alphas=tuple(float(a) for a in alphas),
                    source=source,
                    assumption=assumption,
                    description=self.string(body, "description", f"{key}.description", default=""),
                )
            )
        return tuple(out)

    def read_correlations(self) -> tuple[Correlation, ...]:
        """[[correlations]] with parameters = [...] and matrix = [[...], ...] (or rho for two), and a source."""
        raw = self.doc.get("correlations", [])
        if not isinstance(raw, list):
            raise self.error("correlations", "must be a list of [[correlations]] tables")
        out = []
        for i, body in enumerate(raw):
            key = f"correlations[{i}]"
            if not isinstance(body, dict):
                raise self.error(key, "must be a table with parameters, matrix (or rho) and source")
            self._fields(body, key, {"parameters", "matrix", "rho", "source"}, "a correlation")
            names = self._names(body.get("parameters"), f"{key}.parameters", at_least=2)
            k = len(names)
            if ("matrix" in body) == ("rho" in body):
                raise self.error(
                    key, "needs exactly one of matrix (a k x k correlation matrix) or rho (for two parameters)"
                )
            if "rho" in body:
                rho = self.number(body, "rho", f"{key}.rho", low=-1, high=1)
                if k != 2:
                    raise self.error(f"{key}.rho", f"is for two parameters, not {k}; give a {k} x {k} matrix instead")
                matrix: tuple[tuple[float, ...], ...] = ((1.0, rho), (rho, 1.0))
            else:
                rows = body["matrix"]
                if (
                    not isinstance(rows, list)
                    or len(rows) != k
                    or not all(isinstance(r, list) and len(r) == k for r in rows)
                    or not all(isinstance(v, int | float) and not isinstance(v, bool) for r in rows for v in r)
                ):
                    raise self.error(f"{key}.matrix", f"must be a {k} x {k} list of lists of numbers")
                matrix = tuple(tuple(float(v) for v in r) for r in rows)
            source = body.get("source", "")
            if not isinstance(source, str) or not source.strip():
                raise self.error(
                    f"{key}.source", "is missing; a correlation needs a source (a citation or 'assumption: why')"
                )
            out.append(Correlation(parameters=names, matrix=matrix, source=source.strip()))
        return tuple(out)

    def read_transition_values(self, section: str, kind: str, field_name: str) -> tuple[TransitionValue, ...]:
        """[[transition_costs]] (from, to, name, amount) or [[transition_utilities]] (from, to, name, qalys)."""
        raw = self.doc.get(section, [])
        if not isinstance(raw, list):
            raise self.error(section, f"must be a list of [[{section}]] tables")
        out = []
        for i, body in enumerate(raw):
            key = f"{section}[{i}]"
            if not isinstance(body, dict):
                raise self.error(key, f"must be a table with from, to, name and {field_name}")
            self._fields(body, key, {"from", "to", "name", field_name, "description"}, f"[[{section}]]")
            name = self.string(body, "name", f"{key}.name", default=kind if kind == "utility" else None)
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise self.error(f"{key}.name", f"is {name!r}; allowed: letters, digits and _")
            if field_name not in body:
                raise self.error(f"{key}.{field_name}", "is missing; it must be a number or an expression in quotes")
            out.append(
                TransitionValue(
                    kind=kind,
                    name=name,
                    source=self.string(body, "from", f"{key}.from"),
                    target=self.string(body, "to", f"{key}.to"),
                    value=self.expr(body[field_name], f"{key}.{field_name}"),
                )
            )
        return tuple(out)

    def read_life_table(self) -> LifeTable | None:
        lt = self.doc.get("life_table")
        if lt is None:
            return None
        if not isinstance(lt, dict):
            raise self.error("life_table", "must be a table with ages, qx and source")
        ages, qx = lt.get("ages"), lt.get("qx")
        if not isinstance(ages, list) or not isinstance(qx, list) or len(ages) != len(qx) or len(ages) < 2:
            raise self.error("life_table.qx", "ages and qx must be lists of numbers of the same length (at least 2)")
        for name, seq in (("ages", ages), ("qx", qx)):
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in seq):
                raise self.error(f"life_table.{name}", "must hold only numbers")
        if any(b <= a for a, b in itertools.pairwise(ages)):
            raise self.error("life_table.ages", "must increase strictly")
        for i, q in enumerate(qx):
            if not 0 <= q <= 1:
                raise self.error("life_table.qx", f"entry {i + 1} is {q}, a probability of death must be from 0 to 1")
        source = lt.get("source")
        if not isinstance(source, str) or not source.strip():
            raise self.error("life_table.source", "is missing; a life table needs a source")
        assumption = lt.get("assumption", False)
        if not isinstance(assumption, bool):
            raise self.error("life_table.assumption", "must be true or false")
        return LifeTable(tuple(float(a) for a in ages), tuple(float(q) for q in qx), source, assumption)


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


# --------------------------------------------------------------------------------------------------- validation
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
            if n in params or n in BUILTIN_NAMES or n in _FUNCTIONS:
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
    strategy_values: set[str] = set()
    for s in spec.strategies:
        for vname, e in s.values:
            if vname in params or vname in BUILTIN_NAMES:
                raise err(
                    f"strategies.{s.name}.values.{vname}",
                    "has the name of a parameter or built-in; choose another name",
                )
            bad = e.names - known
            if bad:
                raise err(
                    f"strategies.{s.name}.values.{vname}",
                    f"uses unknown name {sorted(bad)[0]!r}; allowed: parameters, cycle, age, qx",
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
                key, f"uses unknown name {sorted(bad)[0]!r}; allowed: parameters, strategy values, cycle, age, qx"
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


def _base_number(e: Expression, ns: Mapping[str, Any], *, file: str, key: str, where: str) -> float:
    """Evaluate at the base values, turning any arithmetic failure into a message naming the key."""
    try:
        with np.errstate(all="ignore"):
            v = e.evaluate(ns)
        arr = np.asarray(v, dtype=np.float64)
        if arr.size != 1:
            raise ValueError("it gives several numbers")
        out = float(arr.reshape(-1)[0])
    except (ArithmeticError, TypeError, ValueError, NameError, KeyError) as exc:
        raise ModelFileError(
            f"{e.text!r} cannot be evaluated {where} at the base values ({exc}); "
            "check the arithmetic and the functions' arguments",
            file=file,
            key=key,
        ) from None
    if not math.isfinite(out):
        raise ModelFileError(
            f"{e.text!r} is {out} {where} at the base values; it must be a finite number", file=file, key=key
        )
    return out


def _base_namespace(spec: ModelSpec, strategy: Strategy, base: Mapping[str, Any], cycle: int) -> dict[str, Any]:
    where = f"in cycle {cycle} for strategy {strategy.name}"
    ns = namespace_for(spec, strategy, base, cycle, evaluate_values=False)
    for name, e in strategy.values:
        ns[name] = _base_number(e, ns, file=spec.file, key=f"strategies.{strategy.name}.values.{name}", where=where)
    return ns


def _check_numbers(spec: ModelSpec) -> None:
    """Evaluate every expression at the base values in every cycle for every strategy: shares of the cohort from 0
    to 1 summing to 1, each transition row a probability vector, every cost and utility a finite number."""
    f = spec.file
    base: dict[str, Any] = spec.base_values()
    for strategy in spec.strategies:
        ns0 = _base_namespace(spec, strategy, base, 0)
        where0 = f"at the start for strategy {strategy.name}"
        init = []
        for st in spec.states:
            key = f"states.{st.name}.initial"
            v = _base_number(st.initial, ns0, file=f, key=key, where=where0)
            if not -ROW_TOLERANCE <= v <= 1 + ROW_TOLERANCE:
                raise ModelFileError(
                    f"is {v:.6g} at the base values; a share of the cohort must be from 0 to 1", file=f, key=key
                )
            init.append(v)
        if abs(sum(init) - 1) > 1e-6:
            raise ModelFileError(f"the initial shares sum to {sum(init):.6g}; they must sum to 1", file=f, key="states")
        for c, e in strategy.one_off_costs:
            _base_number(e, ns0, file=f, key=f"strategies.{strategy.name}.one_off_costs.{c}", where=where0)
        for cycle in range(1, spec.cycles + 1):
            where = f"in cycle {cycle} for strategy {strategy.name}"
            ns = _base_namespace(spec, strategy, base, cycle)
            for tv in spec.transition_values:
                field_name = "amount" if tv.kind == "cost" else "qalys"
                _base_number(tv.value, ns, file=f, key=f"{transition_value_key(spec, tv)}.{field_name}", where=where)
            for st in spec.states:
                _base_number(st.utility, ns, file=f, key=f"states.{st.name}.utility", where=where)
                for c, e in st.costs:
                    _base_number(e, ns, file=f, key=f"states.{st.name}.costs.{c}", where=where)
            for frm, row in spec.transitions:
                total = 0.0
                has_c = False
                for to, e in row:
                    if e.text == COMPLEMENT:
                        has_c = True
                        continue
                    key = f"transitions.{frm}.{to}"
                    v = _base_number(e, ns, file=f, key=key, where=where)
                    if not -ROW_TOLERANCE <= v <= 1 + ROW_TOLERANCE:
                        raise ModelFileError(
                            f"is {v:.6g} {where} at the base values; a probability must be from 0 to 1", file=f, key=key
                        )
                    total += v
                if has_c and total > 1 + ROW_TOLERANCE:
                    raise ModelFileError(
                        f'the other entries sum to {total:.6g} {where}, so "C" would be negative; '
                        "they must sum to at most 1",
                        file=f,
                        key=f"transitions.{frm}",
                    )
                if not has_c and abs(total - 1) > 1e-6:
                    raise ModelFileError(
                        f'sums to {total:.6g} {where}; a row must sum to 1 (use "C" for the complement)',
                        file=f,
                        key=f"transitions.{frm}",
                    )


def namespace_for(
    spec: ModelSpec, strategy: Strategy, params: Mapping[str, Any], cycle: int, *, evaluate_values: bool = True
) -> dict[str, Any]:
    """The names an expression sees in `cycle` (1-based; age at the cycle's start; 0 for the start) for a strategy."""
    age = spec.start_age + max(cycle - 1, 0) * spec.cycle_length_years
    ns: dict[str, Any] = dict(params)
    ns["cycle"] = cycle
    ns["age"] = age
    if spec.life_table is not None:
        ns["qx"] = float(np.asarray(spec.life_table.at(age)))
    if evaluate_values:
        for name, e in strategy.values:
            ns[name] = e.evaluate(ns)
    return ns


# --------------------------------------------------------------------------------------------------- to the engine
class _Inline(ast.NodeTransformer):
    """Replace strategy values by their expressions, `qx` by the life table as an expression of age, and the
    1-based `cycle` of model files by the engine's 0-based ``cycle + 1``."""

    def __init__(self, values: Mapping[str, ast.expr], qx: ast.expr | None) -> None:
        self.values = values
        self.qx = qx

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.values:
            inlined: ast.AST = self.visit(_copy(self.values[node.id]))
            return inlined
        if node.id == "qx" and self.qx is not None:
            return _copy(self.qx)
        if node.id == "cycle":
            return ast.BinOp(left=ast.Name(id="cycle", ctx=ast.Load()), op=ast.Add(), right=ast.Constant(value=1))
        return node


def _copy(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


def _life_table_expression(table: LifeTable) -> ast.expr:
    """Linear interpolation in the table (clamped at both ends), as nested where() over `age`."""
    ages, qx = table.ages, table.qx
    text = repr(qx[-1])
    for i in range(len(ages) - 2, -1, -1):
        a0, a1, q0, q1 = ages[i], ages[i + 1], qx[i], qx[i + 1]
        segment = f"({q0!r} + ({q1 - q0!r}) * (age - {a0!r}) / {a1 - a0!r})"
        text = f"where(age < {a1!r}, {segment}, {text})"
    text = f"where(age < {ages[0]!r}, {qx[0]!r}, {text})"
    return ast.parse(text, mode="eval").body


def engine_distribution(p: Parameter) -> Any:
    """The engine's `distributions.Distribution` for a model-file parameter (fixed at its base value if fixed)."""
    from carefund.economics import distributions as d

    q = dict(p.distribution.params)
    kind = p.distribution.kind
    if kind == "beta":
        return d.beta(q["alpha"], q["beta"])
    if kind == "gamma":
        return d.gamma(q["shape"], q["scale"])
    if kind == "lognormal":
        return d.lognormal(q["meanlog"], q["sdlog"])
    if kind == "normal":
        return d.normal(q["mean"], q["sd"])
    if kind == "uniform":
        return d.uniform(q["low"], q["high"])
    return d.fixed(p.value)


def _initial_expression(spec: ModelSpec, e: Expression) -> float | str:
    """An initial share for the engine: a number, or an expression of parameters with ``cycle``, ``age`` and ``qx``
    fixed at the start (the engine's starting shares may use parameters only)."""
    if e.constant is not None:
        return e.constant
    fixed: dict[str, ast.expr] = {"cycle": ast.Constant(value=0), "age": ast.Constant(value=spec.start_age)}
    if spec.life_table is not None:
        fixed["qx"] = ast.Constant(value=float(np.asarray(spec.life_table.at(spec.start_age))))

    class _Fix(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return _copy(fixed[node.id]) if node.id in fixed else node

    tree = _Fix().visit(ast.parse(e.text, mode="eval"))
    return ast.unparse(ast.fix_missing_locations(tree))


def to_engine_model(spec: ModelSpec) -> Any:
    """The same model as the engine's `carefund.economics.model.Model`: strategy values inlined per strategy, the
    life table inlined as an expression of age, cycle shifted to 0-based, initial shares as expressions of
    parameters (so the PSA draws the starting mix), Dirichlet groups, correlations and transition costs and
    utilities passed through. Every model-file run goes through this and the engine."""
    from carefund.economics import model as m

    qx = _life_table_expression(spec.life_table) if spec.life_table is not None else None
    transitions: list[Any] = []
    state_costs: list[Any] = []
    utilities: list[Any] = []
    one_offs: list[Any] = []
    transition_costs: list[Any] = []
    transition_utilities: list[Any] = []
    for strategy in spec.strategies:
        values = {n: ast.parse(e.text, mode="eval").body for n, e in strategy.values}
        inline = _Inline(values, qx)

        def convert(e: Expression, inline: _Inline = inline) -> m.Value:
            if e.constant is not None:
                return e.constant
            if e.text == COMPLEMENT:
                return m.COMPLEMENT
            tree = inline.visit(ast.parse(e.text, mode="eval"))
            return ast.unparse(ast.fix_missing_locations(tree))

        for frm, row in spec.transitions:
            for to, e in row:
                transitions.append(m.Transition(frm, to, convert(e), strategy.name))
        for st in spec.states:
            utilities.append(m.StateUtility(st.name, convert(st.utility), strategy.name))
            for cname, e in st.costs:
                state_costs.append(m.StateCost(cname, st.name, convert(e), strategy.name))
        for cname, e in strategy.one_off_costs:
            one_offs.append(m.OneOffCost(cname, convert(e), strategy.name))
        for tv in spec.transition_values:
            if tv.kind == "cost":
                transition_costs.append(
                    m.TransitionCost(tv.name, tv.source, tv.target, convert(tv.value), strategy.name)
                )
            else:
                transition_utilities.append(m.TransitionUtility(tv.source, tv.target, convert(tv.value), strategy.name))
    initial = tuple((st.name, _initial_expression(spec, st.initial)) for st in spec.states)
    c = spec.conventions
    return m.Model(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        states=tuple(m.State(s.name, s.label, s.dead) for s in spec.states),
        strategies=tuple(m.Strategy(s.name, s.label) for s in spec.strategies),
        transitions=tuple(transitions),
        conventions=m.Conventions(
            counting=c.counting,  # type: ignore[arg-type]
            discount_costs=c.discount_costs,
            discount_effects=c.discount_effects,
            discounting=c.discounting,  # type: ignore[arg-type]
            discount_first_cycle=c.discount_first_cycle,
            cycle_length_years=spec.cycle_length_years,
        ),
        cycles=spec.cycles,
        parameters=tuple(
            m.Parameter(p.name, p.value, engine_distribution(p), source=p.source, description=p.description)
            for p in spec.parameters
        ),
        dirichlet=tuple(
            m.DirichletGroup(g.parameters, g.alphas, source=g.source, description=g.description) for g in spec.dirichlet
        ),
        correlations=tuple(m.Correlation(c.parameters, c.matrix) for c in spec.correlations),
        state_costs=tuple(state_costs),
        state_utilities=tuple(utilities),
        transition_costs=tuple(transition_costs),
        transition_utilities=tuple(transition_utilities),
        one_off_costs=tuple(one_offs),
        initial=initial,
        start_age=spec.start_age,
        thresholds=c.thresholds,
    )
