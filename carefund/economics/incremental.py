"""Incremental cost-effectiveness analysis: dominance, extended dominance, ICERs and net monetary benefit.

The algorithm (Drummond et al., Methods for the Economic Evaluation of Health Care Programmes, 4th ed., ch. 4):
order strategies by cost (ties: more effective first); drop every strategy that is *dominated* (another costs no more
and is at least as effective, one of them strictly; of identical strategies the first listed is kept); then walk the
remaining ones and drop any whose ICER against the previous kept strategy is higher than the next one's ICER against
it (*extended dominance*), repeating until ICERs increase along the frontier. Pure numpy: no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Status = Literal["reference", "frontier", "dominated", "extendedly dominated"]


@dataclass(frozen=True)
class IncrementalRow:
    """One strategy in the incremental analysis. For frontier strategies the increments and ICER are against the
    previous strategy on the frontier (`compared_with`); for the reference and for dominated ones they are None."""

    name: str
    cost: float
    effect: float
    status: Status
    compared_with: str | None = None
    incremental_cost: float | None = None
    incremental_effect: float | None = None
    icer: float | None = None


@dataclass(frozen=True)
class IncrementalAnalysis:
    """Rows in order of increasing cost; `frontier` the names on the cost-effectiveness frontier (increasing cost)."""

    rows: tuple[IncrementalRow, ...]

    @property
    def frontier(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rows if r.status in ("reference", "frontier"))

    def row(self, name: str) -> IncrementalRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def optimal(self, threshold: float) -> str:
        """The frontier strategy with the highest net monetary benefit at `threshold` per unit of effect."""
        best = max(
            (r for r in self.rows if r.status in ("reference", "frontier")), key=lambda r: threshold * r.effect - r.cost
        )
        return best.name


def incremental_analysis(names: Sequence[str], costs: Sequence[float], effects: Sequence[float]) -> IncrementalAnalysis:
    """The full incremental analysis of strategies with the given costs and effects (e.g. QALYs)."""
    n = len(names)
    if n == 0 or len(costs) != n or len(effects) != n:
        raise ValueError(f"names, costs and effects have {n}, {len(costs)}, {len(effects)} items; allowed: equal, >= 1")
    order = sorted(range(n), key=lambda i: (costs[i], -effects[i], i))
    status: dict[int, Status] = {}
    for i in order:
        for j in range(n):
            if j == i:
                continue
            no_worse = costs[j] <= costs[i] and effects[j] >= effects[i]
            strictly = costs[j] < costs[i] or effects[j] > effects[i]
            identical_earlier = costs[j] == costs[i] and effects[j] == effects[i] and j < i
            if no_worse and (strictly or identical_earlier):
                status[i] = "dominated"
                break
    kept = [i for i in order if i not in status]
    changed = True
    while changed and len(kept) > 2:
        changed = False
        icers = [
            (costs[kept[k]] - costs[kept[k - 1]]) / (effects[kept[k]] - effects[kept[k - 1]])
            for k in range(1, len(kept))
        ]
        for k in range(len(icers) - 1):
            if icers[k] > icers[k + 1]:
                status[kept[k + 1]] = "extendedly dominated"
                del kept[k + 1]
                changed = True
                break
    rows: list[IncrementalRow] = []
    previous: int | None = None
    for i in order:
        if i in status:
            rows.append(IncrementalRow(names[i], float(costs[i]), float(effects[i]), status[i]))
            continue
        if previous is None:
            rows.append(IncrementalRow(names[i], float(costs[i]), float(effects[i]), "reference"))
        else:
            d_cost = float(costs[i] - costs[previous])
            d_effect = float(effects[i] - effects[previous])
            rows.append(
                IncrementalRow(
                    names[i],
                    float(costs[i]),
                    float(effects[i]),
                    "frontier",
                    names[previous],
                    d_cost,
                    d_effect,
                    d_cost / d_effect,
                )
            )
        previous = i
    return IncrementalAnalysis(tuple(rows))


def net_monetary_benefit(costs: npt.ArrayLike, effects: npt.ArrayLike, threshold: float) -> npt.NDArray[np.float64]:
    """NMB = threshold x effect - cost, elementwise (any shape)."""
    return np.asarray(threshold * np.asarray(effects, dtype=np.float64) - np.asarray(costs, dtype=np.float64))
