"""One-way deterministic sensitivity analysis (DSA) and the tornado (as data; plotting is elsewhere).

Each parameter is set to its low and then its high value, the others held at base: `Parameter.low`/`high` when
given, else the 2.5% and 97.5% quantiles of its distribution; fixed parameters without a range are skipped. A
Dirichlet member is varied over the 2.5% and 97.5% quantiles of its marginal, Beta(alpha_k, sum - alpha_k), and the
other members of its row are rescaled in proportion to their base values so that the row still sums to 1 (varying
one alone would break the row). All 2P + 1 parameter sets are evaluated in one vectorised batch. The outcome is
the net monetary benefit of `strategy` against `comparator` at `threshold` (always defined, unlike an ICER whose
sign flips), with the incremental cost and QALYs and the ICER reported too.
Bars are sorted by the width of their NMB range, widest first. Pure numpy: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from carefund.economics.distributions import beta
from carefund.economics.engine import compile_model
from carefund.economics.model import Model, ModelError


@dataclass(frozen=True)
class Outcome:
    """Incremental results of `strategy` against `comparator` for one parameter set."""

    incremental_cost: float
    incremental_qalys: float
    incremental_nmb: float

    @property
    def icer(self) -> float | None:
        return None if self.incremental_qalys == 0 else self.incremental_cost / self.incremental_qalys


@dataclass(frozen=True)
class TornadoBar:
    """One parameter's bar: its low and high input values and the outcomes there."""

    parameter: str
    low_value: float
    high_value: float
    low: Outcome
    high: Outcome

    @property
    def width(self) -> float:
        return abs(self.high.incremental_nmb - self.low.incremental_nmb)


@dataclass(frozen=True)
class Tornado:
    """The base outcome and the bars, widest first."""

    strategy: str
    comparator: str
    threshold: float
    base: Outcome
    bars: tuple[TornadoBar, ...]


def one_way(model: Model, *, strategy: str, comparator: str, threshold: float) -> Tornado:
    """One-way sensitivity of `strategy` against `comparator` at `threshold` per QALY."""
    names = model.strategy_names
    for label, s in (("strategy", strategy), ("comparator", comparator)):
        if s not in names:
            raise ModelError(f"{label} {s!r} is unknown; allowed: {', '.join(names)}")
    if strategy == comparator:
        raise ModelError(f"comparator is {comparator!r}; allowed: a strategy other than {strategy!r}")
    compiled = compile_model(model)
    base = model.base_values()
    varied: list[tuple[str, float, float]] = []
    rows: dict[str, tuple[str, ...]] = {}  # a Dirichlet member -> its row's other members, rescaled with it
    for p in model.parameters:
        if p.low is not None and p.high is not None:
            low, high = float(p.low), float(p.high)
        elif p.dist.kind != "fixed":
            low, high = p.dist.quantile(0.025), p.dist.quantile(0.975)
        else:
            continue
        varied.append((p.name, low, high))
    for g in model.dirichlet:
        total = float(sum(g.alphas))
        for name, alpha in zip(g.names, g.alphas, strict=True):
            marginal = beta(float(alpha), total - float(alpha))
            varied.append((name, marginal.quantile(0.025), marginal.quantile(0.975)))
            rows[name] = tuple(other for other in g.names if other != name)
    n = 1 + 2 * len(varied)
    values = {k: np.full(n, v) for k, v in base.items()}
    for i, (name, low, high) in enumerate(varied):
        for row, value in ((1 + 2 * i, low), (2 + 2 * i, high)):
            values[name][row] = value
            others = rows.get(name, ())
            if others:
                rest = 1.0 - base[name]  # > 0: a row has two or more members, each alpha > 0
                for other in others:
                    values[other][row] = base[other] * (1.0 - value) / rest
    batch, _ = compiled.evaluate(values)
    a, b = names.index(strategy), names.index(comparator)

    def outcome(row: int) -> Outcome:
        dc = float(batch.cost[row, a] - batch.cost[row, b])
        dq = float(batch.qalys[row, a] - batch.qalys[row, b])
        return Outcome(dc, dq, threshold * dq - dc)

    bars = [
        TornadoBar(name, low, high, outcome(1 + 2 * i), outcome(2 + 2 * i))
        for i, (name, low, high) in enumerate(varied)
    ]
    bars.sort(key=lambda bar: (-bar.width, bar.parameter))
    return Tornado(strategy, comparator, float(threshold), outcome(0), tuple(bars))
