"""The public SDR economic case: the claim tested, the plots, and a form to change the key assumptions.

Thin: parse the form, check the changed model, queue the run (`tasks.model_run_enqueue`: never run inside the
request), render; the run's page polls until the worker has stored the result.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_tasks import TaskResultStatus
from django_tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch

from carefund.core.errors import DomainError
from carefund.economics.modelfile import ModelFileError, load_model
from carefund.economics.report import Overrides, apply_overrides, run_with_overrides
from carefund.economics.tasks import RunRefusedError, economics_model_run, model_run_enqueue
from carefund.web.economics.forms import DEFAULT_SEED, SdrAssumptionsForm

MODEL = "sdr"
BASE_PSA = 1000


@lru_cache(maxsize=1)
def _base_run() -> dict[str, Any]:
    """The shipped model as published (deterministic with its seed), computed once per process."""
    return run_with_overrides(load_model(MODEL), Overrides(psa=BASE_PSA, seed=DEFAULT_SEED))


def _context(form: SdrAssumptionsForm, run: dict[str, Any] | None, *, changed: bool) -> dict[str, Any]:
    spec = load_model(MODEL)
    labels = {s.name: s.label for s in spec.strategies}
    if run is not None:  # presentation only: labels and formatted thresholds beside the JSON the command prints
        run = dict(run)
        run["strategy_rows"] = [{**s, "label": labels.get(s["name"], s["name"])} for s in run["strategies"]]
        run["incremental_rows"] = [{**r, "label": labels.get(r["name"], r["name"])} for r in run["incremental"]]
        run["discount_costs_pct"] = f"{run['conventions']['discount_costs'] * 100:g}"
        run["discount_effects_pct"] = f"{run['conventions']['discount_effects'] * 100:g}"
        if "psa" in run:
            run["psa_rows"] = [(f"£{int(t):,}", p) for t, p in run["psa"]["probability_cost_effective"].items()]
    return {
        "form": form,
        "run": run,
        "changed": changed,
        "spec": spec,
        "assumptions": spec.assumptions(),
    }


def _with_registry_evidence(overrides: Overrides) -> Overrides:
    """The treatment effect from the outcomes registry (value and normal uncertainty) instead of the form's number;
    DomainError (InsufficientEvidenceError) with the reason when the registry has too few children."""
    from carefund.outcomes.selectors import EVIDENCE_PARAMETER, registry_evidence

    found = registry_evidence()
    values = {k: v for k, v in overrides.values.items() if k != EVIDENCE_PARAMETER}
    evidence = {EVIDENCE_PARAMETER: (found.estimate, found.standard_error, found.source)}
    return dataclasses.replace(overrides, values=values, evidence=evidence)


def sdr_case(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "web/economics/sdr.html", _context(SdrAssumptionsForm(), _base_run(), changed=False))
    form = SdrAssumptionsForm(request.POST)
    if not form.is_valid():
        return render(request, "web/economics/sdr.html", _context(form, _base_run(), changed=False), status=400)
    overrides = form.overrides()
    if form.cleaned_data.get("evidence") == "registry":
        try:
            overrides = _with_registry_evidence(overrides)
        except DomainError as exc:
            form.add_error("evidence", exc.message)
            return render(request, "web/economics/sdr.html", _context(form, _base_run(), changed=False), status=400)
    try:
        apply_overrides(load_model(MODEL), overrides)  # checked here, so that the form can say what to fix
        result = model_run_enqueue(request=request, model=MODEL, overrides=overrides)
    except ModelFileError as exc:
        form.add_error(None, exc.message if not exc.key else f"{exc.key}: {exc.message}")
        return render(request, "web/economics/sdr.html", _context(form, _base_run(), changed=False), status=400)
    except RunRefusedError as exc:
        form.add_error(None, exc.message)
        return render(request, "web/economics/sdr.html", _context(form, _base_run(), changed=False), status=exc.status)
    if result.status == TaskResultStatus.SUCCESSFUL:  # an immediate backend ran it already
        return render(request, "web/economics/sdr.html", _context(form, result.return_value, changed=True))
    return redirect("economics:sdr_run", result_id=result.id)


def sdr_run(request: HttpRequest, result_id: str) -> HttpResponse:
    try:
        result = economics_model_run.get_result(result_id)
    except (TaskResultDoesNotExist, TaskResultMismatch, NotImplementedError, ValueError):
        raise Http404("No such model run.") from None
    context: dict[str, Any] = {
        "result": result,
        "finished": result.is_finished,
        "failed": result.status == TaskResultStatus.FAILED,
    }
    if result.status == TaskResultStatus.SUCCESSFUL:
        context.update(_context(SdrAssumptionsForm(), result.return_value, changed=True))
    if request.headers.get("HX-Request") == "true":
        return render(request, "web/economics/_run_status.html", context)
    return render(request, "web/economics/run.html", context)
