"""Run a model file and present it: results per strategy, the incremental analysis, PSA, one-way sensitivity, the
JSON the command and API return, and the HTML report with its plots.

Until the engine (`carefund.economics.engine`) exposes a run over a model-file spec, the cohort is evaluated here by
`evaluate_spec`, vectorised over PSA draws and chunked so memory stays flat in the number of draws. Pure: no Django.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from carefund.economics import plots
from carefund.economics.modelfile import COMPLEMENT, ModelFileError, ModelSpec, namespace_for

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[int, int], None]
PSA_CHUNK = 5000
MAX_PSA_DRAWS = 1_000_000


@dataclass(frozen=True)
class StrategyOutcome:
    """Arrays over draws (length 1 for the base case)."""

    name: str
    cost: FloatArray
    qalys: FloatArray
    life_years: FloatArray


@dataclass(frozen=True)
class IncrementalRow:
    name: str
    cost: float
    qalys: float
    incremental_cost: float | None
    incremental_qalys: float | None
    icer: float | None
    status: str  # "ND" on the frontier, "D" dominated, "ED" extendedly dominated, "ref" the first on the frontier


@dataclass
class RunResult:
    spec: ModelSpec
    base: list[StrategyOutcome]
    incremental: list[IncrementalRow]
    trace: dict[str, FloatArray]
    psa_iterations: int = 0
    psa_cost: FloatArray | None = None  # (draws, strategies)
    psa_qalys: FloatArray | None = None
    seed: int | None = None
    tornado: list[tuple[str, float, float, float, float]] = field(
        default_factory=list
    )  # (name, low, high, inmb_low, inmb_high)

    def probability_cost_effective(self, threshold: float) -> dict[str, float]:
        """Share of draws in which each strategy has the highest net monetary benefit at `threshold`."""
        assert self.psa_cost is not None and self.psa_qalys is not None
        nmb = self.psa_qalys * threshold - self.psa_cost
        best = np.argmax(nmb, axis=1)
        return {s.name: float(np.mean(best == i)) for i, s in enumerate(self.base)}

    def evpi(self, threshold: float) -> float:
        """Expected value of perfect information per person: E[max_d NMB_d] - max_d E[NMB_d]."""
        assert self.psa_cost is not None and self.psa_qalys is not None
        nmb = self.psa_qalys * threshold - self.psa_cost
        return max(0.0, float(np.mean(np.max(nmb, axis=1)) - np.max(np.mean(nmb, axis=0))))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.spec.name,
            "file": self.spec.file,
            "conventions": {
                "counting": self.spec.conventions.counting,
                "discount_costs": self.spec.conventions.discount_costs,
                "discount_effects": self.spec.conventions.discount_effects,
                "discounting": self.spec.conventions.discounting,
                "discount_first_cycle": self.spec.conventions.discount_first_cycle,
                "cycles": self.spec.cycles,
                "cycle_length_years": self.spec.cycle_length_years,
            },
            "strategies": [
                {
                    "name": s.name,
                    "cost": round(float(s.cost[0]), 2),
                    "qalys": round(float(s.qalys[0]), 4),
                    "life_years": round(float(s.life_years[0]), 4),
                }
                for s in self.base
            ],
            "incremental": [
                {
                    "name": r.name,
                    "cost": round(r.cost, 2),
                    "qalys": round(r.qalys, 4),
                    "incremental_cost": None if r.incremental_cost is None else round(r.incremental_cost, 2),
                    "incremental_qalys": None if r.incremental_qalys is None else round(r.incremental_qalys, 4),
                    "icer": None if r.icer is None else round(r.icer, 2),
                    "status": r.status,
                }
                for r in self.incremental
            ],
            "nmb": {
                str(int(t)): {s.name: round(float(s.qalys[0] * t - s.cost[0]), 2) for s in self.base}
                for t in self.spec.conventions.thresholds
            },
        }
        if self.psa_iterations:
            ref = self.reference_strategy_name()
            out["psa"] = {
                "iterations": self.psa_iterations,
                "seed": self.seed,
                "strategy": ref,
                "probability_cost_effective": {
                    str(int(t)): round(self.probability_cost_effective(t)[ref], 4)
                    for t in self.spec.conventions.thresholds
                },
                "evpi_per_person": {str(int(t)): round(self.evpi(t), 2) for t in self.spec.conventions.thresholds},
                "by_strategy": {
                    str(int(t)): {k: round(v, 4) for k, v in self.probability_cost_effective(t).items()}
                    for t in self.spec.conventions.thresholds
                },
            }
        return out

    def reference_strategy_name(self) -> str:
        """The strategy the headline probability is about: the last (the intervention, by convention)."""
        return self.base[-1].name


# --------------------------------------------------------------------------------------------------- evaluation
def _discount(rate: float, cycles: int, length: float, method: str, first: bool) -> FloatArray:
    t = np.arange(1, cycles + 1, dtype=np.float64)
    if not first:
        t = t - 1
    years = t * length
    if method == "continuous":
        return np.exp(-rate * years)
    return (1.0 + rate) ** (-years)


def _as(v: Any, n: int) -> FloatArray:
    return np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))


def evaluate_spec(
    spec: ModelSpec,
    params: Mapping[str, Any],
    n: int,
    *,
    keep_trace: bool = False,
    cycle_costs: dict[str, FloatArray] | None = None,
) -> tuple[list[StrategyOutcome], dict[str, FloatArray]]:
    """Run every strategy for `n` parameter sets at once (`params` maps names to floats or arrays of length n).

    With `keep_trace`, the mean cohort per cycle is returned per strategy; a `cycle_costs` dict is filled with each
    strategy's mean undiscounted cost per cycle (index 0 = one-off costs at the start) for budget impact."""
    states = spec.states
    len(states)
    index = {s.name: i for i, s in enumerate(states)}
    conv = spec.conventions
    length = spec.cycle_length_years
    # one factor per cycle plus one for the end point (the half-cycle correction's last half point)
    dc = _discount(conv.discount_costs, spec.cycles + 1, length, conv.discounting, conv.discount_first_cycle)
    de = _discount(conv.discount_effects, spec.cycles + 1, length, conv.discounting, conv.discount_first_cycle)
    alive = np.array([0.0 if s.dead else 1.0 for s in states])
    outcomes: list[StrategyOutcome] = []
    traces: dict[str, FloatArray] = {}
    for strategy in spec.strategies:
        ns0 = namespace_for(spec, strategy, params, 0)
        m = np.stack([_as(s.initial.evaluate(ns0), n) for s in states], axis=1).copy()
        cost = np.zeros(n)
        for _, e in strategy.one_off_costs:
            cost = cost + _as(e.evaluate(ns0), n)
        qalys = np.zeros(n)
        lys = np.zeros(n)
        trace = [m.mean(axis=0)] if keep_trace else []
        per_cycle = [float(cost.mean())]
        for t in range(1, spec.cycles + 1):
            ns = namespace_for(spec, strategy, params, t)
            p = _matrix(spec, ns, n, index)
            m_next = np.einsum("ns,nst->nt", m, p)
            if conv.counting == "start":
                w = m
            elif conv.counting == "end":
                w = m_next
            elif conv.counting == "trapezoid":
                w = (m + m_next) / 2
            else:  # half_cycle: points m[0..T] weighted 1/2, 1, ..., 1, 1/2; the last with cycle T's values
                w = m / 2 if t == 1 else m
            c_state = np.stack([_state_cost(s, ns, n) for s in states], axis=1)
            u_state = np.stack([_as(s.utility.evaluate(ns), n) for s in states], axis=1)
            undiscounted = (w * c_state).sum(axis=1) * length
            cost += undiscounted * dc[t - 1]
            qalys += (w * u_state).sum(axis=1) * length * de[t - 1]
            lys += (w @ alive) * length * de[t - 1]
            if conv.counting == "half_cycle" and t == spec.cycles:  # the last half point, at the end of the horizon
                end_cost = (m_next / 2 * c_state).sum(axis=1) * length
                undiscounted = undiscounted + end_cost
                cost += end_cost * dc[t]
                qalys += (m_next / 2 * u_state).sum(axis=1) * length * de[t]
                lys += (m_next / 2 @ alive) * length * de[t]
            per_cycle.append(float(undiscounted.mean()))
            m = m_next
            if keep_trace:
                trace.append(m.mean(axis=0))
        outcomes.append(StrategyOutcome(strategy.name, cost, qalys, lys))
        if keep_trace:
            traces[strategy.name] = np.array(trace)
        if cycle_costs is not None:
            cycle_costs[strategy.name] = np.array(per_cycle)
    return outcomes, traces


