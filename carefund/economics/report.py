"""Run a model file and present it: results per strategy, the incremental analysis, PSA, one-way sensitivity, value
of information, the JSON the command and API return, and the HTML report with its plots.

There is one evaluator: a model file (`modelfile.ModelSpec`) is converted by `modelfile.to_engine_model` and run by
the engine (`engine.run_model` for the base case, `psa.run_psa` for the PSA, `dsa.one_way` for the tornado,
`voi.evppi` for EVPPI); the incremental analysis is `incremental.py`'s. This module only presents their results.
Pure: no Django.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from carefund.economics import engine
from carefund.economics.cli import MAX_PSA_DRAWS
from carefund.economics.incremental import IncrementalRow
from carefund.economics.model import Model, ModelError
from carefund.economics.modelfile import ModelFileError, ModelSpec, to_engine_model
from carefund.economics.results import ModelResult, StrategyResult

if TYPE_CHECKING:  # imported where used: a deterministic run needs none of them (start-up, ADR 0062)
    from carefund.economics import dsa
    from carefund.economics.psa import PSAResult

Progress = Callable[[int, int], None]
STATUS_CODES = {"reference": "ref", "frontier": "ND", "dominated": "D", "extendedly dominated": "ED"}
"""The JSON's short status codes for `incremental.py`'s statuses."""


@dataclass
class RunResult:
    """A model file's run: the engine's base case, and optionally its PSA, tornado and EVPPI per parameter group."""

    spec: ModelSpec
    model: Model
    base: ModelResult
    psa: PSAResult | None = None
    tornado: dsa.Tornado | None = None
    evppi: dict[str, dict[str, float]] = field(default_factory=dict)  # group label -> {threshold: EVPPI per person}
    evppi_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group label -> parameter names

    @property
    def strategies(self) -> tuple[StrategyResult, ...]:
        return self.base.strategies

    @property
    def incremental(self) -> tuple[IncrementalRow, ...]:
        return self.base.incremental.rows

    @property
    def trace(self) -> dict[str, Any]:
        return {s.name: s.trace for s in self.base.strategies}

    @property
    def psa_iterations(self) -> int:
        return 0 if self.psa is None else self.psa.iterations

    @property
    def seed(self) -> int | None:
        return None if self.psa is None else self.psa.seed

    def probability_cost_effective(self, threshold: float) -> dict[str, float]:
        """Share of draws in which each strategy has the highest net monetary benefit at `threshold`."""
        assert self.psa is not None
        row = self.psa.ceac([threshold])[0]
        return {name: float(row[k]) for k, name in enumerate(self.psa.strategies)}

    def evpi(self, threshold: float) -> float:
        """Expected value of perfect information per person at `threshold`."""
        assert self.psa is not None
        return max(0.0, self.psa.evpi(threshold))

    def reference_strategy_name(self) -> str:
        """The strategy the headline probability is about: the last (the intervention, by convention)."""
        return self.base.strategies[-1].name

    def to_json(self) -> dict[str, Any]:
        thresholds = self.spec.conventions.thresholds
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
                    "cost": round(s.cost, 2),
                    "qalys": round(s.qalys, 4),
                    "life_years": round(s.life_years, 4),
                }
                for s in self.strategies
            ],
            "incremental": incremental_json(self.incremental),
            "nmb": {
                str(int(t)): {k: round(v, 2) for k, v in self.base.net_monetary_benefit(t).items()} for t in thresholds
            },
        }
        if self.psa is not None:
            ref = self.reference_strategy_name()
            by_strategy = {t: self.probability_cost_effective(t) for t in thresholds}
            out["psa"] = {
                "iterations": self.psa_iterations,
                "seed": self.seed,
                "strategy": ref,
                "probability_cost_effective": {str(int(t)): round(by_strategy[t][ref], 4) for t in thresholds},
                "evpi_per_person": {str(int(t)): round(self.evpi(t), 2) for t in thresholds},
                "by_strategy": {str(int(t)): {k: round(v, 4) for k, v in by_strategy[t].items()} for t in thresholds},
                "summary": psa_summary_json(self.psa),
            }
            if self.evppi:
                out["psa"]["evppi_per_person"] = {
                    label: {"parameters": list(self.evppi_groups[label]), **{t: round(v, 2) for t, v in by_t.items()}}
                    for label, by_t in self.evppi.items()
                }
        return out


def incremental_json(rows: Sequence[IncrementalRow]) -> list[dict[str, Any]]:
    """The incremental table as JSON: increments and ICER against the previous frontier strategy; status codes."""
    return [
        {
            "name": r.name,
            "cost": round(r.cost, 2),
            "qalys": round(r.effect, 4),
            "incremental_cost": None if r.incremental_cost is None else round(r.incremental_cost, 2),
            "incremental_qalys": None if r.incremental_effect is None else round(r.incremental_effect, 4),
            "icer": None if r.icer is None else round(r.icer, 2),
            "status": STATUS_CODES[r.status],
        }
        for r in rows
    ]


def psa_summary_json(result: PSAResult) -> dict[str, Any]:
    """The PSA summary table: per strategy mean and 95% interval of cost, QALYs and life years (`interval` is the
    2.5th and 97.5th percentiles), and the incremental table of the means."""
    summary = result.summary()
    digits = {"cost": 2, "qalys": 4, "life_years": 4}
    return {
        "strategies": [
            {
                "name": row.name,
                **{
                    key: {
                        "mean": round(getattr(row, key).mean, n),
                        "interval": [round(getattr(row, key).low, n), round(getattr(row, key).high, n)],
                    }
                    for key, n in digits.items()
                },
            }
            for row in summary.strategies
        ],
        "incremental": incremental_json(summary.incremental.rows),
    }


# --------------------------------------------------------------------------------------------------- running
def _engine_error(spec: ModelSpec, exc: ModelError, key: str) -> ModelFileError:
    return ModelFileError(str(exc), file=spec.file, key=key)


def evppi_groups(spec: ModelSpec, requested: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Resolve EVPPI requests: each item is one group, comma-separated names of parameters or Dirichlet groups
    (a Dirichlet group stands for all its members); the label is the item as given, without spaces."""
    known = spec.parameter_groups
    fixed = {p.name for p in spec.parameters if p.distribution.kind == "fixed"}
    out: dict[str, tuple[str, ...]] = {}
    for item in requested:
        names = [n.strip() for n in item.split(",") if n.strip()]
        if not names:
            raise ModelFileError("is empty; allowed: parameter names separated by commas", file=spec.file, key="evppi")
        members: list[str] = []
        for n in names:
            if n not in known:
                raise ModelFileError(
                    f"names {n!r}, which is not a parameter or Dirichlet group; allowed: "
                    f"{', '.join(sorted(k for k in known if k not in fixed))}",
                    file=spec.file,
                    key="evppi",
                )
            if n in fixed:
                raise ModelFileError(
                    f"names {n!r}, which is fixed (no uncertainty, so its EVPPI is 0); allowed: uncertain parameters",
                    file=spec.file,
                    key="evppi",
                )
            members.extend(m for m in known[n] if m not in members)
        out[",".join(names)] = tuple(members)
    return out


