"""Background runs of a shipped model with overrides (large PSAs from the page and the API).

Thin: the task rebuilds the overrides from JSON-safe arguments and calls `report.run_with_overrides`; its return
value (the command's JSON, the verdict on the claim and the plots as SVG) is stored by the task backend.
"""

from __future__ import annotations

from typing import Any

from django_tasks import task

from carefund.economics.modelfile import load_model
from carefund.economics.report import Overrides, run_with_overrides


def overrides_to_json(o: Overrides) -> dict[str, Any]:
    return {
        "values": dict(o.values),
        "cycles": o.cycles,
        "discount_costs": o.discount_costs,
        "discount_effects": o.discount_effects,
        "thresholds": None if o.thresholds is None else list(o.thresholds),
        "psa": o.psa,
        "seed": o.seed,
        "evppi": list(o.evppi),
    }


def overrides_from_json(data: dict[str, Any]) -> Overrides:
    thresholds = data.get("thresholds")
    return Overrides(
        values={str(k): float(v) for k, v in (data.get("values") or {}).items()},
        cycles=data.get("cycles"),
        discount_costs=data.get("discount_costs"),
        discount_effects=data.get("discount_effects"),
        thresholds=None if thresholds is None else tuple(float(t) for t in thresholds),
        psa=int(data.get("psa") or 0),
        seed=data.get("seed"),
        evppi=tuple(str(g) for g in data.get("evppi") or ()),
    )


@task()
def economics_model_run(*, model: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Run shipped model `model` with `overrides` (as made by `overrides_to_json`)."""
    return run_with_overrides(load_model(model), overrides_from_json(overrides))
