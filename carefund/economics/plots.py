"""The report's figures as self-contained SVG documents (no plotting library: plain strings, deterministic).

CE plane, cost-effectiveness acceptability curve, tornado and cohort trace. Each function returns an SVG string.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
W, H = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 40, 60
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f")
MAX_POINTS = 2000
SVG_OPEN = (
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
    'font-family="sans-serif" font-size="11">'
)


class _Axes:
    def __init__(self, x0: float, x1: float, y0: float, y1: float) -> None:
        if x1 == x0:
            x0, x1 = x0 - 1, x1 + 1
        if y1 == y0:
            y0, y1 = y0 - 1, y1 + 1
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1

    def x(self, v: float) -> float:
        return LEFT + (v - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return H - BOTTOM - (v - self.y0) / (self.y1 - self.y0) * (H - TOP - BOTTOM)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    return [float(v) for v in np.linspace(lo, hi, n)]


def _fmt(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.0f}"
    return f"{v:.2g}"


def _frame(ax: _Axes, title: str, xlabel: str, ylabel: str) -> list[str]:
    e = html.escape
    parts = [
        SVG_OPEN,
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{e(title)}</text>',
        f'<text x="{W / 2}" y="{H - 15}" text-anchor="middle">{e(xlabel)}</text>',
        f'<text x="15" y="{H / 2}" text-anchor="middle" transform="rotate(-90 15 {H / 2})">{e(ylabel)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" '
        'fill="none" stroke="#333"/>',
    ]
    for v in _ticks(ax.x0, ax.x1):
        parts.append(f'<text x="{ax.x(v):.1f}" y="{H - BOTTOM + 15}" text-anchor="middle">{e(_fmt(v))}</text>')
    for v in _ticks(ax.y0, ax.y1):
        parts.append(f'<text x="{LEFT - 5}" y="{ax.y(v) + 4:.1f}" text-anchor="end">{e(_fmt(v))}</text>')
    return parts


def _legend(labels: Sequence[str]) -> list[str]:
    out = []
    for i, label in enumerate(labels):
        y = TOP + 12 + 14 * i
        out.append(f'<rect x="{LEFT + 8}" y="{y - 8}" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>')
        out.append(f'<text x="{LEFT + 22}" y="{y + 1}">{html.escape(label)}</text>')
    return out


def ce_plane_svg(d_qalys: FloatArray, d_cost: FloatArray, thresholds: Sequence[float], *, title: str) -> str:
    """Incremental QALYs (x) against incremental cost (y), one dot per draw (at most 2,000 shown), threshold lines."""
    q = np.asarray(d_qalys, dtype=float)
    c = np.asarray(d_cost, dtype=float)
    if q.size > MAX_POINTS:
        idx = np.linspace(0, q.size - 1, MAX_POINTS).astype(int)
        q, c = q[idx], c[idx]
    xr = max(float(np.max(np.abs(q))), 1e-9) * 1.1
    yr = max(float(np.max(np.abs(c))), 1.0) * 1.1
    ax = _Axes(-xr, xr, -yr, yr)
    parts = _frame(ax, f"Cost-effectiveness plane: {title}", "incremental QALYs", "incremental cost (£)")
    parts.append(f'<line x1="{ax.x(0):.1f}" y1="{TOP}" x2="{ax.x(0):.1f}" y2="{H - BOTTOM}" stroke="#999"/>')
    parts.append(f'<line x1="{LEFT}" y1="{ax.y(0):.1f}" x2="{W - RIGHT}" y2="{ax.y(0):.1f}" stroke="#999"/>')
    for i, t in enumerate(thresholds):
        # y = t * x, clipped to the box
        x_end = min(xr, yr / t) if t > 0 else xr
        parts.append(
            f'<line x1="{ax.x(-x_end):.1f}" y1="{ax.y(-t * x_end):.1f}" '
            f'x2="{ax.x(x_end):.1f}" y2="{ax.y(t * x_end):.1f}" '
            f'stroke="{COLOURS[(i + 1) % len(COLOURS)]}" stroke-dasharray="4 3"/>'
        )
    for xv, yv in zip(q, c, strict=True):
        parts.append(
            f'<circle cx="{ax.x(float(xv)):.1f}" cy="{ax.y(float(yv)):.1f}" r="1.5" '
            f'fill="{COLOURS[0]}" fill-opacity="0.4"/>'
        )
    parts += _legend(["draws", *[f"£{t:,.0f} per QALY" for t in thresholds][:4]])
    parts.append("</svg>")
    return "\n".join(parts)


def acceptability_svg(grid: Sequence[float], curves: Mapping[str, Sequence[float]], thresholds: Sequence[float]) -> str:
    """Probability each strategy is cost-effective against the threshold."""
    g = [float(v) for v in grid]
    ax = _Axes(g[0], g[-1], 0.0, 1.0)
    parts = _frame(ax, "Cost-effectiveness acceptability curve", "threshold (£ per QALY)", "probability cost-effective")
    for t in thresholds:
        parts.append(
            f'<line x1="{ax.x(t):.1f}" y1="{TOP}" x2="{ax.x(t):.1f}" y2="{H - BOTTOM}" '
            'stroke="#ccc" stroke-dasharray="2 2"/>'
        )
    for i, (_, ys) in enumerate(curves.items()):
        pts = " ".join(f"{ax.x(x):.1f},{ax.y(float(y)):.1f}" for x, y in zip(g, ys, strict=True))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="2"/>')
    parts += _legend(list(curves))
    parts.append("</svg>")
    return "\n".join(parts)


def tornado_svg(rows: Sequence[tuple[str, float, float, float, float]], *, base: float) -> str:
    """One bar per parameter from its result at the low value to the result at the high value (incremental NMB)."""
    e = html.escape
    values = [v for r in rows for v in (r[3], r[4])] + [base]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or 1.0
    ax = _Axes(lo - pad, hi + pad, 0, max(len(rows), 1))
    left = 170
    parts = [
        SVG_OPEN,
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">'
        "One-way sensitivity (incremental net monetary benefit, £)</text>",
    ]

    def x(v: float) -> float:
        return left + (v - ax.x0) / (ax.x1 - ax.x0) * (W - left - RIGHT)

    band = (H - TOP - BOTTOM) / max(len(rows), 1)
    for i, (name, low, high, at_low, at_high) in enumerate(rows):
        y = TOP + i * band + band * 0.15
        h = band * 0.7
        parts.append(f'<text x="{left - 5}" y="{y + h / 2 + 4:.1f}" text-anchor="end">{e(name)}</text>')
        for val, colour, tip in ((at_low, COLOURS[0], f"low {low:g}"), (at_high, COLOURS[1], f"high {high:g}")):
            a, b = sorted((x(base), x(val)))
            parts.append(
                f'<rect x="{a:.1f}" y="{y:.1f}" width="{max(b - a, 0.5):.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{e(tip)}</title></rect>'
            )
    parts.append(f'<line x1="{x(base):.1f}" y1="{TOP}" x2="{x(base):.1f}" y2="{H - BOTTOM}" stroke="#333"/>')
    for v in _ticks(ax.x0, ax.x1):
        parts.append(f'<text x="{x(v):.1f}" y="{H - BOTTOM + 15}" text-anchor="middle">{e(_fmt(v))}</text>')
    parts.append(
        f'<text x="{left}" y="{H - 15}">blue: parameter at its 2.5% quantile; red: at its 97.5% quantile</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def cohort_trace_svg(
    traces: Mapping[str, FloatArray], state_labels: Sequence[str], start_age: float, cycle_years: float
) -> str:
    """Share of the cohort in each state by age; solid lines for the first strategy, dashed for the others."""
    first = next(iter(traces.values()))
    ages = start_age + np.arange(first.shape[0]) * cycle_years
    ax = _Axes(float(ages[0]), float(ages[-1]), 0.0, 1.0)
    parts = _frame(ax, "Cohort trace", "age (years)", "share of cohort")
    for k, (_, tr) in enumerate(traces.items()):
        dash = "" if k == 0 else ' stroke-dasharray="5 3"'
        for i in range(tr.shape[1]):
            pts = " ".join(f"{ax.x(float(a)):.1f},{ax.y(float(v)):.1f}" for a, v in zip(ages, tr[:, i], strict=True))
            parts.append(
                f'<polyline points="{pts}" fill="none" stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="1.5"{dash}/>'
            )
    parts += _legend(list(state_labels))
    names = list(traces)
    parts.append(
        f'<text x="{W - RIGHT}" y="{TOP - 5}" text-anchor="end">'
        f"solid: {html.escape(names[0])}; dashed: {html.escape(', '.join(names[1:]))}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)
