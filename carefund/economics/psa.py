"""Probabilistic sensitivity analysis (PSA): parameter draws, the vectorised cohort run, CE plane, acceptability
curves (CEAC), the frontier (CEAF) and the expected value of perfect information (EVPI).

Reproducibility: `draw_parameters(model, n, seed)` gives every source of uncertainty (each independent parameter,
each `Correlation` group, each `DirichletGroup`) its own random stream, spawned from ``np.random.SeedSequence(seed)``
in the model's declaration order (independent parameters first, then correlation groups, then Dirichlet groups).
Independent parameters use numpy's samplers, Dirichlet groups normalised standard gammas, correlated groups a
Gaussian copula mapped through each marginal's inverse CDF. Every stream is read strictly in order, so drawing 10,000
values in one block or in ten blocks of 1,000 gives identical numbers: the chunk size never changes the results, and
the same seed always reproduces a PSA exactly (for a given numpy version: numpy documents that its samplers'
streams may change between versions).

Memory: `run_psa` evaluates the model `chunk_size` draws at a time (the largest arrays are (chunk, cycles, states,
states)), so the working memory is fixed by the chunk size; only the results (draws x strategies for cost, QALYs and
life years, and the parameter draws when `keep_parameters`) grow with the number of draws.
Pure numpy/scipy: no Django.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from carefund.economics.engine import CompiledModel, compile_model
from carefund.economics.incremental import IncrementalAnalysis, incremental_analysis
from carefund.economics.model import Model, ModelError

FloatArray = npt.NDArray[np.float64]
MAX_DRAWS = 10_000_000
_HALF_ULP = 2.0**-54


class PSAError(ModelError):
    """An invalid PSA request (a draw count, chunk size or seed); the message says what is allowed."""


def _uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> FloatArray:
    """Uniform scores strictly inside (0, 1): random() is a multiple of 2**-53 in [0, 1); shift by half a step."""
    return rng.random(shape) + _HALF_ULP


@dataclass
class _Source:
    kind: Literal["independent", "correlated", "dirichlet"]
    names: tuple[str, ...]
    rng: np.random.Generator
    cholesky: FloatArray | None = None
    alphas: FloatArray | None = None


class ParameterSampler:
    """Draws parameter sets block by block from independent per-source streams (see the module docstring)."""

    def __init__(self, model: Model, seed: int) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise PSAError(f"seed is {seed!r}; allowed: a whole number >= 0")
        self.model = model
        params = {p.name: p for p in model.parameters}
        correlated: set[str] = set()
        for c in model.correlations:
            for n in c.names:
                if n not in params:
                    raise ModelError(f"correlation names unknown parameter {n!r}; allowed: {', '.join(params)}")
                if n in correlated:
                    raise ModelError(f"parameter {n!r} is in two correlation groups; allowed: at most one")
                correlated.add(n)
        independents = [p.name for p in model.parameters if p.name not in correlated]
        n_sources = len(independents) + len(model.correlations) + len(model.dirichlet)
        seqs = np.random.SeedSequence(seed).spawn(max(n_sources, 1))
        self.sources: list[_Source] = []
        i = 0
        for name in independents:
            self.sources.append(_Source("independent", (name,), np.random.default_rng(seqs[i])))
            i += 1
        for c in model.correlations:
            matrix = np.asarray(c.matrix, dtype=np.float64)
            k = len(c.names)
            if matrix.shape != (k, k) or not np.allclose(matrix, matrix.T) or not np.allclose(np.diag(matrix), 1.0):
                raise ModelError(
                    f"correlation matrix for {', '.join(c.names)} has shape {matrix.shape}; allowed: a symmetric "
                    f"{k} x {k} matrix with ones on the diagonal"
                )
            try:
                chol = np.asarray(np.linalg.cholesky(matrix), dtype=np.float64)
            except np.linalg.LinAlgError:
                raise ModelError(
                    f"correlation matrix for {', '.join(c.names)} is not positive definite; allowed: a valid "
                    "correlation matrix (every eigenvalue > 0)"
                ) from None
            self.sources.append(_Source("correlated", c.names, np.random.default_rng(seqs[i]), cholesky=chol))
            i += 1
        for g in model.dirichlet:
            alphas = np.asarray(g.alphas, dtype=np.float64)
            self.sources.append(_Source("dirichlet", g.names, np.random.default_rng(seqs[i]), alphas=alphas))
            i += 1
        self._params = params

    def draw(self, n: int) -> dict[str, FloatArray]:
        """The next n parameter sets, name -> array of n values."""
        out: dict[str, FloatArray] = {}
        for src in self.sources:
            if src.kind == "independent":
                p = self._params[src.names[0]]
                out[p.name] = p.dist.sample(src.rng, n)
            elif src.kind == "correlated":
                assert src.cholesky is not None
                from scipy import special  # imported when first needed: a deterministic run starts without scipy

                z = special.ndtri(_uniform(src.rng, (n, len(src.names)))) @ src.cholesky.T
                u = np.clip(special.ndtr(z), _HALF_ULP, 1.0 - _HALF_ULP)
                for j, name in enumerate(src.names):
                    out[name] = self._params[name].dist.ppf(u[:, j])
            else:
                assert src.alphas is not None
                g = src.rng.standard_gamma(src.alphas, size=(n, len(src.names)))
                g /= g.sum(axis=1, keepdims=True)
                for j, name in enumerate(src.names):
                    out[name] = np.ascontiguousarray(g[:, j])
        return out


def draw_parameters(model: Model, n: int, seed: int) -> dict[str, FloatArray]:
    """n parameter sets drawn with `seed` (identical to drawing them in any number of blocks)."""
    _check_draws(n)
    return ParameterSampler(model, seed).draw(n)


def _check_draws(n: object) -> int:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or not 1 <= int(n) <= MAX_DRAWS:
        raise PSAError(f"draws is {n!r}; allowed: a whole number from 1 to {MAX_DRAWS:,}")
    return int(n)


@dataclass(frozen=True)
class PSAResult:
    """Per draw and strategy (arrays (N, K)): discounted cost, QALYs and life years; the parameter draws (N,) by
    name when kept. Summaries are computed from these on demand."""

    strategies: tuple[str, ...]
    seed: int
    cost: FloatArray
    qalys: FloatArray
    life_years: FloatArray
    parameters: dict[str, FloatArray]

    @property
    def iterations(self) -> int:
        return int(self.cost.shape[0])

    def nmb(self, threshold: float) -> FloatArray:
        """Net monetary benefit (N, K) at `threshold` per QALY."""
        return threshold * self.qalys - self.cost

    def ce_plane(self, *, reference: str) -> dict[str, tuple[FloatArray, FloatArray]]:
        """Incremental (QALYs, cost) points of every other strategy against `reference`, per draw."""
        r = self._index(reference)
        return {
            s: (self.qalys[:, k] - self.qalys[:, r], self.cost[:, k] - self.cost[:, r])
            for k, s in enumerate(self.strategies)
            if k != r
        }

    def ceac(self, thresholds: Sequence[float]) -> FloatArray:
        """Acceptability curves (len(thresholds), K): the share of draws in which each strategy has the highest NMB
        (ties go to the first strategy listed)."""
        out = np.zeros((len(thresholds), len(self.strategies)))
        for i, lam in enumerate(thresholds):
            best = np.argmax(self.nmb(lam), axis=1)
            out[i] = np.bincount(best, minlength=len(self.strategies)) / self.iterations
        return out

    def probability_cost_effective(self, thresholds: Sequence[float]) -> dict[str, dict[str, float]]:
        """{strategy: {"20000": p, ...}} from the CEAC, thresholds as whole-number strings."""
        curve = self.ceac(thresholds)
        return {
            s: {f"{lam:g}": float(curve[i, k]) for i, lam in enumerate(thresholds)}
            for k, s in enumerate(self.strategies)
        }

    def ceaf(self, thresholds: Sequence[float]) -> list[tuple[float, str, float]]:
        """The acceptability frontier: per threshold, the strategy with the highest expected NMB and the probability
        that it is the most cost-effective."""
        curve = self.ceac(thresholds)
        out = []
        for i, lam in enumerate(thresholds):
            k = int(np.argmax(self.nmb(lam).mean(axis=0)))
            out.append((float(lam), self.strategies[k], float(curve[i, k])))
        return out

    def expected_loss(self, thresholds: Sequence[float]) -> FloatArray:
        """Expected loss curves (len(thresholds), K): the mean net benefit forgone by choosing each strategy,
        E[max_j NMB_j - NMB_k]; the lowest curve at each threshold is the EVPI (Alarid-Escudero et al. 2019)."""
        out = np.zeros((len(thresholds), len(self.strategies)))
        for i, lam in enumerate(thresholds):
            nmb = self.nmb(lam)
            out[i] = (nmb.max(axis=1, keepdims=True) - nmb).mean(axis=0)
        return out

    def evpi(self, threshold: float) -> float:
        """Per-person EVPI at `threshold`: E[max_k NMB] - max_k E[NMB]."""
        return evpi_from_nmb(self.nmb(threshold))

    def summary(self) -> PSASummary:
        """The usual PSA summary table: per strategy the mean and 95% interval (2.5th and 97.5th percentiles) of
        cost, QALYs and life years, and the incremental analysis (dominance, ICERs) of the means."""
        outcomes = {"cost": self.cost, "qalys": self.qalys, "life_years": self.life_years}
        rows = tuple(
            StrategySummary(
                name=name,
                **{
                    key: Interval(
                        float(values[:, k].mean()),
                        percentile(values[:, k], 2.5),
                        percentile(values[:, k], 97.5),
                    )
                    for key, values in outcomes.items()
                },
            )
            for k, name in enumerate(self.strategies)
        )
        return PSASummary(
            strategies=rows,
            incremental=incremental_analysis(
                list(self.strategies), [r.cost.mean for r in rows], [r.qalys.mean for r in rows]
            ),
        )

    def _index(self, name: str) -> int:
        try:
            return self.strategies.index(name)
        except ValueError:
            raise ModelError(f"strategy {name!r} is unknown; allowed: {', '.join(self.strategies)}") from None


@dataclass(frozen=True)
class Interval:
    """A PSA mean with its 95% interval (the 2.5th and 97.5th percentiles of the draws)."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class StrategySummary:
    name: str
    cost: Interval
    qalys: Interval
    life_years: Interval