def run_model(
    spec: ModelSpec,
    *,
    psa: int = 0,
    seed: int | None = None,
    tornado: bool = False,
    evppi: Sequence[str] = (),
    progress: Progress | None = None,
) -> RunResult:
    """Base case and incremental analysis; optionally a PSA of `psa` draws (reproducible with `seed`; a fresh seed,
    reported in the result, when None), the one-way tornado, and EVPPI for each group in `evppi` (see
    `evppi_groups`). Every number comes from the engine."""
    if isinstance(psa, bool) or not isinstance(psa, int) or psa < 0 or psa > MAX_PSA_DRAWS:
        raise ModelFileError(
            f"is {psa!r}; allowed: a whole number of draws from 0 to {MAX_PSA_DRAWS:,}", file=spec.file, key="psa"
        )
    groups = evppi_groups(spec, evppi)
    if groups and not psa:
        raise ModelFileError("needs a PSA; allowed: with --psa N draws (N > 0)", file=spec.file, key="evppi")
    model = to_engine_model(spec)
    try:
        compiled = engine.compile_model(model)
        base = engine.run_model(model)
    except ModelError as exc:
        raise _engine_error(spec, exc, "") from None
    result = RunResult(spec=spec, model=model, base=base)
    if psa:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**32)  # type: ignore[operator]
        try:
            result.psa = run_psa(compiled, psa, seed, keep_parameters=bool(groups), progress=progress)
        except ModelError as exc:
            raise ModelFileError(
                f"a PSA draw cannot be evaluated: {exc}; allowed: distributions whose draws keep every value valid",
                file=spec.file,
                key="parameters",
            ) from None
        from carefund.economics import voi

        for label, names in groups.items():
            try:
                result.evppi[label] = {
                    str(int(t)): max(0.0, voi.evppi(result.psa, names, t)) for t in spec.conventions.thresholds
                }
            except ModelError as exc:
                raise _engine_error(spec, exc, "evppi") from None
        result.evppi_groups = groups
    if tornado and len(base.strategies) >= 2:
        from carefund.economics import dsa

        names = model.strategy_names
        result.tornado = dsa.one_way(
            model, strategy=names[-1], comparator=names[0], threshold=spec.conventions.thresholds[0]
        )
    return result


