"""JSON API: economics. Run a shipped model with overrides through the task queue (never inside the request): the
answer is 202 with the run's id and where to ask for it (`GET /api/economics/runs/{id}`), or at once the JSON of
`carefund economics run --json` (plus the verdict on the claim and the budget impact) when the task backend ran it
already. Thin: parse, check (`report.apply_overrides`), queue (`tasks.model_run_enqueue`), return."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, JsonResponse
from django_tasks import TaskResult, TaskResultStatus
from django_tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from carefund.economics.modelfile import ModelFileError, load_model, shipped_models
from carefund.economics.report import Overrides, apply_overrides
from carefund.economics.tasks import RunRefusedError, economics_model_run, model_run_enqueue

router = Router(tags=["economics"])

MAX_API_PSA = 20_000  # larger runs: the page's background task or the command


# Every number from a caller is finite and of a sane size before the model sees it ({"thresholds": [1e309]} was an
# infinity, and an OverflowError: a 500).
FiniteValue = Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)]
Threshold = Annotated[float, Field(allow_inf_nan=False, ge=0, le=1e9)]


class RunIn(Schema):
    values: dict[str, FiniteValue] = Field(default_factory=dict, description="parameter name -> new base value")
    cycles: int | None = Field(default=None, ge=1, le=1000)
    discount_costs: float | None = Field(default=None, ge=0, le=1)
    discount_effects: float | None = Field(default=None, ge=0, le=1)
    thresholds: list[Threshold] | None = Field(default=None, min_length=1, max_length=6)
    psa: int = Field(default=0, ge=0, le=MAX_API_PSA)
    seed: int | None = Field(default=None, ge=0)
    evppi: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="EVPPI groups (needs psa): each comma-separated parameter or Dirichlet group names",
    )


@router.get("/models", response=list[str])
def models_list(request: HttpRequest) -> list[str]:
    return shipped_models()


def _run_answer(result: TaskResult[dict[str, Any]]) -> dict[str, Any] | JsonResponse:
    """A finished run's JSON (without the page's plots), or where it stands: 202 while it waits or runs."""
    if result.status == TaskResultStatus.SUCCESSFUL:
        out = dict(result.return_value or {})
        out.pop("plots", None)
        return out
    where = {"id": str(result.id), "status": str(result.status), "result_url": f"/api/economics/runs/{result.id}"}
    return where if result.is_finished else JsonResponse(where, status=202)


@router.get("/runs/{run_id}")
def model_run_get(request: HttpRequest, run_id: str) -> dict[str, Any] | JsonResponse:
    try:
        result = economics_model_run.get_result(run_id)
    except (TaskResultDoesNotExist, TaskResultMismatch, NotImplementedError, ValueError):
        raise HttpError(404, "No such model run.") from None
    return _run_answer(result)


@router.post("/models/{name}/run")
def model_run(request: HttpRequest, name: str, body: RunIn) -> dict[str, Any] | JsonResponse:
    if name not in shipped_models():
        raise HttpError(404, f"No shipped model {name!r}; shipped models: {', '.join(shipped_models())}.")
    if body.thresholds is not None and any(t < 0 for t in body.thresholds):
        raise HttpError(422, "thresholds: each must be 0 or more pounds per QALY.")
    overrides = Overrides(
        values=body.values,
        cycles=body.cycles,
        discount_costs=body.discount_costs,
        discount_effects=body.discount_effects,
        thresholds=None if body.thresholds is None else tuple(body.thresholds),
        psa=body.psa,
        seed=body.seed,
        evppi=tuple(body.evppi),
    )
    try:
        apply_overrides(load_model(name), overrides)
        result = model_run_enqueue(request=request, model=name, overrides=overrides)
    except ModelFileError as exc:
        raise HttpError(422, f"{exc.key}: {exc.message}" if exc.key else exc.message) from None
    except RunRefusedError as exc:
        raise HttpError(exc.status, exc.message) from None
    return _run_answer(result)