@dataclass(frozen=True)
class PSASummary:
    """`PSAResult.summary()`: per strategy means and intervals, and the incremental analysis of the means."""

    strategies: tuple[StrategySummary, ...]
    incremental: IncrementalAnalysis


def percentile(values: FloatArray, q: float) -> float:
    """The q-th percentile of a 1-D array, linear between order statistics: numpy's default method, to the bit.

    `np.percentile` reaches `np.unique`, which imports `numpy.ma` (30 to 60 ms, a twentieth of the whole command's
    budget for 10,000 draws); this takes the two order statistics with `np.partition` and interpolates as numpy's
    `_lerp` does. NaN in, NaN out."""
    n = int(values.shape[0])
    if np.isnan(values).any():
        return math.nan
    position = (n - 1) * (q / 100)  # numpy's virtual index for its default method, the same operations
    below = min(max(math.floor(position), 0), n - 1)
    above = min(below + 1, n - 1)
    t = position - below
    ordered = np.partition(values, (below, above))
    a, b = float(ordered[below]), float(ordered[above])
    if t >= 0.5:
        return b - (b - a) * (1 - t)
    return a + (b - a) * t


def evpi_from_nmb(nmb: FloatArray) -> float:
    """EVPI from an (N, K) array of net benefits: mean of the per-draw maximum minus the maximum of the means."""
    return float(np.mean(np.max(nmb, axis=1)) - np.max(np.mean(nmb, axis=0)))


