"""A `ModelSpec` as the engine's `carefund.economics.model.Model`: item for item, nothing rewritten.

Strategy values become `StrategyValue`s (evaluated per strategy by the engine), the life table the lookup ``qx``
(linear between its ages) and each `[tables.NAME]` a step lookup, `[derived]` the engine's `Derived`, and the file's
cycle numbering (1 in the first cycle) the model's `first_cycle`. Validation evaluates through the same compiled
model, so a file is checked and run by one evaluator.
"""

from __future__ import annotations

from typing import Any

from carefund.economics import distributions as d
from carefund.economics import model as m
from carefund.economics.modelfile.spec import COMPLEMENT, Expression, ModelSpec, Parameter

FILE_FIRST_CYCLE = 1
"""Model files count cycles from 1: `cycle` is 1 in the first cycle (the engine's `Model.first_cycle`)."""


def engine_distribution(p: Parameter) -> d.Distribution:
    """The engine's `distributions.Distribution` for a model-file parameter (fixed at its base value if fixed)."""
    q = dict(p.distribution.params)
    kind = p.distribution.kind
    if kind == "beta":
        return d.beta(q["alpha"], q["beta"])
    if kind == "gamma":
        return d.gamma(q["shape"], q["scale"])
    if kind == "lognormal":
        return d.lognormal(q["meanlog"], q["sdlog"])
    if kind == "normal":
        return d.normal(q["mean"], q["sd"])
    if kind == "uniform":
        return d.uniform(q["low"], q["high"])
    return d.fixed(p.value)


def _value(e: Expression) -> m.Value:
    return m.COMPLEMENT if e.text == COMPLEMENT else e.engine_value


def to_engine_model(spec: ModelSpec) -> m.Model:
    """The same model as the engine's `Model` (see the module docstring). Every model-file run goes through this."""
    c = spec.conventions
    lookups: list[m.Lookup] = []
    if spec.life_table is not None:
        lt = spec.life_table
        lookups.append(m.Lookup("qx", lt.ages, lt.qx, "linear", source=lt.source))
    lookups += [m.Lookup(t.name, t.ages, t.values, "step", source=t.source) for t in spec.tables]
    one_off_timing: Any = "time_zero" if c.one_off_timing == "time_zero" else "cycle"
    return m.Model(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        states=tuple(m.State(s.name, s.label, s.dead) for s in spec.states),
        strategies=tuple(m.Strategy(s.name, s.label) for s in spec.strategies),
        transitions=tuple(m.Transition(frm, to, _value(e)) for frm, row in spec.transitions for to, e in row),
        conventions=m.Conventions(
            counting=c.counting,  # type: ignore[arg-type]
            discount_costs=c.discount_costs,
            discount_effects=c.discount_effects,
            discounting=c.discounting,  # type: ignore[arg-type]
            discount_first_cycle=c.discount_first_cycle,
            cycle_length_years=spec.cycle_length_years,
            counting_costs=c.counting_costs or None,  # type: ignore[arg-type]
            counting_effects=c.counting_effects or None,  # type: ignore[arg-type]
            counting_life_years=c.counting_life_years or None,  # type: ignore[arg-type]
        ),
        cycles=spec.cycles,
        parameters=tuple(
            m.Parameter(p.name, p.value, engine_distribution(p), source=p.source, description=p.description)
            for p in spec.parameters
        ),
        dirichlet=tuple(
            m.DirichletGroup(g.parameters, g.alphas, source=g.source, description=g.description) for g in spec.dirichlet
        ),
        derived=tuple(m.Derived(dv.name, dv.expression.text) for dv in spec.derived),
        correlations=tuple(m.Correlation(cor.parameters, cor.matrix) for cor in spec.correlations),
        strategy_values=tuple(
            m.StrategyValue(name, s.name, e.engine_value) for s in spec.strategies for name, e in s.values
        ),
        lookups=tuple(lookups),
        state_costs=tuple(m.StateCost(cname, st.name, e.engine_value) for st in spec.states for cname, e in st.costs),
        state_utilities=tuple(m.StateUtility(st.name, st.utility.engine_value) for st in spec.states),
        transition_costs=tuple(
            m.TransitionCost(tv.name, tv.source, tv.target, tv.value.engine_value, timing=tv.timing)  # type: ignore[arg-type]
            for tv in spec.transition_values
            if tv.kind == "cost"
        ),
        transition_utilities=tuple(
            m.TransitionUtility(tv.source, tv.target, tv.value.engine_value, timing=tv.timing)  # type: ignore[arg-type]
            for tv in spec.transition_values
            if tv.kind == "utility"
        ),
        one_off_costs=tuple(
            m.OneOffCost(cname, e.engine_value, s.name, timing=one_off_timing)
            for s in spec.strategies
            for cname, e in s.one_off_costs
        ),
        initial=tuple((st.name, st.initial.engine_value) for st in spec.states),
        start_age=spec.start_age,
        thresholds=c.thresholds,
        first_cycle=FILE_FIRST_CYCLE,
    )