def _state_cost(state: Any, ns: Mapping[str, Any], n: int) -> FloatArray:
    total = np.zeros(n)
    for _, e in state.costs:
        total = total + _as(e.evaluate(ns), n)
    return total


def _matrix(spec: ModelSpec, ns: Mapping[str, Any], n: int, index: Mapping[str, int]) -> FloatArray:
    s_count = len(index)
    p = np.zeros((n, s_count, s_count))
    for frm, row in spec.transitions:
        i = index[frm]
        comp: int | None = None
        total = np.zeros(n)
        for to, e in row:
            if e.text == COMPLEMENT:
                comp = index[to]
            else:
                v = _as(e.evaluate(ns), n)
                p[:, i, index[to]] += v
                total = total + v
        if comp is not None:
            p[:, i, comp] += 1.0 - total
    # a draw may push a row outside [0, 1] (a model whose rows are not bounded for every draw): clip and
    # renormalise so the cohort still sums to 1 (the shipped SDR model keeps every row valid by construction)
    if p.min() < 0.0 or p.max() > 1.0:
        np.clip(p, 0.0, 1.0, out=p)
        p /= p.sum(axis=2, keepdims=True)
    return p


def incremental_analysis(names: Sequence[str], costs: Sequence[float], qalys: Sequence[float]) -> list[IncrementalRow]:
    """Sort by cost, drop strongly then extendedly dominated strategies, ICERs along the frontier."""
    order = sorted(range(len(names)), key=lambda i: (costs[i], -qalys[i]))
    status = {i: "ND" for i in order}
    # strong dominance: more costly (or equal) and no more effective than some cheaper strategy
    best_q = -math.inf
    for i in order:
        if qalys[i] <= best_q:
            status[i] = "D"
        else:
            best_q = qalys[i]
    changed = True
    while changed:
        changed = False
        front = [i for i in order if status[i] == "ND"]
        for a, b, c in zip(front, front[1:], front[2:], strict=False):
            icer_ab = (costs[b] - costs[a]) / (qalys[b] - qalys[a])
            icer_bc = (costs[c] - costs[b]) / (qalys[c] - qalys[b])
            if icer_ab > icer_bc:
                status[b] = "ED"
                changed = True
                break
    rows: list[IncrementalRow] = []
    prev: int | None = None
    for i in order:
        if status[i] != "ND":
            rows.append(IncrementalRow(names[i], costs[i], qalys[i], None, None, None, status[i]))
            continue
        if prev is None:
            rows.append(IncrementalRow(names[i], costs[i], qalys[i], None, None, None, "ref"))
        else:
            dc, dq = costs[i] - costs[prev], qalys[i] - qalys[prev]
            rows.append(IncrementalRow(names[i], costs[i], qalys[i], dc, dq, dc / dq, "ND"))
        prev = i
    return rows


