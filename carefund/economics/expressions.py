"""A safe expression language for model values: arithmetic over parameter names, ``cycle``, ``time``, ``age``
and a whitelist of numpy functions, vectorised over PSA draws and cycles.

Expressions are parsed with `ast` and every node is checked against a whitelist before anything is evaluated:
numbers, names, ``+ - * / ** %``, unary minus, single comparisons (``cycle < 2``, giving 1.0 or 0.0) and calls of
the functions in `FUNCTIONS` by name. No attributes, subscripts, lambdas, comprehensions, keyword arguments or
strings, so an expression cannot reach Python's object model; it is then evaluated by walking the checked tree.

Functions: exp, log, log1p, expm1, sqrt, abs, floor, ceil, minimum/min, maximum/max (any number of arguments),
where(condition, a, b), clip(x, low, high), rate_to_prob(rate, t=1) = 1 - exp(-rate t),
prob_to_rate(p, t=1) = -log(1 - p) / t, rescale_prob(p, t_from, t_to) = 1 - (1 - p) ** (t_to / t_from),
logical_and, logical_or, logical_not.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

RESERVED = frozenset({"cycle", "time", "age"})


def _reduce(fn: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def inner(*args: Any) -> Any:
        if not args:
            raise ExpressionError("min/max need at least one argument")
        return functools.reduce(fn, args)

    return inner


def _rate_to_prob(rate: Any, t: Any = 1.0) -> Any:
    return -np.expm1(-np.asarray(rate, dtype=np.float64) * t)


def _prob_to_rate(p: Any, t: Any = 1.0) -> Any:
    return -np.log1p(-np.asarray(p, dtype=np.float64)) / t


def _rescale_prob(p: Any, t_from: Any, t_to: Any) -> Any:
    return 1.0 - (1.0 - np.asarray(p, dtype=np.float64)) ** (np.asarray(t_to) / t_from)


def _where(cond: Any, a: Any, b: Any) -> Any:
    return np.where(np.asarray(cond) != 0, a, b)


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "floor": np.floor,
    "ceil": np.ceil,
    "minimum": _reduce(np.minimum),
    "maximum": _reduce(np.maximum),
    "min": _reduce(np.minimum),
    "max": _reduce(np.maximum),
    "where": _where,
    "clip": np.clip,
    "rate_to_prob": _rate_to_prob,
    "prob_to_rate": _prob_to_rate,
    "rescale_prob": _rescale_prob,
    "logical_and": lambda a, b: np.logical_and(a, b).astype(np.float64),
    "logical_or": lambda a, b: np.logical_or(a, b).astype(np.float64),
    "logical_not": lambda a: np.logical_not(a).astype(np.float64),
}

_BINOPS: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
_CMPOPS: Mapping[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


class ExpressionError(ValueError):
    """An expression that is not allowed or cannot be evaluated; the message says what and what is allowed."""


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, the tree, and the variable names it reads."""

    text: str
    names: frozenset[str]
    tree: ast.expr = field(repr=False, compare=False)

    @property
    def uses_time(self) -> bool:
        """Whether the value can change from cycle to cycle (reads ``cycle``, ``time`` or ``age``)."""
        return bool(self.names & RESERVED)

    def evaluate(
        self,
        namespace: Mapping[str, Any],
        *,
        cache: dict[str, Any] | None = None,
        time_cache: dict[str, Any] | None = None,
    ) -> Any:
        """Evaluate with numpy broadcasting; `namespace` maps every name in `names` to a number or array.

        cache: results of sub-expressions keyed by their text, shared by every expression evaluated against the same
        namespace (common sub-expressions are computed once). time_cache: the same for sub-expressions that read only
        ``cycle``, ``time`` and ``age``, which can be kept for as long as those do not change.
        """
        missing = sorted(self.names - namespace.keys())
        if missing:
            raise ExpressionError(f"expression {self.text!r} uses unknown name(s) {', '.join(missing)}")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _eval(self.tree, namespace, {} if cache is None else cache, time_cache)


def _eval(node: ast.expr, ns: Mapping[str, Any], cache: dict[str, Any], time_cache: dict[str, Any] | None) -> Any:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)
        return float(node.value)
    if isinstance(node, ast.Name):
        return ns[node.id]
    key, time_only = getattr(node, "_carefund_key", ("", False))
    if key:
        if key in cache:
            return cache[key]
        if time_only and time_cache is not None and key in time_cache:
            return time_cache[key]
    result: Any
    if isinstance(node, ast.BinOp):
        result = _BINOPS[type(node.op)](
            _eval(node.left, ns, cache, time_cache), _eval(node.right, ns, cache, time_cache)
        )
    elif isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, ns, cache, time_cache)
        result = -value if isinstance(node.op, ast.USub) else +value
    elif isinstance(node, ast.Compare):
        left = _eval(node.left, ns, cache, time_cache)
        right = _eval(node.comparators[0], ns, cache, time_cache)
        result = np.asarray(_CMPOPS[type(node.ops[0])](left, right), dtype=np.float64)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        result = FUNCTIONS[node.func.id](*[_eval(a, ns, cache, time_cache) for a in node.args])
    else:  # pragma: no cover - checked when parsed
        raise ExpressionError(f"unsupported expression node {type(node).__name__}")
    if key:
        cache[key] = result
        if time_only and time_cache is not None:
            time_cache[key] = result
    return result


def _annotate(node: ast.expr) -> frozenset[str]:
    """Give every compound node its text (the cache key) and whether it reads only cycle, time and age."""
    if isinstance(node, ast.Constant):
        return frozenset()
    if isinstance(node, ast.Name):
        return frozenset({node.id})
    names: frozenset[str] = frozenset()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr) and not (isinstance(node, ast.Call) and child is node.func):
            names |= _annotate(child)
    node._carefund_key = (ast.unparse(node), bool(names) and names <= RESERVED)  # type: ignore[attr-defined]
    return names


def _check(node: ast.AST, text: str, names: set[str]) -> None:
    def refuse(what: str) -> ExpressionError:
        return ExpressionError(
            f"expression {text!r}: {what} is not allowed; allowed: numbers, names, + - * / ** %, one comparison, "
            f"and the functions {', '.join(sorted(FUNCTIONS))}"
        )

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise refuse(f"the constant {node.value!r}")
        return
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise refuse(f"the function name {node.id!r} used as a value")
        names.add(node.id)
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise refuse(f"the operator {type(node.op).__name__}")
        _check(node.left, text, names)
        _check(node.right, text, names)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise refuse(f"the operator {type(node.op).__name__}")
        _check(node.operand, text, names)
        return
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _CMPOPS:
            raise refuse("a chained comparison (use logical_and)")
        _check(node.left, text, names)
        _check(node.comparators[0], text, names)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise refuse(f"calling {ast.unparse(node.func)!r}")
        if node.keywords:
            raise refuse("a keyword argument")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise refuse("a starred argument")
            _check(arg, text, names)
        return
    raise refuse(f"{type(node).__name__}")


@functools.lru_cache(maxsize=4096)
def parse_expression(text: str) -> Expression:
    """Parse and check `text`; raises ExpressionError naming the problem and what is allowed."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"expression {text!r} is empty; allowed: a formula such as 'p_death * rr'")
    if len(text) > 2000:
        raise ExpressionError(f"expression is {len(text)} characters; allowed: at most 2000")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"expression {text!r} is not valid: {exc.msg}") from None
    names: set[str] = set()
    _check(tree.body, text, names)
    _annotate(tree.body)
    return Expression(text=text, names=frozenset(names), tree=tree.body)
