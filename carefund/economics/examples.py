"""Published textbook cohort models written as `Model`s: used by the golden tests, the benchmarks and the docs.

* `hiv_model()`: Chancellor et al. 1997 (Pharmacoeconomics 12(1):54-66), zidovudine monotherapy against
  zidovudine + lamivudine, in the version of Briggs, Claxton & Sculpher, Decision Modelling for Health Economic
  Evaluation (Oxford University Press, 2006), exercise 2.5; inputs as in heemod's vignette "Reproducing Exact
  Results from DMHEE" (https://github.com/cran/heemod/blob/master/vignettes/reproduction.Rmd).
* `sick_sicker_model()`: the time-independent Sick-Sicker model of Alarid-Escudero F, Krijkamp EM, Enns EA, et al.
  "An Introductory Tutorial on Cohort State-Transition Models in R Using a Cost-Effectiveness Analysis Example",
  Medical Decision Making 2023;43(1):3-20 (doi:10.1177/0272989X221103163; code:
  https://github.com/DARTH-git/cohort-modeling-tutorial-intro, analysis/cSTM_time_indep.R).
* `benchmark_model()`: a 5-state, 60-cycle, 2-strategy model with Dirichlet, beta, gamma and lognormal parameters,
  the size of the hesim/heemod PSA benchmark (used by benchmarks/economics_psa.py).
"""

from __future__ import annotations

import math

from carefund.economics import distributions as d
from carefund.economics.model import (
    COMPLEMENT,
    Conventions,
    Derived,
    DirichletGroup,
    Model,
    OneOffCost,
    Parameter,
    State,
    StateCost,
    StateUtility,
    Strategy,
    Transition,
)

_HIV_COUNTS = {
    # Briggs et al. 2006, table 2.1 (from Chancellor et al. 1997): transitions observed in one year.
    "A": (1251, 350, 116, 17),
    "B": (731, 512, 15),
    "C": (1312, 437),
}


def hiv_model() -> Model:
    """The HIV model under the book's conventions: transitions at the end of each yearly cycle and costs counted from
    year 1 (counting "end", the first cycle discounted), costs discounted at 6% and life years not discounted, the
    combination therapy effect (RR 0.509) and lamivudine cost (2,086.50 pounds) for the first two years only."""
    states = ("A", "B", "C", "D")
    rows = {"A": ("A", "B", "C", "D"), "B": ("B", "C", "D"), "C": ("C", "D")}
    names = {s: tuple(f"p_{s}{t}" for t in rows[s]) for s in rows}
    transitions: list[Transition] = []
    for s, targets in rows.items():
        for t, name in zip(targets, names[s], strict=True):
            transitions.append(Transition(s, t, name, "mono"))
            transitions.append(Transition(s, t, COMPLEMENT if s == t else f"{name} * where(cycle < 2, rr, 1)", "comb"))
    transitions.append(Transition("D", "D", 1.0))
    health = {"A": 2756.0, "B": 3052.0, "C": 9007.0}  # direct medical + community care, Briggs table 2.1
    return Model(
        name="hiv",
        title="HIV: zidovudine monotherapy against zidovudine + lamivudine (Chancellor 1997; Briggs 2006 ex. 2.5)",
        states=tuple(State(s, dead=(s == "D")) for s in states),
        strategies=(Strategy("mono", "Monotherapy"), Strategy("comb", "Combination therapy")),
        transitions=tuple(transitions),
        conventions=Conventions(counting="end", discount_costs=0.06, discount_effects=0.0, discount_first_cycle=True),
        cycles=20,
        parameters=(
            Parameter("rr", 0.509, d.lognormal_from_ci(0.509, 0.365, 0.710), "Chancellor 1997; Briggs 2006 table 2.1"),
            Parameter("c_zido", 2278.0, None, "Briggs 2006 table 2.1 (zidovudine, per year)"),
            Parameter("c_lami", 2086.5, None, "Briggs 2006 table 2.1 (lamivudine, per year)"),
        ),
        dirichlet=tuple(
            DirichletGroup(names[s], tuple(float(x) for x in _HIV_COUNTS[s]), "Briggs 2006 table 2.1 counts")
            for s in rows
        ),
        state_costs=tuple(
            [StateCost("health care", s, c) for s, c in health.items()]
            + [StateCost("zidovudine", s, "c_zido") for s in health]
            + [StateCost("lamivudine", s, "where(cycle < 2, c_lami, 0)", "comb") for s in health]
        ),
        state_utilities=tuple(StateUtility(s, 1.0) for s in health),  # effect = life years
        thresholds=(20000.0, 30000.0),
    )


