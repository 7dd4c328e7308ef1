"""Value of information from a PSA: EVPI and EVPPI.

EVPI (expected value of perfect information) per person at a threshold is E[max_k NMB_k] - max_k E[NMB_k].

EVPPI for a chosen subset of parameters phi uses the regression method of Strong, Oakley & Brennan (2014),
"Estimating multiparameter partial expected value of perfect information from a probabilistic sensitivity analysis
sample: a nonparametric regression approach", Medical Decision Making 34(3):311-326 (doi:10.1177/0272989X13505910):
the conditional expectation g_k(phi) = E[NMB_k - NMB_0 | phi] is estimated by regressing the incremental net benefit
of each strategy against the first on phi, and

    EVPPI = mean over draws of max_k g_k(phi)  -  max_k mean over draws of g_k(phi)      (g_0 = 0).

Instead of a GAM we use an unpenalised least-squares regression spline (no extra dependency): for each parameter a
cubic truncated-power basis with knots at quantiles (`knots`, default 6), and for several parameters also all
pairwise products of the linear terms. With a smooth g this recovers the conditional mean well for a few parameters
(the paper's recommended range for a GAM is up to about four). Like all regression estimators it is biased upwards
by noise when the sample is small. Tested against a case with an analytic answer (tests/test_psa_voi.py).
Pure numpy: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from carefund.economics.model import ModelError
from carefund.economics.psa import PSAResult, evpi_from_nmb

FloatArray = npt.NDArray[np.float64]


def _basis(x: FloatArray, knots: int) -> FloatArray:
    """Cubic truncated power basis of one (standardised) variable: x, x^2, x^3, (x - k_j)_+^3."""
    z = (x - x.mean()) / (x.std() or 1.0)
    cols = [z, z**2, z**3]
    if knots > 0:
        qs = np.quantile(z, np.linspace(0, 1, knots + 2)[1:-1])
        cols.extend(np.clip(z - q, 0, None) ** 3 for q in np.unique(qs))
    return np.column_stack(cols)


def design_matrix(phi: FloatArray, knots: int = 6) -> FloatArray:
    """Regression design for parameters phi (N, p): intercept, a spline per column, pairwise linear interactions."""
    n, p = phi.shape
    blocks: list[FloatArray] = [np.ones((n, 1))]
    std = [(phi[:, j] - phi[:, j].mean()) / (phi[:, j].std() or 1.0) for j in range(p)]
    for j in range(p):
        blocks.append(_basis(phi[:, j], knots))
    for a in range(p):
        for b in range(a + 1, p):
            blocks.append((std[a] * std[b])[:, None])
    return np.hstack(blocks)


def evppi_from_arrays(nmb: FloatArray, phi: FloatArray, *, knots: int = 6) -> float:
    """EVPPI from net benefits (N, K) and the parameters of interest (N, p) or (N,)."""
    nmb = np.asarray(nmb, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    if phi.ndim == 1:
        phi = phi[:, None]
    n = nmb.shape[0]
    if phi.shape[0] != n:
        raise ModelError(f"parameters have {phi.shape[0]} draws and net benefits {n}; allowed: the same number")
    x = design_matrix(phi, knots)
    if n <= x.shape[1] * 5:
        raise ModelError(
            f"draws is {n}; allowed for EVPPI with {phi.shape[1]} parameter(s): more than {x.shape[1] * 5}"
        )
    inb = nmb[:, 1:] - nmb[:, :1]  # (N, K-1)
    coef, *_ = np.linalg.lstsq(x, inb, rcond=None)
    fitted = np.column_stack([np.zeros(n), x @ coef])
    return float(np.mean(np.max(fitted, axis=1)) - np.max(np.mean(fitted, axis=0)))


def evppi(psa: PSAResult, parameters: Sequence[str], threshold: float, *, knots: int = 6) -> float:
    """EVPPI per person at `threshold` for the named parameters (they must have been kept in the PSA)."""
    missing = [p for p in parameters if p not in psa.parameters]
    if not parameters or missing:
        raise ModelError(
            f"parameters {', '.join(missing) or '(none)'} are not in the PSA; allowed: "
            f"{', '.join(psa.parameters) or 'run the PSA with keep_parameters=True'}"
        )
    phi = np.column_stack([psa.parameters[p] for p in parameters])
    return evppi_from_arrays(psa.nmb(threshold), phi, knots=knots)


def evppi_table(
    psa: PSAResult, groups: Mapping[str, Sequence[str]], thresholds: Sequence[float], *, knots: int = 6
) -> dict[str, dict[str, float]]:
    """{group label: {"20000": evppi, ...}} plus {"EVPI": {...}} for several parameter groups and thresholds."""
    out = {"EVPI": {f"{t:g}": evpi_from_nmb(psa.nmb(t)) for t in thresholds}}
    for label, names in groups.items():
        out[label] = {f"{t:g}": evppi(psa, names, t, knots=knots) for t in thresholds}
    return out