def run_psa(
    compiled: engine.CompiledModel, draws: int, seed: int, *, keep_parameters: bool, progress: Progress | None
) -> PSAResult:
    """`psa.run_psa` with the model file's defaults (parameters kept only when EVPPI needs them)."""
    from carefund.economics import psa as psa_engine

    return psa_engine.run_psa(compiled, draws=draws, seed=seed, keep_parameters=keep_parameters, progress=progress)


def tornado_rows(result: RunResult) -> list[tuple[str, float, float, float, float]]:
    """(parameter, low value, high value, incremental NMB at low, at high), widest first."""
    if result.tornado is None:
        return []
    return [
        (b.parameter, b.low_value, b.high_value, b.low.incremental_nmb, b.high.incremental_nmb)
        for b in result.tornado.bars
    ]


# --------------------------------------------------------------------------------------------------- HTML report
def plot_svgs(result: RunResult) -> dict[str, str]:
    """The report's figures as SVG documents, keyed by file stem."""
    from carefund.economics import plots

    spec = result.spec
    out: dict[str, str] = {}
    labels = {s.name: s.label for s in spec.strategies}
    out["cohort_trace"] = plots.cohort_trace_svg(
        {labels[k]: v for k, v in result.trace.items()},
        [s.label for s in spec.states],
        spec.start_age,
        spec.cycle_length_years,
    )
    strategies = result.strategies
    if result.psa is not None and len(strategies) >= 2:
        plane = result.psa.ce_plane(reference=strategies[0].name)
        d_q, d_cost = plane[strategies[-1].name]
        out["ce_plane"] = plots.ce_plane_svg(
            d_q,
            d_cost,
            spec.conventions.thresholds,
            title=f"{labels[strategies[-1].name]} vs {labels[strategies[0].name]}",
        )
        grid = [float(v) for v in np.linspace(0, max(spec.conventions.thresholds) * 2, 41)]
        ceac = result.psa.ceac(grid)
        curves = {labels[name]: [float(v) for v in ceac[:, k]] for k, name in enumerate(result.psa.strategies)}
        out["acceptability"] = plots.acceptability_svg(grid, curves, spec.conventions.thresholds)
    if result.tornado is not None and result.tornado.bars:
        # bars are labelled in words (the parameter's description), not with the model file's names
        words = {p.name: p.description or p.name for p in spec.parameters}
        rows = [
            (words.get(name, name), low, high, at_low, at_high)
            for name, low, high, at_low, at_high in tornado_rows(result)[:12]
        ]
        out["tornado"] = plots.tornado_svg(rows, base=result.tornado.base.incremental_nmb)
    return out


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