def sick_sicker_model() -> Model:
    """The time-independent Sick-Sicker model (DARTH): 4 states, 4 strategies, 75 yearly cycles from age 25, costs
    and QALYs discounted at 3% from cycle 0, within-cycle correction by DARTH's Simpson weights."""
    p = [
        # name, base value (analysis/cSTM_time_indep.R), PSA distribution: generate_psa_params() in
        # R/Functions_cSTM_time_indep.R of the same repository; R's rgamma(shape, rate) is gamma(shape, 1 / rate) here.
        ("r_HD", 0.002, d.gamma(20.0, 1 / 10000)),
        ("r_HS1", 0.15, d.gamma(30.0, 1 / 200)),
        ("r_S1H", 0.5, d.gamma(60.0, 1 / 120)),
        ("r_S1S2", 0.105, d.gamma(84.0, 1 / 800)),
        ("hr_S1", 3.0, d.lognormal(math.log(3.0), 0.01)),
        ("hr_S2", 10.0, d.lognormal(math.log(10.0), 0.02)),
        ("hr_S1S2_trtB", 0.6, d.lognormal(math.log(0.6), 0.02)),
        ("c_H", 2000.0, d.gamma(100.0, 20.0)),
        ("c_S1", 4000.0, d.gamma(177.8, 22.5)),
        ("c_S2", 15000.0, d.gamma(225.0, 66.7)),
        ("c_trtA", 12000.0, d.gamma(73.5, 163.3)),
        ("c_trtB", 13000.0, d.gamma(86.2, 150.8)),
        ("u_H", 1.0, d.beta(200.0, 3.0)),
        ("u_S1", 0.75, d.beta(130.0, 45.0)),
        ("u_S2", 0.5, d.beta(230.0, 230.0)),
        ("u_trtA", 0.95, d.beta(300.0, 15.0)),
    ]
    source = "Alarid-Escudero et al. 2023 (a hypothetical model); DARTH-git/cohort-modeling-tutorial-intro"
    derived = (
        Derived("p_HD", "rate_to_prob(r_HD)"),
        Derived("p_HS1", "rate_to_prob(r_HS1)"),
        Derived("p_S1H", "rate_to_prob(r_S1H)"),
        Derived("p_S1S2", "rate_to_prob(r_S1S2)"),
        Derived("p_S1D", "rate_to_prob(r_HD * hr_S1)"),
        Derived("p_S2D", "rate_to_prob(r_HD * hr_S2)"),
        Derived("p_S1S2_trtB", "rate_to_prob(r_S1S2 * hr_S1S2_trtB)"),
    )
    tr = [
        Transition("H", "H", "(1 - p_HD) * (1 - p_HS1)"),
        Transition("H", "S1", "(1 - p_HD) * p_HS1"),
        Transition("H", "D", "p_HD"),
        Transition("S1", "H", "(1 - p_S1D) * p_S1H"),
        Transition("S1", "S1", COMPLEMENT),
        Transition("S1", "S2", "(1 - p_S1D) * p_S1S2"),
        Transition("S1", "D", "p_S1D"),
        Transition("S2", "S2", COMPLEMENT),
        Transition("S2", "D", "p_S2D"),
        Transition("D", "D", 1.0),
    ]
    for strat in ("B", "AB"):
        tr.append(Transition("S1", "S2", "(1 - p_S1D) * p_S1S2_trtB", strat))
    costs = [StateCost("health care", "H", "c_H"), StateCost("health care", "S1", "c_S1")]
    costs.append(StateCost("health care", "S2", "c_S2"))
    for strat in ("A", "AB"):
        costs += [StateCost("treatment A", s, "c_trtA", strat) for s in ("S1", "S2")]
    for strat in ("B", "AB"):
        costs += [StateCost("treatment B", s, "c_trtB", strat) for s in ("S1", "S2")]
    utilities = [StateUtility("H", "u_H"), StateUtility("S1", "u_S1"), StateUtility("S2", "u_S2")]
    utilities += [StateUtility("S1", "u_trtA", strat) for strat in ("A", "AB")]
    return Model(
        name="sick_sicker",
        title="Sick-Sicker (Alarid-Escudero et al. 2023)",
        states=(State("H", "Healthy"), State("S1", "Sick"), State("S2", "Sicker"), State("D", "Dead", dead=True)),
        strategies=(
            Strategy("SoC", "Standard of care"),
            Strategy("A", "Strategy A"),
            Strategy("B", "Strategy B"),
            Strategy("AB", "Strategy AB"),
        ),
        transitions=tuple(tr),
        conventions=Conventions(counting="simpson_darth", discount_costs=0.03, discount_effects=0.03),
        cycles=75,
        start_age=25.0,
        parameters=tuple(Parameter(n, b, dist, source) for n, b, dist in p),
        derived=derived,
        state_costs=tuple(costs),
        state_utilities=tuple(utilities),
        thresholds=(100000.0,),
    )


