"""Parameter distributions for probabilistic sensitivity analysis (PSA).

Each `Distribution` is a frozen description in one canonical parametrisation; build it with the helpers
(`beta(alpha, beta)`, `beta_from_mean_se(mean, se)`, `gamma_from_mean_se(mean, se)`, ...) which validate
their inputs and raise `DistributionError` naming the parameter and what is allowed.

Canonical parametrisations (numpy/scipy conventions):

=========  =========================  ==========================================
kind       params                     meaning
=========  =========================  ==========================================
fixed      (value,)                   no uncertainty
beta       (alpha, beta)              alpha > 0, beta > 0; support [0, 1]
gamma      (shape, scale)             shape > 0, scale > 0; mean = shape * scale
lognormal  (meanlog, sdlog)           log X ~ Normal(meanlog, sdlog), sdlog > 0
normal     (mean, sd)                 sd > 0
uniform    (low, high)                low < high
=========  =========================  ==========================================

Dirichlet draws (multinomial transitions) are described by `carefund.economics.model.DirichletGroup`
because one Dirichlet defines several parameters at once.

Sampling goes through the inverse CDF (`ppf`) of uniform scores so that a Gaussian copula can correlate any
marginals: independent parameters use ``u = rng.random(n)``; correlated ones use ``u = Phi(z @ L.T)``.
Pure numpy/scipy: no Django.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DistributionKind = Literal["fixed", "beta", "gamma", "lognormal", "normal", "uniform"]
DISTRIBUTION_KINDS: tuple[str, ...] = ("fixed", "beta", "gamma", "lognormal", "normal", "uniform")


class DistributionError(ValueError):
    """An invalid distribution parameter; the message names the parameter and what is allowed."""


def _finite(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise DistributionError(f"{name} is {value!r}; allowed: a finite number")
    return v


def _positive(name: str, value: float) -> float:
    v = _finite(name, value)
    if v <= 0:
        raise DistributionError(f"{name} is {value!r}; allowed: a number greater than 0")
    return v


@dataclass(frozen=True)
class Distribution:
    """One parameter's uncertainty in canonical form (see the module docstring). Build with the helpers."""

    kind: DistributionKind
    params: tuple[float, ...]

    @property
    def mean(self) -> float:
        """The distribution's mean (for `fixed`, its value)."""
        k, p = self.kind, self.params
        if k == "fixed":
            return p[0]
        if k == "beta":
            return p[0] / (p[0] + p[1])
        if k == "gamma":
            return p[0] * p[1]
        if k == "lognormal":
            return math.exp(p[0] + p[1] ** 2 / 2)
        if k == "normal":
            return p[0]
        return (p[0] + p[1]) / 2

    def ppf(self, u: FloatArray) -> FloatArray:
        """Inverse CDF at uniform scores `u` in (0, 1) (any shape); `fixed` returns its value everywhere."""
        k, p = self.kind, self.params
        u = np.asarray(u, dtype=np.float64)
        if k == "fixed":
            return np.full(u.shape, p[0])
        from scipy import special  # imported when first needed: a deterministic run starts without scipy

        if k == "beta":
            return np.asarray(special.betaincinv(p[0], p[1], u), dtype=np.float64)
        if k == "gamma":
            return np.asarray(special.gammaincinv(p[0], u) * p[1], dtype=np.float64)
        if k == "lognormal":
            return np.asarray(np.exp(p[0] + p[1] * special.ndtri(u)), dtype=np.float64)
        if k == "normal":
            return np.asarray(p[0] + p[1] * special.ndtri(u), dtype=np.float64)
        return p[0] + (p[1] - p[0]) * u

    def quantile(self, q: float) -> float:
        """The q-quantile as a float (e.g. 0.025 and 0.975 for a one-way sensitivity range)."""
        if not 0 < q < 1:
            raise DistributionError(f"q is {q!r}; allowed: a number strictly between 0 and 1")
        return float(self.ppf(np.array([q]))[0])

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        """n independent draws with numpy's own samplers (faster than the inverse CDF; a stream read in blocks gives
        the same numbers as read at once, because each draw consumes the stream in order)."""
        k, p = self.kind, self.params
        if k == "fixed":
            return np.full(n, p[0])
        if k == "beta":
            return rng.beta(p[0], p[1], n)
        if k == "gamma":
            return rng.gamma(p[0], p[1], n)
        if k == "lognormal":
            return rng.lognormal(p[0], p[1], n)
        if k == "normal":
            return rng.normal(p[0], p[1], n)
        return rng.uniform(p[0], p[1], n)

    def describe(self) -> str:
        """A short human description, e.g. ``beta(alpha=12, beta=88)``."""
        names = {
            "fixed": ("value",),
            "beta": ("alpha", "beta"),
            "gamma": ("shape", "scale"),
            "lognormal": ("meanlog", "sdlog"),
            "normal": ("mean", "sd"),
            "uniform": ("low", "high"),
        }[self.kind]
        return f"{self.kind}(" + ", ".join(f"{n}={v:g}" for n, v in zip(names, self.params, strict=True)) + ")"


