"""Reading a model file: TOML into a `ModelSpec`, every refusal naming the file, line and dotted key."""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from carefund.economics.modelfile.spec import (
    BUILTIN_NAMES,
    COUNTING_METHODS,
    DISCOUNTING_METHODS,
    DISTRIBUTION_TYPES,
    FUNCTIONS,
    MAX_TUNNEL,
    MODELS_DIR,
    Conventions,
    Correlation,
    Derived,
    DirichletGroup,
    Distribution,
    Expression,
    LifeTable,
    ModelFileError,
    ModelSpec,
    Parameter,
    State,
    Strategy,
    Table,
    TransitionValue,
    compile_expression,
    make_distribution,
)
from carefund.economics.modelfile.tunnels import expand_tunnels
from carefund.economics.modelfile.validation import validate_spec

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SEXES = ("female", "male")


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
            "derived",
            "tables",
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
        dirichlet = self.read_dirichlet()
        correlations = self.read_correlations()
        transition_values = self.read_transition_values("transition_costs", "cost", "amount") + (
            self.read_transition_values("transition_utilities", "utility", "qalys")
        )
        sex = self.string(model, "sex", "model.sex", default="")
        if sex and sex not in SEXES:
            raise self.error("model.sex", f"is {sex!r}; allowed: {', '.join(SEXES)}")
        life_table = self.read_life_table(sex)
        tables = self.read_tables(sex)
        derived = self.read_derived()
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
            derived=derived,
            tables=tables,
            sex=sex,
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
            "counting_costs",
            "counting_effects",
            "counting_life_years",
            "one_off_timing",
        }
        for k in c:
            if k not in allowed:
                raise self.error(f"conventions.{k}", f"is not a convention; allowed: {', '.join(sorted(allowed))}")
        counting = self.string(c, "counting", "conventions.counting")
        own: dict[str, str] = {}
        for name in ("counting", "counting_costs", "counting_effects", "counting_life_years"):
            rule = self.string(c, name, f"conventions.{name}", default=counting)
            if rule not in COUNTING_METHODS:
                raise self.error(f"conventions.{name}", f"is {rule!r}; allowed: {', '.join(COUNTING_METHODS)}")
            own[name] = rule if name in c else ""
        one_off_timing = self.string(c, "one_off_timing", "conventions.one_off_timing", default="first_cycle")
        if one_off_timing not in ("first_cycle", "time_zero"):
            raise self.error("conventions.one_off_timing", f"is {one_off_timing!r}; allowed: first_cycle, time_zero")
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
            counting_costs=own["counting_costs"],
            counting_effects=own["counting_effects"],
            counting_life_years=own["counting_life_years"],
            one_off_timing=one_off_timing,
        )

    def read_parameters(self) -> tuple[Parameter, ...]:
        table = self.table(self.doc, "parameters", "parameters", required=False)
        out = []
        for name, body in table.items():
            key = f"parameters.{name}"
            reserved = name in BUILTIN_NAMES or name in FUNCTIONS
            if not _IDENTIFIER.fullmatch(name) or reserved:
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
            or not all(isinstance(n, str) and _IDENTIFIER.fullmatch(n) for n in raw)
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
            self._fields(body, key, {"from", "to", "name", field_name, "description", "timing"}, f"[[{section}]]")
            timing = self.string(body, "timing", f"{key}.timing", default="cycle")
            if timing not in ("cycle", "end"):
                raise self.error(
                    f"{key}.timing",
                    f"is {timing!r}; allowed: cycle (discounted like the cycle of the move) or end (at its end)",
                )
            name = self.string(body, "name", f"{key}.name", default=kind if kind == "utility" else None)
            if not _IDENTIFIER.fullmatch(name):
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
                    timing=timing,
                )
            )
        return tuple(out)

    def _ages(self, raw: object, key: str) -> tuple[float, ...]:
        if not isinstance(raw, list) or len(raw) < 1:
            raise self.error(key, "must be a list of ages (numbers), at least one")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in raw):
            raise self.error(key, "must hold only numbers")
        if any(b <= a for a, b in itertools.pairwise(raw)):
            raise self.error(key, "must increase strictly")
        return tuple(float(a) for a in raw)

    def _column(self, body: Mapping[str, Any], names: tuple[str, ...], key: str, n: int) -> tuple[str, list[float]]:
        """The one column of `names` present in `body`, as n numbers."""
        present = [c for c in names if c in body]
        if len(present) != 1:
            raise self.error(key, f"needs exactly one of: {', '.join(names)}")
        raw = body[present[0]]
        if (
            not isinstance(raw, list)
            or len(raw) != n
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in raw)
        ):
            raise self.error(f"{key}.{present[0]}", f"must be a list of {n} numbers, one per age")
        return present[0], [float(v) for v in raw]

    def read_life_table(self, sex: str) -> LifeTable | None:
        """[life_table]: ages and one column of annual probabilities of death (qx) or death rates (mx, converted
        once: q = 1 - exp(-m)); either may be by sex (qx_female and qx_male, or mx_...), the model's sex choosing."""
        lt = self.doc.get("life_table")
        if lt is None:
            return None
        if not isinstance(lt, dict):
            raise self.error("life_table", "must be a table with ages, qx (or mx) and source")
        by_sex = any(k.endswith(("_female", "_male")) for k in lt)
        if by_sex and not sex:
            raise self.error("model.sex", "is missing; the life table is by sex, so say whose it is: female or male")
        columns = (f"qx_{sex}", f"mx_{sex}") if by_sex else ("qx", "mx")
        allowed = {"ages", "source", "assumption", "qx", "mx"} | {f"{c}_{s}" for c in ("qx", "mx") for s in SEXES}
        self._fields(lt, "life_table", allowed, "the life table")
        ages = self._ages(lt.get("ages"), "life_table.ages")
        column, values = self._column(lt, columns, "life_table", len(ages))
        key = f"life_table.{column}"
        if column.startswith("mx"):
            bad = next((i for i, m in enumerate(values) if m < 0), None)
            if bad is not None:
                raise self.error(key, f"entry {bad + 1} is {values[bad]}; a death rate must be 0 or more")
            values = [-math.expm1(-m) for m in values]
        for i, q in enumerate(values):
            if not 0 <= q <= 1:
                raise self.error(key, f"entry {i + 1} is {q}, a probability of death must be from 0 to 1")
        source, assumption = self._source(lt, "life_table")
        return LifeTable(ages, tuple(values), source, assumption)

    def read_tables(self, sex: str) -> tuple[Table, ...]:
        """[tables.NAME]: ages (where each band starts) and values, or female and male (the model's sex choosing);
        a step function of the cohort's age."""
        table = self.table(self.doc, "tables", "tables", required=False)
        out = []
        for name, body in table.items():
            key = f"tables.{name}"
            if not _IDENTIFIER.fullmatch(name) or name in BUILTIN_NAMES or name in FUNCTIONS:
                raise self.error(key, "is not an allowed table name; use letters, digits and _, not a built-in name")
            if not isinstance(body, dict):
                raise self.error(key, "must be a table with ages, values (or female and male) and source")
            self._fields(body, key, {"ages", "values", "female", "male", "source", "assumption", "description"}, key)
            ages = self._ages(body.get("ages"), f"{key}.ages")
            by_sex = "female" in body or "male" in body
            if by_sex and not sex:
                raise self.error("model.sex", f"is missing; {key} is by sex, so say whose it is: female or male")
            _, values = self._column(body, (sex,) if by_sex else ("values",), key, len(ages))
            source, assumption = self._source(body, key)
            out.append(Table(name, ages, tuple(values), source, assumption))
        return tuple(out)

    def read_derived(self) -> tuple[Derived, ...]:
        """[derived]: NAME = "expression of parameters", computed after each draw, in the order written."""
        table = self.table(self.doc, "derived", "derived", required=False)
        out = []
        for name, raw in table.items():
            key = f"derived.{name}"
            if not _IDENTIFIER.fullmatch(name) or name in BUILTIN_NAMES or name in FUNCTIONS:
                raise self.error(key, "is not an allowed name; use letters, digits and _, not a built-in name")
            out.append(Derived(name, self.expr(raw, key)))
        return tuple(out)
