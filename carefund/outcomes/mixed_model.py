"""The linear mixed model of the evaluation: value = b0 + b1 * years + u0_i + u1_i * years + e, with a random
intercept and slope per child (u_i ~ N(0, G), G unstructured 2x2) and e ~ N(0, s^2), fitted by REML.

It is the model statsmodels' MixedLM fits (the tests check that both give the same estimate and standard error),
computed from each child's sufficient statistics (n, sums of t, t^2, y, t*y, y^2): with the random-effects design
equal to the fixed one, every child's contribution to the likelihood is a 2x2 computation, so one evaluation of
the likelihood for 10,000 children is a few vectorised numpy operations instead of a Python loop over children.
MixedLM needed 25 s for 1,000 children on the 2-core machine (and did not converge); this needs milliseconds.
See docs/adr/0070-outcomes-evaluation-mixed-model.md.

G = s^2 * L L' with L lower triangular (3 parameters); b and s^2 are profiled out, so the optimiser searches 3
numbers (Nelder-Mead). Standard error of b: sqrt(s^2 * [sum X'H^-1 X]^-1), H_i = I + X_i L L' X_i'
(the usual GLS covariance)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize


@dataclass(frozen=True)
class MixedFit:
    intercept: float
    slope: float
    slope_se: float
    sigma2: float
    re_cov: tuple[tuple[float, float], tuple[float, float]]  # G
    n_children: int
    n_observations: int
    converged: bool


@dataclass(frozen=True)
class _Stats:
    n: np.ndarray
    a00: np.ndarray  # X'X = [[n, st], [st, stt]]
    a01: np.ndarray
    a11: np.ndarray
    b0: np.ndarray  # X'y = [sy, sty]
    b1: np.ndarray
    c: np.ndarray  # y'y
    total: int


def _sufficient(child: np.ndarray, t: np.ndarray, y: np.ndarray) -> _Stats:
    _, codes = np.unique(child, return_inverse=True)
    k = int(codes.max()) + 1 if len(codes) else 0

    def s(w: np.ndarray | None) -> np.ndarray:
        return np.bincount(codes, weights=w, minlength=k)

    n = s(None)
    return _Stats(n, n, s(t), s(t * t), s(y), s(t * y), s(y * y), len(y))


def _profile(theta: np.ndarray, st: _Stats) -> tuple[float, np.ndarray, np.ndarray, float]:
    """-2 x REML log-likelihood (constants dropped) at L = [[t0, 0], [t1, t2]], with beta-hat, P and RSS."""
    l00, l10, l11 = theta
    # Psi = L L'
    p00, p01, p11 = l00 * l00, l00 * l10, l10 * l10 + l11 * l11
    a00, a01, a11 = st.a00, st.a01, st.a11
    # B = I + A Psi (2x2, not symmetric)
    m00 = 1 + a00 * p00 + a01 * p01
    m01 = a00 * p01 + a01 * p11
    m10 = a01 * p00 + a11 * p01
    m11 = 1 + a01 * p01 + a11 * p11
    det = m00 * m11 - m01 * m10
    # Psi B^-1 (2x2): Psi @ adj(B) / det
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    w00 = p00 * i00 + p01 * i10
    w01 = p00 * i01 + p01 * i11
    w10 = p01 * i00 + p11 * i10
    w11 = p01 * i01 + p11 * i11
    # A W A, A W b, b' W b with W = Psi B^-1 (symmetric in exact arithmetic)
    aw00 = a00 * w00 + a01 * w10
    aw01 = a00 * w01 + a01 * w11
    aw10 = a01 * w00 + a11 * w10
    aw11 = a01 * w01 + a11 * w11
    b0, b1 = st.b0, st.b1
    big_p = np.array(
        [
            [np.sum(a00 - (aw00 * a00 + aw01 * a01)), np.sum(a01 - (aw00 * a01 + aw01 * a11))],
            [np.sum(a01 - (aw10 * a00 + aw11 * a01)), np.sum(a11 - (aw10 * a01 + aw11 * a11))],
        ]
    )
    q = np.array([np.sum(b0 - (aw00 * b0 + aw01 * b1)), np.sum(b1 - (aw10 * b0 + aw11 * b1))])
    wb0 = w00 * b0 + w01 * b1
    wb1 = w10 * b0 + w11 * b1
    r = float(np.sum(st.c - (b0 * wb0 + b1 * wb1)))
    # 2x2 algebra by hand (no LAPACK call: on a shared machine BLAS threads spin for such tiny work)
    det_p = big_p[0, 0] * big_p[1, 1] - big_p[0, 1] * big_p[1, 0]
    if not det_p > 0:
        return math.inf, np.full(2, np.nan), big_p, math.nan
    beta = np.array(
        [
            (big_p[1, 1] * q[0] - big_p[0, 1] * q[1]) / det_p,
            (big_p[0, 0] * q[1] - big_p[1, 0] * q[0]) / det_p,
        ]
    )
    sign, logdet_p = 1.0, math.log(det_p)
    rss = r - float(q[0] * beta[0] + q[1] * beta[1])
    dof = st.total - 2
    if sign <= 0 or rss <= 0 or np.any(det <= 0):
        return math.inf, beta, big_p, rss
    value = dof * math.log(rss) + float(np.sum(np.log(det))) + logdet_p
    return value, beta, big_p, rss


def _moment_start(st: _Stats) -> np.ndarray:
    """Starting values from each child's own least-squares line (children with two or more distinct times): the
    spread of their intercepts and slopes, less the residual noise, estimates G; the pooled residual variance s^2."""
    det = st.a00 * st.a11 - st.a01 * st.a01
    ok = det > 1e-9 * np.maximum(st.a00 * st.a11, 1e-300)
    if ok.sum() < 3:
        return np.array([1.0, 0.0, 0.3])
    a00, a01, a11, b0, b1 = st.a00[ok], st.a01[ok], st.a11[ok], st.b0[ok], st.b1[ok]
    d = det[ok]
    icpt = (a11 * b0 - a01 * b1) / d
    slope = (a00 * b1 - a01 * b0) / d
    rss = st.c[ok] - (icpt * b0 + slope * b1)
    dof = float(np.sum(st.n[ok] - 2))
    sigma2 = float(np.sum(rss)) / dof if dof > 0 else 1.0
    sigma2 = sigma2 if sigma2 > 1e-12 else 1.0
    g = np.cov(np.vstack([icpt, slope]))
    # the sampling noise of each child's line is s^2 (X'X)^-1; take its average off, keeping G positive definite
    noise = sigma2 * np.array([[np.mean(a11 / d), -np.mean(a01 / d)], [-np.mean(a01 / d), np.mean(a00 / d)]])
    psi = (g - noise) / sigma2
    w, v = np.linalg.eigh(psi)
    psi = (v * np.maximum(w, 1e-3 * max(float(w.max()), 1e-3))) @ v.T
    chol = np.linalg.cholesky(psi)
    return np.array([chol[0, 0], chol[1, 0], chol[1, 1]])


def fit_random_slope(child: np.ndarray, years: np.ndarray, value: np.ndarray) -> MixedFit:
    """REML fit of value ~ years with a random intercept and slope per child (see the module's docstring)."""
    t = np.asarray(years, dtype=float)
    y = np.asarray(value, dtype=float)
    st = _sufficient(np.asarray(child), t, y)
    n_children = len(st.n)
    if n_children < 2 or st.total < 4 or len(np.unique(t)) < 2:
        raise ValueError("too few children or time points to fit a random slope per child")
    # Nelder-Mead: three parameters, no gradient and no BLAS (L-BFGS-B's numerical gradient and BLAS threads cost
    # more than the likelihood itself here).
    options = {"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000, "maxfev": 8000}
    best = optimize.minimize(lambda th: _profile(th, st)[0], _moment_start(st), method="Nelder-Mead", options=options)
    if not math.isfinite(best.fun):  # a degenerate start: fall back to a modest random intercept and slope
        best = optimize.minimize(
            lambda th: _profile(th, st)[0], np.array([1.0, 0.0, 0.3]), method="Nelder-Mead", options=options
        )
    theta = best.x
    _, beta, big_p, rss = _profile(theta, st)
    dof = st.total - 2
    sigma2 = rss / dof
    cov_beta = sigma2 * np.linalg.inv(big_p)
    l00, l10, l11 = theta
    g = sigma2 * np.array([[l00 * l00, l00 * l10], [l00 * l10, l10 * l10 + l11 * l11]])
    return MixedFit(
        intercept=float(beta[0]),
        slope=float(beta[1]),
        slope_se=float(math.sqrt(cov_beta[1, 1])),
        sigma2=float(sigma2),
        re_cov=((float(g[0, 0]), float(g[0, 1])), (float(g[1, 0]), float(g[1, 1]))),
        n_children=n_children,
        n_observations=st.total,
        converged=bool(best.success and math.isfinite(best.fun)),
    )
