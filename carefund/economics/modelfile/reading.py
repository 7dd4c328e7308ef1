"""Reading a model file: TOML into a `ModelSpec`, every refusal naming the file, line and dotted key."""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carefund.economics.modelfile.spec import (
    BUILTIN_NAMES,
    FUNCTIONS,
    MODELS_DIR,
    Conventions,
    Correlation,
    Derived,
    DirichletGroup,
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

if TYPE_CHECKING:
    from carefund.economics.modelfile import schema

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
        entries = self.doc.get(parts[0])
        if len(parts) > 1 and parts[0] in ("states", "strategies") and isinstance(entries, list):
            # states.NAME...: the [[states]] table with that name
            index = next((i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("name") == parts[1]), None)
            if index is not None:
                parts = [f"{parts[0]}[{index}]", *parts[2:]]
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

    def expr(self, raw: object, key: str) -> Expression:
        try:
            return compile_expression(raw, file=self.file, key=key)
        except ModelFileError as exc:
            raise self.error(key, exc.message) from None

    def read(self) -> ModelSpec:
        from carefund.economics.modelfile.schema import check_document  # pydantic: only once a file is read

        checked = check_document(self.doc)
        if isinstance(checked, tuple):
            raise self.error(*checked)
        doc = checked
        model = doc.model
        conventions = self.read_conventions(doc.conventions)
        params = self.read_parameters(doc.parameters)
        states = self.read_states(doc.states)
        strategies = self.read_strategies(doc.strategies)
        transitions = tuple(
            (frm, tuple((to, self.expr(v, f"transitions.{frm}.{to}")) for to, v in row.items()))
            for frm, row in doc.transitions.items()
        )
        transition_values = self.read_transition_values(
            "transition_costs", "cost", [(t.source, t.target, t.name, t.amount, t.timing) for t in doc.transition_costs]
        ) + self.read_transition_values(
            "transition_utilities",
            "utility",
            [(t.source, t.target, t.name, t.qalys, t.timing) for t in doc.transition_utilities],
        )
        spec = ModelSpec(
            name=model.name,
            title=model.title,
            description=model.description,
            perspective=model.perspective,
            currency=model.currency,
            cycles=model.cycles,
            cycle_length_years=model.cycle_length_years,
            start_age=0.0 if model.start_age is None else model.start_age,
            start_age_source=model.start_age_source,
            states=states,
            strategies=strategies,
            transitions=transitions,
            parameters=params,
            conventions=conventions,
            life_table=self.read_life_table(doc.life_table, model.sex),
            file=self.file,
            dirichlet=self.read_dirichlet(doc.dirichlet),
            correlations=self.read_correlations(doc.correlations),
            transition_values=transition_values,
            derived=self.read_derived(doc.derived),
            tables=self.read_tables(doc.tables, model.sex),
            sex=model.sex,
        )
        if model.start_age is not None and not spec.start_age_source.strip():
            raise self.error(
                "model.start_age_source", "is missing; every number needs a source (a citation or 'assumption: why')"
            )
        try:
            spec = expand_tunnels(spec)
            validate_spec(spec)
        except ModelFileError as exc:
            raise self.error(exc.key, exc.message) from None
        return spec

    def read_conventions(self, c: schema.ConventionsTable) -> Conventions:
        return Conventions(
            counting=c.counting,
            discount_costs=c.discount_costs,
            discount_effects=c.discount_effects,
            discounting=c.discounting,
            discount_first_cycle=c.discount_first_cycle,
            thresholds=tuple(float(t) for t in c.thresholds),
            counting_costs=c.counting_costs or "",
            counting_effects=c.counting_effects or "",
            counting_life_years=c.counting_life_years or "",
            one_off_timing=c.one_off_timing,
        )

    def read_parameters(self, table: Mapping[str, schema.ParameterTable]) -> tuple[Parameter, ...]:
        out = []
        for name, body in table.items():
            key = f"parameters.{name}"
            if not _IDENTIFIER.fullmatch(name) or name in BUILTIN_NAMES or name in FUNCTIONS:
                raise self.error(
                    key,
                    "is not an allowed parameter name; use letters, digits and _ "
                    "and not cycle, age, qx, time or a function name",
                )
            if not body.source.strip():
                raise self.error(
                    f"{key}.source",
                    "is missing; every parameter needs a source "
                    "(a citation with its URL, or 'assumption: why' with assumption = true)",
                )
            try:
                given = body.distribution
                dist = make_distribution(given.type, given.numbers) if given else make_distribution("fixed", {})
            except ModelFileError as exc:
                dkey = f"{key}.distribution"
                raise self.error(f"{dkey}.{exc.key}" if exc.key else dkey, exc.message) from None
            out.append(
                Parameter(
                    name=name,
                    value=float(body.value),
                    distribution=dist,
                    source=body.source.strip(),
                    assumption=body.assumption,
                    unit=body.unit,
                    description=body.description,
                )
            )
        return tuple(out)

    def read_states(self, raw: list[schema.StateTable]) -> tuple[State, ...]:
        out = []
        for body in raw:
            key = f"states.{body.name}"
            if body.tunnel is not None and body.dead:
                raise self.error(f"{key}.tunnel", "is set on the dead state; allowed: on living states only")
            out.append(
                State(
                    name=body.name,
                    label=body.name if body.label is None else body.label,
                    initial=self.expr(body.initial, f"{key}.initial"),
                    utility=self.expr(body.utility, f"{key}.utility"),
                    costs=tuple((k, self.expr(v, f"{key}.costs.{k}")) for k, v in body.costs.items()),
                    dead=body.dead,
                    tunnel=body.tunnel or 0,
                )
            )
        return tuple(out)

    def read_strategies(self, raw: list[schema.StrategyTable]) -> tuple[Strategy, ...]:
        out = []
        for body in raw:
            key = f"strategies.{body.name}"
            out.append(
                Strategy(
                    name=body.name,
                    label=body.name if body.label is None else body.label,
                    values=tuple((k, self.expr(v, f"{key}.values.{k}")) for k, v in body.values.items()),
                    one_off_costs=tuple(
                        (k, self.expr(v, f"{key}.one_off_costs.{k}")) for k, v in body.one_off_costs.items()
                    ),
                )
            )
        return tuple(out)

    def _source(self, source: str, key: str) -> str:
        if not source.strip():
            raise self.error(
                f"{key}.source",
                "is missing; every number needs a source (a citation with its URL, or 'assumption: why' with "
                "assumption = true)",
            )
        return source.strip()

    def _names(self, raw: list[str], key: str, *, at_least: int) -> tuple[str, ...]:
        if len(raw) < at_least or not all(_IDENTIFIER.fullmatch(n) for n in raw):
            raise self.error(key, f"must be a list of at least {at_least} parameter names (letters, digits and _)")
        if len(set(raw)) != len(raw):
            dup = next(n for n in raw if raw.count(n) > 1)
            raise self.error(key, f"names {dup!r} twice; allowed: each parameter once")
        return tuple(raw)

    def read_dirichlet(self, table: Mapping[str, schema.DirichletTable]) -> tuple[DirichletGroup, ...]:
        """[dirichlet.NAME] with parameters = [...], alphas = [...], source (and assumption, description)."""
        out = []
        for name, body in table.items():
            key = f"dirichlet.{name}"
            names = self._names(body.parameters, f"{key}.parameters", at_least=2)
            if len(body.alphas) != len(names):
                raise self.error(
                    f"{key}.alphas",
                    f"must be a list of {len(names)} numbers, one per parameter (e.g. the counts of each move)",
                )
            for i, a in enumerate(body.alphas):
                if not a > 0:
                    raise self.error(f"{key}.alphas", f"entry {i + 1} is {a:g}; a Dirichlet needs every alpha > 0")
            out.append(
                DirichletGroup(
                    name=name,
                    parameters=names,
                    alphas=tuple(float(a) for a in body.alphas),
                    source=self._source(body.source, key),
                    assumption=body.assumption,
                    description=body.description,
                )
            )
        return tuple(out)

    def read_correlations(self, raw: list[schema.CorrelationTable]) -> tuple[Correlation, ...]:
        """[[correlations]] with parameters = [...] and matrix = [[...], ...] (or rho for two), and a source."""
        out = []
        for i, body in enumerate(raw):
            key = f"correlations[{i}]"
            names = self._names(body.parameters, f"{key}.parameters", at_least=2)
            k = len(names)
            if (body.matrix is None) == (body.rho is None):
                raise self.error(
                    key, "needs exactly one of matrix (a k x k correlation matrix) or rho (for two parameters)"
                )
            if body.rho is not None:
                if k != 2:
                    raise self.error(f"{key}.rho", f"is for two parameters, not {k}; give a {k} x {k} matrix instead")
                matrix: tuple[tuple[float, ...], ...] = ((1.0, body.rho), (body.rho, 1.0))
            else:
                rows = body.matrix or []
                if len(rows) != k or not all(len(r) == k for r in rows):
                    raise self.error(f"{key}.matrix", f"must be a {k} x {k} list of lists of numbers")
                matrix = tuple(tuple(float(v) for v in r) for r in rows)
            if not body.source.strip():
                raise self.error(
                    f"{key}.source", "is missing; a correlation needs a source (a citation or 'assumption: why')"
                )
            out.append(Correlation(parameters=names, matrix=matrix, source=body.source.strip()))
        return tuple(out)

    def read_transition_values(
        self, section: str, kind: str, rows: list[tuple[str, str, str, object, str]]
    ) -> tuple[TransitionValue, ...]:
        """[[transition_costs]] (from, to, name, amount) or [[transition_utilities]] (from, to, name, qalys)."""
        field_name = "amount" if kind == "cost" else "qalys"
        out = []
        for i, (source, target, name, value, timing) in enumerate(rows):
            key = f"{section}[{i}]"
            if not _IDENTIFIER.fullmatch(name):
                raise self.error(f"{key}.name", f"is {name!r}; allowed: letters, digits and _")
            out.append(
                TransitionValue(
                    kind=kind,
                    name=name,
                    source=source,
                    target=target,
                    value=self.expr(value, f"{key}.{field_name}"),
                    timing=timing,
                )
            )
        return tuple(out)

    def _ages(self, raw: list[float], key: str) -> tuple[float, ...]:
        if not raw:
            raise self.error(key, "must be a list of ages (numbers), at least one")
        if any(b <= a for a, b in itertools.pairwise(raw)):
            raise self.error(key, "must increase strictly")
        return tuple(float(a) for a in raw)

    def _column(self, columns: Mapping[str, list[float] | None], key: str, n: int) -> tuple[str, list[float]]:
        """The one column of `columns` given, as n numbers."""
        present = [c for c, v in columns.items() if v is not None]
        if len(present) != 1:
            raise self.error(key, f"needs exactly one of: {', '.join(columns)}")
        values = columns[present[0]] or []
        if len(values) != n:
            raise self.error(f"{key}.{present[0]}", f"must be a list of {n} numbers, one per age")
        return present[0], [float(v) for v in values]

    def read_life_table(self, lt: schema.LifeTableTable | None, sex: str) -> LifeTable | None:
        """[life_table]: ages and one column of annual probabilities of death (qx) or death rates (mx, converted
        once: q = 1 - exp(-m)); either may be by sex (qx_female and qx_male, or mx_...), the model's sex choosing."""
        if lt is None:
            return None
        given = lt.columns()
        by_sex = any(k.endswith(("_female", "_male")) for k in given)
        if by_sex and not sex:
            raise self.error("model.sex", "is missing; the life table is by sex, so say whose it is: female or male")
        names = (f"qx_{sex}", f"mx_{sex}") if by_sex else ("qx", "mx")
        ages = self._ages(lt.ages, "life_table.ages")
        column, values = self._column({n: given.get(n) for n in names}, "life_table", len(ages))
        key = f"life_table.{column}"
        if column.startswith("mx"):
            bad = next((i for i, m in enumerate(values) if m < 0), None)
            if bad is not None:
                raise self.error(key, f"entry {bad + 1} is {values[bad]}; a death rate must be 0 or more")
            values = [-math.expm1(-m) for m in values]
        for i, q in enumerate(values):
            if not 0 <= q <= 1:
                raise self.error(key, f"entry {i + 1} is {q}, a probability of death must be from 0 to 1")
        return LifeTable(ages, tuple(values), self._source(lt.source, "life_table"), lt.assumption)

    def read_tables(self, table: Mapping[str, schema.LookupTable], sex: str) -> tuple[Table, ...]:
        """[tables.NAME]: ages (where each band starts) and values, or female and male (the model's sex choosing);
        a step function of the cohort's age."""
        out = []
        for name, body in table.items():
            key = f"tables.{name}"
            if not _IDENTIFIER.fullmatch(name) or name in BUILTIN_NAMES or name in FUNCTIONS:
                raise self.error(key, "is not an allowed table name; use letters, digits and _, not a built-in name")
            ages = self._ages(body.ages, f"{key}.ages")
            by_sex = body.female is not None or body.male is not None
            if by_sex and not sex:
                raise self.error("model.sex", f"is missing; {key} is by sex, so say whose it is: female or male")
            column = {sex: getattr(body, sex)} if by_sex else {"values": body.values}
            _, values = self._column(column, key, len(ages))
            out.append(Table(name, ages, tuple(values), self._source(body.source, key), body.assumption))
        return tuple(out)

    def read_derived(self, table: Mapping[str, object]) -> tuple[Derived, ...]:
        """[derived]: NAME = "expression of parameters", computed after each draw, in the order written."""
        out = []
        for name, raw in table.items():
            key = f"derived.{name}"
            if not _IDENTIFIER.fullmatch(name) or name in BUILTIN_NAMES or name in FUNCTIONS:
                raise self.error(key, "is not an allowed name; use letters, digits and _, not a built-in name")
            out.append(Derived(name, self.expr(raw, key)))
        return tuple(out)
