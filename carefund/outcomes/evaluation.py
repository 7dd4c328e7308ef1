"""The evaluation of the registry, per centre and overall, per measure and time point (pure: numpy, scipy and
pandas; no Django, so it can be tested and benchmarked on its own).

- mean change from baseline with its paired 95% confidence interval (t distribution), n, and n lost to follow-up
  (a baseline, the time point's window closed, no measurement);
- the annual rate of change from a linear mixed model with a random intercept and slope per child (REML; the model
  of statsmodels' MixedLM, computed from per-child sufficient statistics: `mixed_model.py`, ADR 0070), with its 95%
  confidence interval: the estimate the CtE evaluation reported;
- for GMFM-66, the change natural history predicts for the same children (the Ontario motor growth curves by
  GMFCS level), as the counterfactual;
- adverse event rates with exact (Clopper-Pearson) intervals;
- small-cell suppression: a cell counting fewer than 5 children is not shown, and says so.

Method notes and sources: docs/outcomes.md."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from carefund.outcomes.catalogue import MOTOR_GROWTH_AGE90_YEARS, MOTOR_GROWTH_LIMITS
from carefund.outcomes.mixed_model import fit_random_slope
from carefund.outcomes.rules import SUPPRESSION_THRESHOLD, is_suppressed

OVERALL = "All centres"
SUPPRESSED_NOTE = f"fewer than {SUPPRESSION_THRESHOLD} children: not shown (NHS disclosure control)"
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Cohort:
    """What the evaluation reads. `observations`: child, measure, months, value, years (from surgery; negative
    before it). `children`: child (index), centre, gmfcs (at baseline), age_years (at surgery). `closed`: child,
    months, for each time point whose window has closed. `adverse_events`: child, severity, surgery_related."""

    observations: pd.DataFrame
    children: pd.DataFrame
    closed: pd.DataFrame
    adverse_events: pd.DataFrame
    synthetic: bool = False


@dataclass(frozen=True)
class MeasureInfo:
    slug: str
    name: str


@dataclass
class Options:
    suppress: bool = True
    mixed_model: bool = True
    centres: Sequence[str] = field(default_factory=tuple)


# ---------------------------------------------------------------------------------------------------------------
# The statistics, one function each (tested against values computed by hand)


def paired_mean_ci(differences: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its `level` confidence interval from the t distribution (n - 1 degrees of
    freedom). With fewer than two differences the interval is undefined (NaN)."""
    n = len(differences)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(np.mean(differences))
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * np.std(differences, ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a proportion k/n."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    alpha = 1 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def natural_history_change(gmfcs: np.ndarray, age_years: np.ndarray, years: float) -> np.ndarray:
    """GMFM-66 change natural history predicts over `years` from each child's age (Ontario motor growth curves:
    limit * (1 - exp(-k * age)), k = ln 10 / age90). NaN where the GMFCS level is unknown."""
    levels = np.asarray(gmfcs, dtype=float)
    limit = np.full(levels.shape, np.nan)
    rate = np.full(levels.shape, np.nan)
    for level, value in MOTOR_GROWTH_LIMITS.items():
        limit[levels == level] = value
        rate[levels == level] = math.log(10) / MOTOR_GROWTH_AGE90_YEARS[level]
    age = np.asarray(age_years, dtype=float)
    change: np.ndarray = limit * (np.exp(-rate * age) - np.exp(-rate * (age + years)))
    return change


@dataclass(frozen=True)
class AnnualRate:
    estimate: float
    lo: float
    hi: float
    n_children: int
    note: str = ""


def annual_rate(child: np.ndarray, years: np.ndarray, value: np.ndarray) -> AnnualRate:
    """The fixed slope (change per year) of value ~ years with a random intercept and slope per child, fitted by
    REML (`mixed_model.fit_random_slope`, the model of statsmodels' MixedLM); its 95% CI from the slope's
    standard error (normal)."""
    n_children = len(np.unique(child))
    try:
        fit = fit_random_slope(child, years, value)
    except ValueError as exc:
        return AnnualRate(math.nan, math.nan, math.nan, n_children, str(exc))
    if not fit.converged or not math.isfinite(fit.slope_se):
        return AnnualRate(math.nan, math.nan, math.nan, n_children, "the mixed model did not converge")
    z = float(stats.norm.ppf(0.975))
    return AnnualRate(fit.slope, fit.slope - z * fit.slope_se, fit.slope + z * fit.slope_se, n_children)


# ---------------------------------------------------------------------------------------------------------------
# The tables


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def _cell(centre: str, n: int, values: dict[str, Any], suppress: bool) -> dict[str, Any]:
    cell: dict[str, Any] = {"centre": centre, "n": n}
    if suppress and is_suppressed(n):
        cell.update({k: None for k in values})
        cell["suppressed"] = True
        cell["note"] = SUPPRESSED_NOTE
        return cell
    cell.update(values)
    cell["suppressed"] = False
    return cell


def _time_point_table(
    cohort: Cohort, measure: str, months: int, baseline: pd.Series, centres: list[str], options: Options
) -> dict[str, Any]:
    obs = cohort.observations
    follow = obs.loc[(obs["measure"] == measure) & (obs["months"] == months)].set_index("child")["value"]
    pairs = pd.DataFrame({"base": baseline}).join(follow.rename("follow"), how="inner")
    pairs["diff"] = pairs["follow"] - pairs["base"]
    pairs["centre"] = cohort.children["centre"].reindex(pairs.index).to_numpy()
    closed = cohort.closed.loc[cohort.closed["months"] == months, "child"]
    lost_children = baseline.index[baseline.index.isin(closed) & ~baseline.index.isin(follow.index)]
    lost = cohort.children["centre"].reindex(lost_children).value_counts()
    nh = None
    if measure == "gmfm66":
        kids = cohort.children.reindex(pairs.index)
        pairs["nh"] = natural_history_change(kids["gmfcs"].to_numpy(), kids["age_years"].to_numpy(), months / 12)

    def row(name: str, part: pd.DataFrame, n_lost: int) -> dict[str, Any]:
        mean, lo, hi = paired_mean_ci(part["diff"].to_numpy())
        values: dict[str, Any] = {"mean_change": _num(mean), "ci95": [_num(lo), _num(hi)], "n_lost": n_lost}
        if nh is not None or "nh" in part:
            expected = float(np.nanmean(part["nh"])) if len(part) and part["nh"].notna().any() else math.nan
            values["natural_history_change"] = _num(expected)
            values["change_beyond_natural_history"] = _num(mean - expected)
        return _cell(name, len(part), values, options.suppress)

    grouped = dict(tuple(pairs.groupby("centre", sort=True)))
    rows = [row(c, grouped.get(c, pairs.iloc[0:0]), int(lost.get(c, 0))) for c in centres]
    return {"months": months, "centres": rows, "overall": row(OVERALL, pairs, len(lost_children))}


def _annual_table(cohort: Cohort, measure: str, centres: list[str], options: Options) -> dict[str, Any]:
    obs = cohort.observations.loc[cohort.observations["measure"] == measure]
    centre_of = cohort.children["centre"].reindex(obs["child"]).to_numpy()

    def row(name: str, part: pd.DataFrame) -> dict[str, Any]:
        n_children = int(part["child"].nunique())
        if options.suppress and is_suppressed(n_children):
            return _cell(name, n_children, {"estimate": None, "ci95": [None, None]}, True) | {"n_children": n_children}
        if not options.mixed_model:
            return {"centre": name, "n_children": n_children, "estimate": None, "ci95": [None, None]}
        fit = annual_rate(part["child"].to_numpy(), part["years"].to_numpy(), part["value"].to_numpy())
        out: dict[str, Any] = {
            "centre": name,
            "n_children": n_children,
            "estimate": _num(fit.estimate),
            "ci95": [_num(fit.lo), _num(fit.hi)],
            "suppressed": False,
        }
        if fit.note:
            out["note"] = fit.note
        if measure == "gmfm66":
            kids = cohort.children.loc[part["child"].unique()]
            expected = natural_history_change(kids["gmfcs"].to_numpy(), kids["age_years"].to_numpy(), 2.0) / 2
            out["natural_history_rate"] = _num(float(np.nanmean(expected)) if len(kids) else math.nan)
        return out

    return {
        "centres": [row(c, obs.loc[centre_of == c]) for c in centres],
        "overall": row(OVERALL, obs),
    }


def _adverse_table(cohort: Cohort, centres: list[str], options: Options) -> dict[str, Any]:
    children = cohort.children
    events = cohort.adverse_events
    kinds = {
        "any": events,
        "surgery_related": events.loc[events["surgery_related"].astype(bool)],
        "severe": events.loc[events["severity"] == "severe"],
    }

    def row(name: str, kids: pd.Index) -> dict[str, Any]:
        n = len(kids)
        out: dict[str, Any] = {"centre": name, "n": n}
        for kind, frame in kinds.items():
            k = int(frame.loc[frame["child"].isin(kids), "child"].nunique())
            hidden = options.suppress and (is_suppressed(n) or 0 < k < SUPPRESSION_THRESHOLD)
            if hidden or n == 0:
                out[kind] = {"children": None, "rate": None, "ci95": [None, None], "suppressed": bool(hidden)}
                continue
            lo, hi = clopper_pearson(k, n)
            out[kind] = {"children": k, "rate": _num(k / n), "ci95": [_num(lo), _num(hi)], "suppressed": False}
        return out

    return {
        "centres": [row(c, children.index[children["centre"] == c]) for c in centres],
        "overall": row(OVERALL, children.index),
        "note": f"children with at least one event; counts of 1 to {SUPPRESSION_THRESHOLD - 1} are not shown",
    }


def evaluate(
    cohort: Cohort, measures: Sequence[MeasureInfo], time_points: Sequence[int], options: Options | None = None
) -> dict[str, Any]:
    """The whole evaluation as JSON-ready data (the shape `carefund outcomes evaluate --json` prints)."""
    options = options or Options()
    centres = list(options.centres) or sorted(cohort.children["centre"].unique().tolist())
    obs = cohort.observations
    out: list[dict[str, Any]] = []
    for measure in measures:
        base = obs.loc[(obs["measure"] == measure.slug) & (obs["months"] == 0)].set_index("child")["value"]
        out.append(
            {
                "measure": measure.slug,
                "name": measure.name,
                "time_points": [
                    _time_point_table(cohort, measure.slug, m, base, centres, options) for m in time_points if m > 0
                ],
                "annual_change": _annual_table(cohort, measure.slug, centres, options),
            }
        )
    return {
        "synthetic": cohort.synthetic,
        "n_children": len(cohort.children),
        "suppression": SUPPRESSED_NOTE if options.suppress else "off",
        "measures": out,
        "adverse_events": _adverse_table(cohort, centres, options),
    }