def _incremental_rows_html(rows: Sequence[IncrementalRow], labels: Mapping[str, str]) -> str:
    e = html.escape
    return "".join(
        f"<tr><td>{e(labels[r.name])}</td><td>{e(STATUS_CODES[r.status])}</td>"
        f"<td>{'' if r.incremental_cost is None else _money(r.incremental_cost)}</td>"
        f"<td>{'' if r.incremental_effect is None else f'{r.incremental_effect:.3f}'}</td>"
        f"<td>{icer_text(r)}</td></tr>"
        for r in rows
    )


def render_html(result: RunResult, images: Mapping[str, str]) -> str:
    spec = result.spec
    e = html.escape
    labels = {s.name: s.label for s in spec.strategies}
    rows = "".join(
        f"<tr><td>{e(labels[s.name])}</td><td>{_money(s.cost)}</td><td>{s.qalys:.3f}</td>"
        f"<td>{s.life_years:.2f}</td></tr>"
        for s in result.strategies
    )
    inc = _incremental_rows_html(result.incremental, labels)
    psa = ""
    if result.psa_iterations:
        ref = result.reference_strategy_name()
        cells = "".join(
            f"<tr><td>£{t:,.0f}</td><td>{result.probability_cost_effective(t)[ref]:.1%}</td></tr>"
            for t in spec.conventions.thresholds
        )
        assert result.psa is not None
        summary = result.psa.summary()

        def interval(v: Any, fmt: Callable[[float], str]) -> str:
            return f"{fmt(v.mean)} ({fmt(v.low)} to {fmt(v.high)})"

        means = "".join(
            f"<tr><td>{e(labels[r.name])}</td><td>{interval(r.cost, _money)}</td>"
            f"<td>{interval(r.qalys, lambda x: f'{x:.3f}')}</td><td>{interval(r.life_years, lambda x: f'{x:.2f}')}</td>"
            "</tr>"
            for r in summary.strategies
        )
        inc_means = _incremental_rows_html(summary.incremental.rows, labels)
        evpi_cells = "".join(f"<td>{_money(result.evpi(t))}</td>" for t in spec.conventions.thresholds)
        psa = (
            f"<h2>Probabilistic sensitivity analysis</h2><p>{result.psa_iterations:,} draws, seed {result.seed}.</p>"
            "<table><caption>Mean over the draws (95% interval)</caption><tr><th>strategy</th><th>cost</th>"
            f"<th>QALYs</th><th>life years</th></tr>{means}</table>"
            "<table><caption>Incremental analysis of the means</caption><tr><th>strategy</th><th>status</th>"
            f"<th>extra cost</th><th>extra QALYs</th><th>ICER</th></tr>{inc_means}</table>"
            f"<table><tr><th>threshold per QALY</th><th>probability {e(labels[ref])} is cost-effective</th></tr>"
            f"{cells}</table>"
            "<table><caption>Expected value of perfect information per person</caption><tr>"
            + "".join(f"<th>£{t:,.0f}</th>" for t in spec.conventions.thresholds)
            + f"</tr><tr>{evpi_cells}</tr></table>"
        )
        if result.evppi:
            t_head = "".join(f"<th>£{float(t):,.0f}</th>" for t in spec.conventions.thresholds)
            evppi_rows = "".join(
                f"<tr><td>{e(', '.join(result.evppi_groups[label]))}</td>"
                + "".join(f"<td>{_money(v)}</td>" for v in by_t.values())
                + "</tr>"
                for label, by_t in result.evppi.items()
            )
            evpi_row = "".join(f"<td>{_money(result.evpi(t))}</td>" for t in spec.conventions.thresholds)
            psa += (
                "<h3>Value of information per person (EVPPI: Strong, Oakley and Brennan 2014 regression)</h3>"
                f"<table><tr><th>parameters</th>{t_head}</tr><tr><td>all (EVPI)</td>{evpi_row}</tr>{evppi_rows}</table>"
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
    params += "".join(
        f"<tr><td>{e(n)}</td><td>{v:g}</td><td>{e(g.describe())} (group {e(g.name)})</td>"
        f"<td>{'yes' if g.assumption else ''}</td><td>{e(g.source)}</td></tr>"
        for g in spec.dirichlet
        for n, v in g.base_values().items()
    )
    correlations = "".join(
        f"<li>{e(', '.join(c.parameters))}: correlation matrix {e(str([list(r) for r in c.matrix]))}. "
        f"{e(c.source)}</li>"
        for c in spec.correlations
    )
    if correlations:
        correlations = f"<h2>Correlated parameters (Gaussian copula)</h2><ul>{correlations}</ul>"
    c = spec.conventions
    assumptions = "".join(
        f"<li><b>{e(p.name)}</b> = {p.value:g} {e(p.unit)}: {e(p.description)}. {e(p.source)}</li>"
        for p in spec.assumptions()
    )
    assumptions += "".join(
        f"<li><b>{e(g.name)}</b> ({e(', '.join(g.parameters))}) ~ {e(g.describe())}: {e(g.description)}. "
        f"{e(g.source)}</li>"
        for g in spec.dirichlet
        if g.assumption
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
<h2>All parameters</h2><table>{par_head}{params}</table>{correlations}
</body></html>"""


def icer_text(row: IncrementalRow) -> str:
    """The ICER for people: per QALY, or "(saves money)" when the strategy is cheaper."""
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
    evppi: tuple[str, ...] = ()  # EVPPI groups, each comma-separated parameter or Dirichlet group names
    # Parameters replaced by outside evidence (the outcomes registry's fitted treatment effect): name -> (mean, sd of
    # a normal distribution, source). Applied before `values`, which should not name the same parameter.
    evidence: Mapping[str, tuple[float, float, str]] = field(default_factory=dict)


def apply_overrides(spec: ModelSpec, overrides: Overrides) -> ModelSpec:
    """`spec` with `overrides` applied and checked (EVPPI group names included), without running it: what a page or
    the API checks in the request before it queues the run."""
    if overrides.evidence:
        from carefund.economics.modelfile import make_distribution

        for name, (mean, sd, source) in overrides.evidence.items():
            normal = make_distribution("normal", {"mean": mean, "sd": sd})
            spec = spec.with_parameter(name, value=mean, distribution=normal, source=source)
    changed = spec.with_overrides(
        values=overrides.values,
        cycles=overrides.cycles,
        discount_costs=overrides.discount_costs,
        discount_effects=overrides.discount_effects,
        thresholds=overrides.thresholds,
    )
    if evppi_groups(changed, overrides.evppi) and not overrides.psa:
        raise ModelFileError("needs a PSA; allowed: with --psa N draws (N > 0)", file=spec.file, key="evppi")
    return changed


def run_with_overrides(spec: ModelSpec, overrides: Overrides, *, progress: Progress | None = None) -> dict[str, Any]:
    """Apply `overrides`, run, and return the command's JSON plus the verdict on the claim and the plots (SVG)."""
    changed = apply_overrides(spec, overrides)
    result = run_model(
        changed, psa=overrides.psa, seed=overrides.seed, tornado=True, evppi=overrides.evppi, progress=progress
    )
    out = result.to_json()
    out["claim"] = claim_verdict(result)
    if {"sdr", "usual_care"} <= {s.name for s in changed.strategies}:
        from carefund.economics.budget import budget_impact

        out["budget_impact"] = budget_impact(changed, years=min(10, changed.cycles), base=result.base).to_json()
    out["plots"] = plot_svgs(result)
    if overrides.evidence:
        out["evidence"] = {n: {"mean": m, "sd": sd, "source": src} for n, (m, sd, src) in overrides.evidence.items()}
    return out


def claim_verdict(result: RunResult) -> dict[str, Any]:
    """Test "not treating costs the NHS more" honestly: compare discounted lifetime costs, then cost-effectiveness."""
    first, last = result.strategies[0], result.strategies[-1]
    d_cost = last.cost - first.cost
    d_q = last.qalys - first.qalys
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
    if result.psa is not None:
        cost = result.psa.cost
        out["probability_saves_money"] = round(float(np.mean(cost[:, -1] <= cost[:, 0])), 4)
    return out
