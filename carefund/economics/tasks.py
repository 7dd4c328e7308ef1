"""Runs of a shipped model through the task queue: every run the page or the API starts for a visitor goes here,
never inside the request (the request only checks the input and queues it).

`model_run_enqueue` refuses, before anything is queued: more draws than `ECONOMICS_MAX_DRAWS`; a person (an
address) who has started `ECONOMICS_RUNS_PER_ADDRESS` runs recently (django-ratelimit, in the database); and any new run
while `ECONOMICS_QUEUE_CAP` runs wait or run (counted in the database backend's table). The task rebuilds the
overrides from JSON-safe arguments and calls `report.run_with_overrides`; its return value (the command's JSON, the
verdict on the claim and the plots as SVG) is stored by the task backend.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited
from django_tasks import TaskResult, task

from carefund.economics.modelfile import load_model
from carefund.economics.report import Overrides, run_with_overrides

RATE_GROUP = "economics.model_run"


class RunRefusedError(Exception):
    """A run that is not queued: `message` says why in plain words and what to do; `status` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


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
        "evidence": {k: list(v) for k, v in o.evidence.items()},
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
        evidence={str(k): (float(v[0]), float(v[1]), str(v[2])) for k, v in (data.get("evidence") or {}).items()},
    )


@task()
def economics_model_run(*, model: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Run shipped model `model` with `overrides` (as made by `overrides_to_json`)."""
    return run_with_overrides(load_model(model), overrides_from_json(overrides))


def queued_model_runs() -> int:
    """Model runs waiting or running in the database backend (0 with a backend that keeps no queue)."""
    from django_tasks import task_backends
    from django_tasks_db.backend import DatabaseBackend

    backend = task_backends[economics_model_run.backend]
    if not isinstance(backend, DatabaseBackend):
        return 0
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(
        task_path=economics_model_run.module_path, status__in=["READY", "RUNNING"]
    ).count()


def model_run_enqueue(*, request: HttpRequest, model: str, overrides: Overrides) -> TaskResult[dict[str, Any]]:
    """Queue a run of shipped model `model` with `overrides` (already checked by `report.apply_overrides`), or
    raise RunRefusedError (see the module docstring). The address is counted only for a run that is queued."""
    limit = settings.ECONOMICS_MAX_DRAWS
    if overrides.psa > limit:
        raise RunRefusedError(f"PSA draws: at most {limit:,} here; run more with the carefund command.", 422)
    if queued_model_runs() >= settings.ECONOMICS_QUEUE_CAP:
        raise RunRefusedError(
            "Many model runs are waiting already. Please try again in a few minutes.",
            503,
        )
    if is_ratelimited(
        request, group=RATE_GROUP, key="ip", rate=settings.ECONOMICS_RUNS_PER_ADDRESS, method="POST", increment=True
    ):
        raise RunRefusedError(
            "You have started many model runs in a short time. Please wait a while (up to an hour) and try again.",
            429,
        )
    return economics_model_run.enqueue(model=model, overrides=overrides_to_json(overrides))