def sample_parameters(spec: ModelSpec, rng: np.random.Generator, n: int) -> dict[str, FloatArray]:
    return {p.name: p.distribution.sample(rng, n, p.value) for p in spec.parameters}


def run_model(
    spec: ModelSpec,
    *,
    psa: int = 0,
    seed: int | None = None,
    tornado: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """Base case, incremental analysis, optional PSA (chunked; reproducible with `seed`) and one-way tornado."""
    if isinstance(psa, bool) or not isinstance(psa, int) or psa < 0 or psa > MAX_PSA_DRAWS:
        raise ModelFileError(
            f"is {psa!r}; allowed: a whole number of draws from 0 to {MAX_PSA_DRAWS:,}", file=spec.file, key="psa"
        )
    base, traces = evaluate_spec(spec, spec.base_values(), 1, keep_trace=True)
    inc = incremental_analysis(
        [s.name for s in base], [float(s.cost[0]) for s in base], [float(s.qalys[0]) for s in base]
    )
    result = RunResult(spec=spec, base=base, incremental=inc, trace=traces, seed=seed)
    if psa:
        rng = np.random.default_rng(seed)
        costs = np.empty((psa, len(base)))
        qalys = np.empty((psa, len(base)))
        done = 0
        while done < psa:
            n = min(PSA_CHUNK, psa - done)
            draws = sample_parameters(spec, rng, n)
            outs, _ = evaluate_spec(spec, draws, n)
            for j, o in enumerate(outs):
                costs[done : done + n, j] = o.cost
                qalys[done : done + n, j] = o.qalys
            done += n
            if progress is not None:
                progress(done, psa)
        result.psa_iterations = psa
        result.psa_cost = costs
        result.psa_qalys = qalys
    if tornado:
        result.tornado = one_way(spec)
    return result


def one_way(spec: ModelSpec, threshold: float | None = None) -> list[tuple[str, float, float, float, float]]:
    """Each uncertain parameter at its 2.5% and 97.5% quantiles: incremental NMB (last strategy minus first)."""
    lam = threshold if threshold is not None else spec.conventions.thresholds[0]
    uncertain = [p for p in spec.parameters if p.distribution.kind != "fixed"]
    if not uncertain:
        return []
    n = 2 * len(uncertain)
    values: dict[str, FloatArray] = {p.name: np.full(n, p.value) for p in spec.parameters}
    lows, highs = [], []
    for k, p in enumerate(uncertain):
        lo, hi = p.distribution.quantile(0.025, p.value), p.distribution.quantile(0.975, p.value)
        values[p.name][2 * k] = lo
        values[p.name][2 * k + 1] = hi
        lows.append(lo)
        highs.append(hi)
    outs, _ = evaluate_spec(spec, values, n)
    first, last = outs[0], outs[-1]
    inmb = (last.qalys - first.qalys) * lam - (last.cost - first.cost)
    rows = [(p.name, lows[k], highs[k], float(inmb[2 * k]), float(inmb[2 * k + 1])) for k, p in enumerate(uncertain)]
    rows.sort(key=lambda r: abs(r[4] - r[3]), reverse=True)
    return rows


# --------------------------------------------------------------------------------------------------- HTML report
def plot_svgs(result: RunResult) -> dict[str, str]:
    """The report's figures as SVG documents, keyed by file stem."""
    spec = result.spec
    out: dict[str, str] = {}
    labels = {s.name: s.label for s in spec.strategies}
    out["cohort_trace"] = plots.cohort_trace_svg(
        {labels[k]: v for k, v in result.trace.items()},
        [s.label for s in spec.states],
        spec.start_age,
        spec.cycle_length_years,
    )
    if result.psa_cost is not None and result.psa_qalys is not None and len(result.base) >= 2:
        d_cost = result.psa_cost[:, -1] - result.psa_cost[:, 0]
        d_q = result.psa_qalys[:, -1] - result.psa_qalys[:, 0]
        out["ce_plane"] = plots.ce_plane_svg(
            d_q,
            d_cost,
            spec.conventions.thresholds,
            title=f"{labels[result.base[-1].name]} vs {labels[result.base[0].name]}",
        )
        grid = [float(v) for v in np.linspace(0, max(spec.conventions.thresholds) * 2, 41)]
        curves = {
            labels[s.name]: [result.probability_cost_effective(float(t))[s.name] for t in grid] for s in result.base
        }
        out["acceptability"] = plots.acceptability_svg(grid, curves, spec.conventions.thresholds)
    if result.tornado:
        out["tornado"] = plots.tornado_svg(result.tornado[:12], base=_base_inmb(result))
    return out


def _base_inmb(result: RunResult) -> float:
    lam = result.spec.conventions.thresholds[0]
    a, b = result.base[0], result.base[-1]
    return float((b.qalys[0] - a.qalys[0]) * lam - (b.cost[0] - a.cost[0]))


def write_report(result: RunResult, directory: Path) -> list[Path]:
    """Write index.html, results.json and one SVG per plot into `directory`; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    svgs = plot_svgs(result)
    for stem, svg in svgs.items():
        path = directory / f"{stem}.svg"
        path.write_text(svg, encoding="utf-8")
        written.append(path)
    (directory / "results.json").write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    written.append(directory / "results.json")
    index = directory / "index.html"
    index.write_text(render_html(result, {k: f"{k}.svg" for k in svgs}), encoding="utf-8")
    written.append(index)
    return written


def _money(x: float) -> str:
    sign = "-" if x < 0 else ""
    return f"{sign}£{abs(x):,.0f}"


def render_html(result: RunResult, images: Mapping[str, str]) -> str:
    spec = result.spec
    e = html.escape
    labels = {s.name: s.label for s in spec.strategies}
    rows = "".join(
        f"<tr><td>{e(labels[s.name])}</td><td>{_money(float(s.cost[0]))}</td><td>{float(s.qalys[0]):.3f}</td>"
        f"<td>{float(s.life_years[0]):.2f}</td></tr>"
        for s in result.base
    )
    inc = "".join(
        f"<tr><td>{e(labels[r.name])}</td><td>{e(r.status)}</td>"
        f"<td>{'' if r.incremental_cost is None else _money(r.incremental_cost)}</td>"
        f"<td>{'' if r.incremental_qalys is None else f'{r.incremental_qalys:.3f}'}</td>"
        f"<td>{icer_text(r)}</td></tr>"
        for r in result.incremental
    )
    psa = ""
    if result.psa_iterations:
        ref = result.reference_strategy_name()
        cells = "".join(
            f"<tr><td>£{t:,.0f}</td><td>{result.probability_cost_effective(t)[ref]:.1%}</td></tr>"
            for t in spec.conventions.thresholds
        )
        psa = (
            f"<h2>Probabilistic sensitivity analysis</h2><p>{result.psa_iterations:,} draws, seed {result.seed}.</p>"
            f"<table><tr><th>threshold per QALY</th><th>probability {e(labels[ref])} is cost-effective</th></tr>"
            f"{cells}</table>"
        )
    figs = "".join(
        f'<figure><img src="{e(src)}" alt="{e(name)}"><figcaption>{e(name.replace("_", " "))}</figcaption></figure>'
        for name, src in images.items()
    )
    params = "".join(
        f"<tr><td>{e(p.name)}</td><td>{p.value:g} {e(p.unit)}</td><td>{e(p.distribution.describe())}</td>"
        f"<td>{'yes' if p.assumption else ''}</td><td>{e(p.source)}</td></tr>"
        for p in spec.parameters
    )
    c = spec.conventions
    assumptions = "".join(
        f"<li><b>{e(p.name)}</b> = {p.value:g} {e(p.unit)}: {e(p.description)}. {e(p.source)}</li>"
        for p in spec.assumptions()
    )
    if spec.life_table is not None and spec.life_table.assumption:
        assumptions += f"<li><b>life table</b>: {e(spec.life_table.source)}</li>"
    head = "<tr><th>strategy</th><th>cost</th><th>QALYs</th><th>life years</th></tr>"
    inc_head = (
        "<tr><th>strategy</th><th>status</th><th>incremental cost</th><th>incremental QALYs</th><th>ICER</th></tr>"
    )
    par_head = "<tr><th>name</th><th>base value</th><th>distribution</th><th>assumption</th><th>source</th></tr>"
    first = "discounted" if c.discount_first_cycle else "not discounted"
    return f"""<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>{e(spec.title or spec.name)}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .4em;text-align:left}}