# ------------------------------------------------------------------------------------------------ constructors
def fixed(value: float) -> Distribution:
    """No uncertainty: every draw is `value`."""
    return Distribution("fixed", (_finite("value", value),))


def beta(alpha: float, beta: float) -> Distribution:
    """Beta(alpha, beta) for probabilities and utilities in [0, 1]."""
    return Distribution("beta", (_positive("alpha", alpha), _positive("beta", beta)))


def beta_from_mean_se(mean: float, se: float) -> Distribution:
    """Beta by the method of moments: needs 0 < mean < 1 and 0 < se**2 < mean * (1 - mean)."""
    m = _finite("mean", mean)
    if not 0 < m < 1:
        raise DistributionError(f"mean is {mean!r}; allowed: a number strictly between 0 and 1 for a beta")
    s = _positive("se", se)
    if s * s >= m * (1 - m):
        raise DistributionError(
            f"se is {se!r}; allowed for a beta with mean {m:g}: "
            f"less than sqrt(mean*(1-mean)) = {math.sqrt(m * (1 - m)):g}"
        )
    k = m * (1 - m) / (s * s) - 1
    return beta(m * k, (1 - m) * k)


def beta_from_counts(events: float, total: float) -> Distribution:
    """Beta(events, total - events) from an observed proportion; needs 0 < events < total."""
    e = _positive("events", events)
    t = _positive("total", total)
    if e >= t:
        raise DistributionError(f"events is {events!r}; allowed: fewer than total ({total!r})")
    return beta(e, t - e)


def gamma(shape: float, scale: float) -> Distribution:
    """Gamma(shape, scale) for costs and rates (non-negative, right-skewed)."""
    return Distribution("gamma", (_positive("shape", shape), _positive("scale", scale)))


def gamma_from_mean_se(mean: float, se: float) -> Distribution:
    """Gamma by the method of moments: shape = (mean/se)**2, scale = se**2/mean; needs mean > 0, se > 0."""
    m = _positive("mean", mean)
    s = _positive("se", se)
    return gamma((m / s) ** 2, s * s / m)


def lognormal(meanlog: float, sdlog: float) -> Distribution:
    """Lognormal with log X ~ Normal(meanlog, sdlog) (relative risks, hazard ratios)."""
    return Distribution("lognormal", (_finite("meanlog", meanlog), _positive("sdlog", sdlog)))


def lognormal_from_mean_se(mean: float, se: float) -> Distribution:
    """Lognormal whose mean and standard deviation on the natural scale are `mean` and `se` (mean > 0, se > 0)."""
    m = _positive("mean", mean)
    s = _positive("se", se)
    sdlog2 = math.log(1 + (s / m) ** 2)
    return lognormal(math.log(m) - sdlog2 / 2, math.sqrt(sdlog2))


def lognormal_from_ci(estimate: float, low: float, high: float, level: float = 0.95) -> Distribution:
    """Lognormal from a point estimate and its confidence interval (e.g. a relative risk 0.51 (0.365 to 0.710))."""
    e = _positive("estimate", estimate)
    lo = _positive("low", low)
    hi = _positive("high", high)
    if not lo < hi:
        raise DistributionError(f"low is {low!r}; allowed: less than high ({high!r})")
    if not 0 < level < 1:
        raise DistributionError(f"level is {level!r}; allowed: a number strictly between 0 and 1")
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    return lognormal(math.log(e), (math.log(hi) - math.log(lo)) / (2 * z))


def normal(mean: float, sd: float) -> Distribution:
    """Normal(mean, sd)."""
    return Distribution("normal", (_finite("mean", mean), _positive("sd", sd)))


def uniform(low: float, high: float) -> Distribution:
    """Uniform on [low, high]; needs low < high."""
    lo = _finite("low", low)
    hi = _finite("high", high)
    if not lo < hi:
        raise DistributionError(f"low is {low!r}; allowed: less than high ({high!r})")
    return Distribution("uniform", (lo, hi))


def dirichlet_alphas(alphas: tuple[float, ...]) -> tuple[float, ...]:
    """Validate Dirichlet concentration parameters: at least two, each > 0."""
    if len(alphas) < 2:
        raise DistributionError(f"alphas has {len(alphas)} value(s); allowed: at least two numbers greater than 0")
    return tuple(_positive(f"alphas[{i}]", a) for i, a in enumerate(alphas))