def benchmark_model(cycles: int = 60) -> Model:
    """A 5-state progressive model with two strategies for speed benchmarks (made-up numbers, not evidence).

    States: well, mild, moderate, severe, dead. Transitions from each living state are a Dirichlet row; the new
    treatment multiplies progression by a lognormal hazard ratio (converted through rates); costs are gamma,
    utilities beta; the new treatment has a one-off cost.
    """
    states = ("well", "mild", "moderate", "severe", "dead")
    counts = {
        "well": (800.0, 150.0, 30.0, 10.0, 10.0),
        "mild": (700.0, 200.0, 60.0, 40.0),
        "moderate": (750.0, 180.0, 70.0),
        "severe": (850.0, 150.0),
    }
    groups = []
    tr: list[Transition] = []
    for i, s in enumerate(states[:-1]):
        targets = states[i:]
        names = tuple(f"p_{s}_{t}" for t in targets)
        groups.append(DirichletGroup(names, counts[s], "assumption: benchmark"))
        for t, n in zip(targets, names, strict=True):
            tr.append(Transition(s, t, n, "usual"))
            tr.append(Transition(s, t, COMPLEMENT if t == s else f"rate_to_prob(prob_to_rate({n}) * hr)", "new"))
    tr.append(Transition("dead", "dead", 1.0))
    params = [Parameter("hr", 0.7, d.lognormal_from_mean_se(0.7, 0.1), "assumption: benchmark")]
    for s, c, u in (("well", 1000.0, 0.9), ("mild", 3000.0, 0.75), ("moderate", 8000.0, 0.6), ("severe", 20000.0, 0.4)):
        params.append(Parameter(f"c_{s}", c, d.gamma_from_mean_se(c, c * 0.2), "assumption: benchmark"))
        params.append(Parameter(f"u_{s}", u, d.beta_from_mean_se(u, 0.05), "assumption: benchmark"))
    params.append(Parameter("c_new", 2500.0, d.gamma_from_mean_se(2500.0, 250.0), "assumption: benchmark"))
    return Model(
        name="benchmark",
        title="5-state benchmark model",
        states=tuple(State(s, dead=(s == "dead")) for s in states),
        strategies=(Strategy("usual"), Strategy("new")),
        transitions=tuple(tr),
        conventions=Conventions(counting="half_cycle", discount_costs=0.035, discount_effects=0.035),
        cycles=cycles,
        parameters=tuple(params),
        dirichlet=tuple(groups),
        state_costs=tuple(StateCost("care", s, f"c_{s}") for s in states[:-1])
        + tuple(StateCost("treatment", s, "c_new", "new") for s in states[:-1]),
        state_utilities=tuple(StateUtility(s, f"u_{s}") for s in states[:-1]),
        one_off_costs=(OneOffCost("start-up", 5000.0, "new"),),
    )