img{{max-width:100%}}figure{{display:inline-block;width:48%}}</style></head><body>
<h1>{e(spec.title or spec.name)}</h1><p>{e(spec.description)}</p>
<p>Perspective: {e(spec.perspective)}. {spec.cycles} cycles of {spec.cycle_length_years:g} year(s)
from age {spec.start_age:g}. Counting: {e(c.counting)}; discounting ({e(c.discounting)}):
costs {c.discount_costs:.1%}, effects {c.discount_effects:.1%}; first cycle {first}. Model file: {e(spec.file)}.</p>
<h2>Results per strategy (discounted)</h2><table>{head}{rows}</table>
<h2>Incremental analysis</h2><table>{inc_head}{inc}</table>
<p>Status: ref = cheapest on the frontier; ND = on the frontier; D = dominated; ED = extendedly dominated.</p>
{psa}<h2>Figures</h2>{figs}
<h2>Assumptions (no published number: a judgement with a wide distribution)</h2><ul>
{assumptions}</ul>
<h2>All parameters</h2><table>{par_head}{params}</table>
</body></html>"""


def icer_text(row: IncrementalRow) -> str:
    if row.icer is None:
        return ""
    if row.incremental_cost is not None and row.incremental_cost < 0:
        return f"{_money(row.icer)} (saves money)"
    return f"{_money(row.icer)} per QALY"


# ------------------------------------------------------------------------------------------------ runs with overrides
@dataclass(frozen=True)
class Overrides:
    """The key assumptions a person may change on the page or through the API (None keeps the model's value)."""

    values: Mapping[str, float] = field(default_factory=dict)
    cycles: int | None = None
    discount_costs: float | None = None
    discount_effects: float | None = None
    thresholds: tuple[float, ...] | None = None
    psa: int = 0
    seed: int | None = None


def run_with_overrides(spec: ModelSpec, overrides: Overrides, *, progress: Progress | None = None) -> dict[str, Any]:
    """Apply `overrides`, run, and return the command's JSON plus the verdict on the claim and the plots (SVG)."""
    changed = spec.with_overrides(
        values=overrides.values,
        cycles=overrides.cycles,
        discount_costs=overrides.discount_costs,
        discount_effects=overrides.discount_effects,
        thresholds=overrides.thresholds,
    )
    result = run_model(changed, psa=overrides.psa, seed=overrides.seed, tornado=True, progress=progress)
    out = result.to_json()
    out["claim"] = claim_verdict(result)
    if {"sdr", "usual_care"} <= {s.name for s in changed.strategies}:
        from carefund.economics.budget import budget_impact

        out["budget_impact"] = budget_impact(changed, years=min(10, changed.cycles)).to_json()
    out["plots"] = plot_svgs(result)
    return out


def claim_verdict(result: RunResult) -> dict[str, Any]:
    """Test "not treating costs the NHS more" honestly: compare discounted lifetime costs, then cost-effectiveness."""
    first, last = result.base[0], result.base[-1]
    d_cost = float(last.cost[0] - first.cost[0])
    d_q = float(last.qalys[0] - first.qalys[0])
    thresholds = result.spec.conventions.thresholds
    cost_effective_at = [t for t in thresholds if d_q * t - d_cost >= 0]
    saves = d_cost <= 0
    if saves:
        summary = (
            f"Supported: over the horizon, treating costs {_money(-d_cost)} less per child than not treating "
            "(discounted), so not treating costs the NHS more."
        )
    else:
        summary = (
            f"Not supported: treating costs {_money(d_cost)} more per child than not treating over the horizon "
            "(discounted); the savings in later care do not repay the operation and rehabilitation."
        )
    if cost_effective_at:
        summary += " Treating is cost-effective at " + ", ".join(f"£{t:,.0f}" for t in cost_effective_at) + " per QALY."
    else:
        summary += " Treating is not cost-effective at any of the thresholds."
    out: dict[str, Any] = {
        "supported": saves,
        "incremental_cost": round(d_cost, 2),
        "incremental_qalys": round(d_q, 4),
        "cost_effective_at": [int(t) for t in cost_effective_at],
        "summary": summary,
    }
    if result.psa_iterations and result.psa_cost is not None:
        out["probability_saves_money"] = round(float(np.mean(result.psa_cost[:, -1] <= result.psa_cost[:, 0])), 4)
    return out
