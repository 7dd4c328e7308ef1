"""The STRUCTURE of a model file as pydantic models: which sections and keys exist, their types, which are required.

`reading.py` imports this module only when it reads a file (pydantic is not needed to run a model built in Python,
and `carefund economics run` pays its import only once it has a file to read). `check_document` validates the parsed
TOML and turns pydantic's first error into a `ModelFileError` in the house style: the dotted key (`states[1].dead`,
`parameters.p_die.distribution.scale`), then what is wrong and what is allowed ("must be true or false, not 'yes'",
"is not a state field; allowed: costs, dead, ..."). What the structure cannot say stays in `reading.py` and
`validation.py`: names that are identifiers, sources that are not blank, lists as long as another list, expressions,
references, rows that sum to one.

Every model forbids keys it does not know and is strict (no string-to-number or number-to-bool coercion); numbers
are finite. A field's `description` is what is allowed, in words, and is quoted in refusals.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from carefund.economics.modelfile.spec import (
    COUNTING_METHODS,
    DISCOUNTING_METHODS,
    DISTRIBUTION_TYPES,
    MAX_TUNNEL,
)

FiniteNumber = Annotated[float, Field(allow_inf_nan=False)]


def _type_name(value: object) -> str:
    return {
        dict: "a table",
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _expression(value: object) -> int | float | str:
    """A number or an expression in quotes (the expression itself is checked by the engine's parser later)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PydanticCustomError(
            "expression_type", "must be a number or an expression in quotes, not {kind}", {"kind": _type_name(value)}
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("expression_type", "must be a finite number, not {value}", {"value": repr(value)})
    return value


ExpressionValue = Annotated[Any, PlainValidator(_expression), Field(description="a number or an expression in quotes")]


def _one_of(allowed: Sequence[str], *, why: str = "") -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise PydanticCustomError(
                "one_of", "is {value}; allowed: {allowed}", {"value": repr(value), "allowed": why or ", ".join(allowed)}
            )
        return value

    return check


class Section(BaseModel):
    """A table of a model file: unknown keys refused, no coercion; WHAT names it in refusals of unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)
    WHAT: ClassVar[str] = "a field"
    SHAPE: ClassVar[str] = "a table"


class ModelTable(Section):
    WHAT = "a field of [model]"
    SHAPE = "a [model] table with name and cycles"
    name: str
    cycles: int = Field(ge=1, le=1000, description="a whole number from 1 to 1000")
    title: str = ""
    description: str = ""
    perspective: str = ""
    currency: str = "GBP"
    cycle_length_years: FiniteNumber = Field(1.0, ge=1e-6, le=100, description="1e-06 to 100")
    start_age: FiniteNumber | None = Field(None, ge=0, le=120, description="0 to 120")
    start_age_source: str = ""
    sex: Annotated[str, AfterValidator(_one_of(("female", "male")))] = ""


Counting = Annotated[str, AfterValidator(_one_of(COUNTING_METHODS))]


class ConventionsTable(Section):
    WHAT = "a convention"
    SHAPE = "a [conventions] table with counting, discount_costs and discount_effects"
    counting: Counting
    discount_costs: FiniteNumber = Field(ge=0, le=1, description="0 to 1")
    discount_effects: FiniteNumber = Field(ge=0, le=1, description="0 to 1")
    discounting: Annotated[str, AfterValidator(_one_of(DISCOUNTING_METHODS))] = "discrete"
    discount_first_cycle: bool = False
    thresholds: list[Annotated[FiniteNumber, Field(ge=0, description="an amount per QALY, 0 or more")]] = Field(
        [20000.0, 30000.0], min_length=1, description="a non-empty list of amounts per QALY, each 0 or more"
    )
    thresholds_source: str = ""
    counting_costs: Counting | None = None
    counting_effects: Counting | None = None
    counting_life_years: Counting | None = None
    one_off_timing: Annotated[str, AfterValidator(_one_of(("first_cycle", "time_zero")))] = "first_cycle"


class DistributionTable(BaseModel):
    """{ type = "beta", alpha = 2, beta = 8 }: the type and its numbers (which numbers: `spec.make_distribution`)."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True, defer_build=True)
    __pydantic_extra__: dict[str, FiniteNumber] = Field(init=False)
    WHAT: ClassVar[str] = "a distribution field"
    type: Annotated[str, AfterValidator(_one_of(DISTRIBUTION_TYPES))] = Field(
        description="one of " + ", ".join(DISTRIBUTION_TYPES)
    )

    @property
    def numbers(self) -> dict[str, float]:
        return {k: float(v) for k, v in (self.model_extra or {}).items()}


class ParameterTable(Section):
    WHAT = "a parameter field"
    SHAPE = "a table with value, distribution and source"
    value: FiniteNumber
    distribution: DistributionTable | None = Field(
        None, description='a table such as { type = "beta", alpha = 2, beta = 8 }'
    )
    source: str = ""
    assumption: bool = False
    unit: str = ""
    description: str = ""


class StateTable(Section):
    WHAT = "a state field"
    name: str
    label: str | None = None
    initial: ExpressionValue = 0
    utility: ExpressionValue = 0
    costs: dict[str, ExpressionValue] = Field({}, description="a table of cost name = expression")
    dead: bool = False
    tunnel: int | None = Field(
        None,
        ge=2,
        le=MAX_TUNNEL,
        description=f"a whole number of cycles from 2 to {MAX_TUNNEL} (the cycles after which time in the state no "
        "longer changes anything)",
    )


class StrategyTable(Section):
    WHAT = "a strategy field"
    name: str
    label: str | None = None
    values: dict[str, ExpressionValue] = Field({}, description="a table of name = expression")
    one_off_costs: dict[str, ExpressionValue] = Field({}, description="a table of name = expression")


class DirichletTable(Section):
    WHAT = "a field of a Dirichlet group"
    SHAPE = "a table with parameters, alphas and source"
    parameters: list[str] = Field(description="a list of parameter names")
    alphas: list[FiniteNumber] = Field(description="a list of numbers, one per parameter")
    source: str = ""
    assumption: bool = False
    description: str = ""


class CorrelationTable(Section):
    WHAT = "a field of a correlation"
    SHAPE = "a table with parameters, matrix (or rho) and source"
    parameters: list[str] = Field(description="a list of parameter names")
    matrix: list[list[FiniteNumber]] | None = Field(None, description="a k x k list of lists of numbers")
    rho: FiniteNumber | None = Field(None, ge=-1, le=1, description="-1 to 1")
    source: str = ""


Timing = Annotated[
    str,
    AfterValidator(_one_of(("cycle", "end"), why="cycle (discounted like the cycle of the move) or end (at its end)")),
]


class TransitionCostTable(Section):
    WHAT = "a field of [[transition_costs]]"
    SHAPE = "a table with from, to, name and amount"
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    name: str
    amount: ExpressionValue
    description: str = ""
    timing: Timing = "cycle"


class TransitionUtilityTable(Section):
    WHAT = "a field of [[transition_utilities]]"
    SHAPE = "a table with from, to, name and qalys"
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    name: str = "utility"
    qalys: ExpressionValue
    description: str = ""
    timing: Timing = "cycle"


Numbers = list[FiniteNumber]


class LifeTableTable(Section):
    WHAT = "a field of the life table"
    SHAPE = "a table with ages, qx (or mx) and source"
    ages: Numbers = Field(description="a list of ages (numbers)")
    source: str = ""
    assumption: bool = False
    qx: Numbers | None = None
    mx: Numbers | None = None
    qx_female: Numbers | None = None
    qx_male: Numbers | None = None
    mx_female: Numbers | None = None
    mx_male: Numbers | None = None

    def columns(self) -> dict[str, list[float]]:
        """The probability or rate columns given, by their key."""
        names = ("qx", "mx", "qx_female", "qx_male", "mx_female", "mx_male")
        return {n: v for n in names if (v := getattr(self, n)) is not None}


class LookupTable(Section):
    WHAT = "a field of a lookup table"
    SHAPE = "a table with ages, values (or female and male) and source"
    ages: Numbers = Field(description="a list of ages (numbers) where each band starts")
    values: Numbers | None = None
    female: Numbers | None = None
    male: Numbers | None = None
    source: str = ""
    assumption: bool = False
    description: str = ""


class Document(Section):
    """A whole model file."""

    WHAT = "a section of a model file"
    model: ModelTable
    conventions: ConventionsTable
    states: list[StateTable] = Field(min_length=1, description="a list of [[states]] tables, at least one")
    strategies: list[StrategyTable] = Field(min_length=1, description="a list of [[strategies]] tables, at least one")
    transitions: dict[
        str, Annotated[dict[str, ExpressionValue], Field(description="a table of destination state = probability")]
    ] = Field(description="a table of [transitions.STATE] tables of destination state = probability")
    parameters: dict[str, ParameterTable] = {}
    life_table: LifeTableTable | None = None
    dirichlet: dict[str, DirichletTable] = {}
    correlations: list[CorrelationTable] = []
    transition_costs: list[TransitionCostTable] = []
    transition_utilities: list[TransitionUtilityTable] = []
    derived: dict[str, ExpressionValue] = Field({}, description='a table of NAME = "expression"')
    tables: dict[str, LookupTable] = {}


# ------------------------------------------------------------------------------------------------- refusals
Refusal = tuple[str, str]
"""(dotted key, message), for `ModelFileError`."""


def check_document(doc: dict[str, Any]) -> Document | Refusal:
    """The document as typed sections, or the first structural refusal as (key, message)."""
    try:
        return Document.model_validate(doc)
    except ValidationError as exc:
        return refusal(exc.errors(include_url=False)[0], doc)


def refusal(error: Any, doc: Mapping[str, Any]) -> Refusal:
    """One pydantic error as (dotted key, message in the house style)."""
    loc: tuple[int | str, ...] = tuple(error["loc"])
    kind: str = error["type"]
    value = error.get("input")
    # the field's path and, after it, list indexes inside the field's own value (entry 2 of alphas)
    path, entries = _split_entries(loc)
    field = _field_at(path)
    allowed = _description(_item_field(field, len(entries)) if entries else field)
    words = ("row", "entry")[-len(entries) :] if entries else ()
    entry = ", ".join(f"{word} {i + 1}" for word, i in zip(words, entries, strict=True)) + " " if entries else ""
    key = _dotted(path, doc)
    if kind == "extra_forbidden":
        owner = _model_at(path[:-1])
        names = sorted((f.alias or n) for n, f in owner.model_fields.items()) if owner else []
        return key, f"is not {getattr(owner, 'WHAT', 'a field')}; allowed: {', '.join(names)}"
    if kind == "missing":
        return key, f"is missing; it must be {_noun(allowed) or _expected(field)}"
    if kind in ("expression_type", "one_of"):
        return key, entry + str(error["msg"])
    if kind in ("too_short", "too_long"):
        return key, f"must be {_noun(allowed) or _expected(field)}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return key, f"{entry}is {value!r}; allowed: {allowed or _bound_words(error.get('ctx', {}))}"
    if kind in ("finite_number", "float_type"):
        return key, f"{entry}must be a finite number, not {_shown(value)}"
    expected = _expected(_item_field(field, len(entries)) if entries else field)
    shown = _shown(value)
    if kind == "bool_type":
        return key, f"{entry}must be true or false, not {shown}"
    if kind in ("int_type", "int_from_float", "int_parsing") and allowed:
        return key, f"{entry}is {shown}; allowed: {allowed}"
    return key, f"{entry}must be {_noun(allowed) or expected}, not {shown}"


def _shown(value: object) -> str:
    """The value as the file wrote it (TOML's true and false), or what it is (a table, a list)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str | int | float) else _type_name(value)


def _noun(description: str) -> str:
    """A description that reads after "must be" ("a list of ...", "one of ..."), else ""."""
    return description if description.startswith(("a ", "an ", "one of ", "true")) else ""


def _split_entries(loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], tuple[int, ...]]:
    """Split a location into the field's path and trailing list indexes into that field's value."""
    path: list[int | str] = []
    cls: Any = Document
    i = 0
    while i < len(loc):
        part = loc[i]
        model = _as_model(cls)
        if model is not None:
            info = _field_named(model, part)
            if info is None:
                return (*path, *loc[i:]), ()
            path.append(part)
            cls = info.annotation
            i += 1
            continue
        inner, container = _container(cls)
        if container is None:
            return (*path, *loc[i:]), ()
        if container == "list" and _as_model(inner) is None and all(isinstance(p, int) for p in loc[i:]):
            # a list of scalars (or of lists): the rest are entries of this field
            return tuple(path), tuple(int(p) for p in loc[i:])
        path.append(part)
        cls = inner
        i += 1
    return tuple(path), ()


def _as_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """X from Annotated[X, ...] and from X | None."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _container(annotation: Any) -> tuple[Any, str | None]:
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is list:
        return typing.get_args(annotation)[0], "list"
    if origin is dict:
        return typing.get_args(annotation)[1], "dict"
    return None, None


def _field_named(model: type[BaseModel], name: int | str) -> FieldInfo | None:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info
    return None


def _model_at(path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The section model at a path (Document for the top level)."""
    cls: Any = Document
    for part in path:
        model = _as_model(cls)
        if model is not None:
            info = _field_named(model, part)
            if info is None:
                return None
            cls = info.annotation
        else:
            cls, container = _container(cls)
            if container is None:
                return None
    return _as_model(cls)


def _field_at(path: tuple[int | str, ...]) -> FieldInfo | None:
    """The field (with its description) whose value is at the path: a named field, or a dict's or list's items."""
    if not path:
        return None
    owner_path, last = path[:-1], path[-1]
    owner = _model_at(owner_path)
    if owner is not None:
        return _field_named(owner, last)
    parent = _field_at(owner_path)
    if parent is None:
        return None
    inner, _ = _container(parent.annotation)
    return FieldInfo.from_annotation(inner) if inner is not None else None


def _description(field: FieldInfo | None) -> str:
    if field is None:
        return ""
    if field.description:
        return field.description
    for meta in field.metadata:
        if isinstance(meta, FieldInfo) and meta.description:
            return meta.description
    annotation = field.annotation
    if typing.get_origin(annotation) is Annotated:
        for meta in typing.get_args(annotation)[1:]:
            if isinstance(meta, FieldInfo) and meta.description:
                return meta.description
    model = _as_model(annotation)
    return str(getattr(model, "SHAPE", "")) if model is not None else ""


def _item_field(field: FieldInfo | None, depth: int) -> FieldInfo | None:
    """The field of a list's entries (depth 1), or of its entries' entries (depth 2)."""
    for _ in range(depth):
        if field is None:
            return None
        inner, _c = _container(field.annotation)
        field = FieldInfo.from_annotation(inner) if inner is not None else None
    return field


_WORDS = {str: "a string", bool: "true or false", int: "a whole number", float: "a finite number"}


def _expected(field: FieldInfo | None) -> str:
    """What a field's type is, in words."""
    if field is None:
        return "a table"
    annotation = _unwrap(field.annotation)
    if annotation in _WORDS:
        return _WORDS[annotation]
    _, container = _container(annotation)
    if container == "list":
        return "a list"
    return "a table"


def _bound_words(ctx: dict[str, Any]) -> str:
    if "ge" in ctx:
        return f"{ctx['ge']} or more"
    if "le" in ctx:
        return f"{ctx['le']} or less"
    if "gt" in ctx:
        return f"more than {ctx['gt']}"
    return f"less than {ctx.get('lt')}"


def _dotted(path: tuple[int | str, ...], doc: Mapping[str, Any]) -> str:
    """`parameters.p_die.value`, `transitions.well.dead`, `transition_costs[0].timing`; a state's or strategy's
    fields by its name once it has one (`states.well.dead`, as the semantic checks name them), else by index."""
    out = ""
    for i, part in enumerate(path):
        if isinstance(part, int):
            name = _entry_name(doc, path[:i], part) if i == 1 and len(path) > 2 and path[2] != "name" else None
            out += f".{name}" if name else f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _entry_name(doc: Mapping[str, Any], path: tuple[int | str, ...], index: int) -> str | None:
    if path not in (("states",), ("strategies",)):
        return None
    entries = doc.get(str(path[0]))
    entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) and name else None
