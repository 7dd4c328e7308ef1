"""Budget impact: what funding SDR for every eligible child in England costs or saves the NHS over ten years.

Each year a new cohort of eligible children is operated on; a cohort in its k-th year after SDR adds the model's
undiscounted incremental cost of that cycle (SDR minus usual care; the operation in year 1), taken from the engine's
per-cycle costs (`StrategyResult.cost_by_cycle`) of the model file run through `to_engine_model`.
Budget impact is reported undiscounted, as budget holders see it (ISPOR budget-impact good practice, Sullivan et al.,
Value Health 2014;17:5-14, doi:10.1016/j.jval.2013.08.2291). Pure: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from carefund.economics import engine
from carefund.economics.model import ModelError
from carefund.economics.modelfile import ModelFileError, ModelSpec, to_engine_model
from carefund.economics.results import ModelResult

# Eligible children a year in England: 155 to 258 (PQ answer, June 2017: CP incidence 150-250 per 100,000 live births,
# ~15% spastic diplegia at GMFCS II/III); sources.md: Parliamentary answer 2017, https://www.parallelparliament.co.uk/question/932/cerebral-palsy-medical-treatments
ELIGIBLE_PER_YEAR_LOW = 155
ELIGIBLE_PER_YEAR_HIGH = 258
ELIGIBLE_PER_YEAR_BASE = 206  # midpoint of 155-258 (sources.md: Parliamentary answer 2017), rounded down
YEARS = 10


@dataclass(frozen=True)
class BudgetYear:
    year: int
    children_treated: int
    net_cost: float  # base case: positive = extra spending, negative = saving
    net_cost_low: float  # with ELIGIBLE_PER_YEAR_LOW
    net_cost_high: float  # with ELIGIBLE_PER_YEAR_HIGH


@dataclass(frozen=True)
class BudgetImpact:
    years: tuple[BudgetYear, ...]
    per_child_by_year: tuple[float, ...]  # incremental cost per child in year k after SDR (k = 1..)
    eligible_low: int
    eligible_base: int
    eligible_high: int

    @property
    def total(self) -> float:
        return sum(y.net_cost for y in self.years)

    @property
    def total_low(self) -> float:
        return sum(y.net_cost_low for y in self.years)

    @property
    def total_high(self) -> float:
        return sum(y.net_cost_high for y in self.years)

    def to_json(self) -> dict[str, object]:
        return {
            "eligible_per_year": {"low": self.eligible_low, "base": self.eligible_base, "high": self.eligible_high},
            "years": [
                {
                    "year": y.year,
                    "children_treated": y.children_treated,
                    "net_cost": round(y.net_cost, 2),
                    "net_cost_low": round(y.net_cost_low, 2),
                    "net_cost_high": round(y.net_cost_high, 2),
                }
                for y in self.years
            ],
            "total": round(self.total, 2),
            "total_low": round(self.total_low, 2),
            "total_high": round(self.total_high, 2),
        }


def incremental_cost_by_year(
    spec: ModelSpec, *, intervention: str, comparator: str, base: ModelResult | None = None
) -> list[float]:
    """Undiscounted incremental cost per child per year after treatment (year 1 includes one-off costs), from the
    engine's base-case run of `spec` (`base`, when the caller has it already)."""
    names = {s.name for s in spec.strategies}
    for key, name in (("intervention", intervention), ("comparator", comparator)):
        if name not in names:
            raise ModelFileError(
                f"{name!r} is not a strategy; strategies: {', '.join(sorted(names))}", file=spec.file, key=key
            )
    if base is None:
        try:
            base = engine.run_model(to_engine_model(spec))
        except ModelError as exc:
            raise ModelFileError(str(exc), file=spec.file) from None
    diff = base.strategy(intervention).cost_by_cycle - base.strategy(comparator).cost_by_cycle
    # cycle k (0-based) of the model is year k + 1 after treatment; one-off costs are charged in cycle 0
    return [float(v) for v in np.asarray(diff, dtype=np.float64)]


def budget_impact(
    spec: ModelSpec,
    *,
    intervention: str = "sdr",
    comparator: str = "usual_care",
    years: int = YEARS,
    eligible_low: int = ELIGIBLE_PER_YEAR_LOW,
    eligible_base: int = ELIGIBLE_PER_YEAR_BASE,
    eligible_high: int = ELIGIBLE_PER_YEAR_HIGH,
    base: ModelResult | None = None,
) -> BudgetImpact:
    """Treat `eligible_*` children every year for `years` years; net NHS/PSS cost per year and in total."""
    if not 1 <= years <= spec.cycles:
        raise ModelFileError(f"is {years}; allowed: 1 to the model's {spec.cycles} cycles", file=spec.file, key="years")
    if not 0 <= eligible_low <= eligible_base <= eligible_high:
        raise ModelFileError("must satisfy 0 <= low <= base <= high", file=spec.file, key="eligible_per_year")
    per_child = incremental_cost_by_year(spec, intervention=intervention, comparator=comparator, base=base)
    rows = []
    for year in range(1, years + 1):
        # cohorts operated in years 1..year are in their (year - c + 1)-th year after SDR
        per_cohort = sum(per_child[year - c] for c in range(1, year + 1))
        rows.append(
            BudgetYear(
                year=year,
                children_treated=eligible_base * year,
                net_cost=per_cohort * eligible_base,
                net_cost_low=per_cohort * eligible_low,
                net_cost_high=per_cohort * eligible_high,
            )
        )
    return BudgetImpact(tuple(rows), tuple(per_child[:years]), eligible_low, eligible_base, eligible_high)
