"""hesim's total hip replacement model written as a model file (benchmarks/models/thr.toml) reproduces hesim's PSA
means (205,000 draws, measured for issue 21) within Monte Carlo error: the Weibull revision hazard in the time since
surgery, five correlated coefficients, mortality by age band and sex, right-Riemann counting, continuous discounting
and a prosthesis paid at time 0, all through the model language."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from carefund.economics.engine import compile_model
from carefund.economics.modelfile import load_model, to_engine_model
from carefund.economics.psa import run_psa

THR = Path(__file__).resolve().parents[3] / "benchmarks" / "models" / "thr.toml"
HESIM = {"standard": (512.1, 14.6312), "np1": (612.4, 14.6755)}
HESIM_DRAWS = 205_000


def test_thr_psa_means_agree_with_hesim_within_monte_carlo_error():
    draws = 20_000
    result = run_psa(compile_model(to_engine_model(load_model(str(THR)))), draws=draws, seed=21, keep_parameters=False)
    for k, name in enumerate(result.strategies):
        for values, published in ((result.cost[:, k], HESIM[name][0]), (result.qalys[:, k], HESIM[name][1])):
            se = float(np.std(values, ddof=1)) * math.sqrt(1 / draws + 1 / HESIM_DRAWS)
            assert abs(float(values.mean()) - published) < 4 * se, (name, float(values.mean()), published)


def test_thr_base_case_by_hand_in_its_first_two_cycles():
    from carefund.economics.report import run_model

    standard, np1 = run_model(load_model(str(THR))).strategies
    # the prosthesis is paid at time 0, undiscounted
    assert dict(standard.costs_by_name)["prosthesis"] == 394.0
    assert dict(np1.costs_by_name)["prosthesis"] == 579.0
    # cycle 1: 2% die in the operation, the rest reach "successful primary"
    assert standard.trace[1].tolist() == pytest.approx([0, 0.98, 0, 0, 0.02], abs=1e-15)
    # cycle 2 (age 62: the 55-64 band of women, 0.0067): the Weibull revision probability for t = 2
    scale, shape = math.exp(-5.490935 - 0.0367022 * 60), math.exp(0.3740968)
    p_revision = 1 - math.exp(scale * (1 - 2**shape))
    expected = [0, 0.98 * (1 - p_revision - 0.0067), 0.98 * p_revision, 0, 0.02 + 0.98 * 0.0067]
    assert standard.trace[2].tolist() == pytest.approx(expected, abs=1e-15)
    p_np1 = 1 - math.exp(scale * math.exp(-1.344474) * (1 - 2**shape))
    assert np1.trace[2][2] == pytest.approx(0.98 * p_np1, abs=1e-15)
