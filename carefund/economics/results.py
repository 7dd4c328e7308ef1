"""What the engine returns: totals for a block of parameter sets (`BatchResult`), and the deterministic run per
strategy (`StrategyResult`) with its incremental analyses (`ModelResult`). Built by `engine.py`; pure numpy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from carefund.economics.incremental import IncrementalAnalysis
from carefund.economics.model import Model

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BatchResult:
    """Totals for D parameter sets and K strategies (arrays of shape (D, K)), in `strategies` order.

    cost, qalys, life_years are discounted (costs at the cost rate; QALYs and life years at the effects rate);
    the *_undiscounted arrays are the same sums without discounting.
    """

    strategies: tuple[str, ...]
    cost: FloatArray
    qalys: FloatArray
    life_years: FloatArray
    cost_undiscounted: FloatArray
    qalys_undiscounted: FloatArray
    life_years_undiscounted: FloatArray


@dataclass(frozen=True)
class StrategyResult:
    """The base case of one strategy: totals, costs by name (discounted) and the trace (T + 1, S)."""

    name: str
    cost: float
    qalys: float
    life_years: float
    cost_undiscounted: float
    qalys_undiscounted: float
    life_years_undiscounted: float
    costs_by_name: tuple[tuple[str, float], ...]
    trace: FloatArray
    cost_by_cycle: FloatArray = field(default_factory=lambda: np.zeros(0))
    """Undiscounted cost per cycle (T,): state costs of the points counted in that cycle (the cycle whose values
    they take), transition costs of the moves during it and one-off costs charged in it; sums to
    `cost_undiscounted`. For budget impact."""


@dataclass(frozen=True)
class ModelResult:
    """The deterministic run: per strategy results, and the incremental analysis on cost and QALYs
    (`incremental`) and on cost and life years (`incremental_life_years`)."""

    model: Model
    strategies: tuple[StrategyResult, ...]
    incremental: IncrementalAnalysis
    incremental_life_years: IncrementalAnalysis

    def strategy(self, name: str) -> StrategyResult:
        for s in self.strategies:
            if s.name == name:
                return s
        raise KeyError(name)

    def net_monetary_benefit(self, threshold: float) -> dict[str, float]:
        """NMB per strategy at `threshold` per QALY."""
        return {s.name: threshold * s.qalys - s.cost for s in self.strategies}