def run_psa(
    model: Model | CompiledModel,
    *,
    draws: int,
    seed: int,
    chunk_size: int | None = None,
    keep_parameters: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> PSAResult:
    """Run `draws` parameter sets in chunks of `chunk_size`; `progress(done, total)` is called after each chunk.

    The result does not depend on `chunk_size` (see the module docstring). By default a chunk holds about 50,000
    (cycle, draw) values per array (500 draws of a 100-cycle model), which keeps each array in the CPU cache: on this
    machine that was twice as fast as chunks of 1,000 or more for the SDR model (docs/benchmarks.md).
    """
    n = _check_draws(draws)
    compiled = model if isinstance(model, CompiledModel) else compile_model(model)
    if chunk_size is None:
        chunk_size = max(100, min(5000, 50_000 // compiled.T))
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise PSAError(f"chunk_size is {chunk_size!r}; allowed: a whole number >= 1")
    sampler = ParameterSampler(compiled.model, seed)
    K = len(compiled.strategies)
    cost, qalys, ly = np.empty((n, K)), np.empty((n, K)), np.empty((n, K))
    # kept draws go into arrays allocated once: keeping each chunk's small arrays alive instead fragmented the heap so
    # that glibc returned and re-faulted the large per-chunk arrays, which made the SDR PSA twice as slow
    kept: dict[str, FloatArray] = (
        {name: np.empty(n) for name in compiled.model.parameter_names} if keep_parameters else {}
    )
    done = 0
    while done < n:
        m = min(chunk_size, n - done)
        values = sampler.draw(m)
        batch, _ = compiled.evaluate(values)
        cost[done : done + m] = batch.cost
        qalys[done : done + m] = batch.qalys
        ly[done : done + m] = batch.life_years
        for name, array in kept.items():
            array[done : done + m] = values[name]
        done += m
        if progress is not None:
            progress(done, n)
    return PSAResult(compiled.strategies, seed, cost, qalys, ly, kept)
