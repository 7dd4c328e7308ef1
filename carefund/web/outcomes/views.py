"""Outcomes pages: thin views over `outcomes.selectors` (permission-checked, audited) and `outcomes.services`.

- a child's measurements over time (the family's chart and table; the clinician's record, correct and enrol links);
- a clinician's forms: enrol, record, correct, adverse event;
- a centre's follow-up list;
- the evaluation for commissioners and health economists (tables and charts; small cells suppressed)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from carefund.core.errors import DomainError, NotFoundError, PermissionDeniedError
from carefund.outcomes import selectors, services
from carefund.outcomes.evaluation import OVERALL
from carefund.outcomes.models import Observation
from carefund.web.outcomes import charts
from carefund.web.outcomes.forms import (
    AdverseEventForm,
    CorrectionForm,
    EnrolmentForm,
    EvaluationFilterForm,
    ObservationForm,
)


def _form_error(form: Any, exc: DomainError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message.split(": ", 1)[1] if field and ": " in exc.message else exc.message)


def _outcomes_or_404(request: HttpRequest, pk: int, *, with_history: bool = False) -> selectors.ChildOutcomes:
    try:
        return selectors.child_outcomes_for_user(user=request.user, child_pk=pk, with_history=with_history)
    except NotFoundError:
        raise Http404("No such child.") from None


def _series_chart(outcome: selectors.MeasureSeries, index: int, child_name: str) -> dict[str, Any]:
    m = outcome.measure
    points = [(float(p.time_point.months), p.value) for p in outcome.points]
    words = "; ".join(f"{p.time_point.label}: {p.value:g}" for p in outcome.points)
    y_range = (m.min_value, m.max_value) if m.min_value is not None and m.max_value is not None else None
    return {
        "measure": m,
        "points": outcome.points,
        "svg": charts.line_chart(
            chart_id=f"chart-{index}",
            title=f"{child_name}'s {m.name} over time",
            description=f"{m.name} ({m.unit}) by months after surgery. {words}.",
            series=[charts.Series(m.name, points)],
            x_label="Months after surgery (0 = before surgery)",
            y_label=f"{m.name}",
            y_range=y_range,
        ),
    }


@login_required
def child_outcomes(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    is_clinician = user.has_perm("outcomes.add_observation")
    data = _outcomes_or_404(request, pk, with_history=is_clinician or user.has_perm("outcomes.view_adverseevent"))
    enrolment = data.enrolments[0] if data.enrolments else None
    return render(
        request,
        "web/outcomes/child.html",
        {
            "data": data,
            "child": data.child,
            "enrolment": enrolment,
            "charts": [_series_chart(s, i, data.child.first_name) for i, s in enumerate(data.series)],
            "is_clinician": is_clinician,
            "can_consent": user.has_perm("outcomes.record_consent"),
            "can_enrol": user.has_perm("outcomes.add_enrolment") and not data.enrolments,
        },
    )


@login_required
@require_POST
def consent(request: HttpRequest, pk: int) -> HttpResponse:
    data = _outcomes_or_404(request, pk)
    if not data.enrolments:
        raise Http404("This child is not on a registry.")
    enrolment = data.enrolments[0]
    try:
        if request.POST.get("consent") == "yes":
            services.consent_give(enrolment=enrolment, actor=request.user)
            messages.success(request, f"Thank you: {data.child.first_name}'s measurements will help the evaluation.")
        else:
            services.consent_withdraw(enrolment=enrolment, actor=request.user)
            messages.success(
                request, f"Consent withdrawn: {data.child.first_name} is left out of every analysis from now on."
            )
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("outcomes:child", pk=pk)


@login_required
def enrol(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("outcomes.add_enrolment"):
        raise PermissionDenied("Only clinicians enrol children in the registry.")
    data = _outcomes_or_404(request, pk)
    form = EnrolmentForm(request.POST or None, centres=selectors.clinician_centres(user=request.user))
    if request.method == "POST" and form.is_valid():
        try:
            services.enrolment_create(child=data.child, **form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{data.child.full_name} is on the registry. Ask the guardian for consent.")
            return redirect("outcomes:child", pk=pk)
    return render(
        request, "web/outcomes/enrol.html", {"form": form, "child": data.child}, status=400 if form.errors else 200
    )


@login_required
def record(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("outcomes.add_observation"):
        raise PermissionDenied("Only clinicians record outcomes.")
    data = _outcomes_or_404(request, pk)
    if not data.enrolments:
        return redirect("outcomes:enrol", pk=pk)
    enrolment = data.enrolments[0]
    form = ObservationForm(request.POST or None, programme=enrolment.programme)
    if request.method == "POST" and form.is_valid():
        try:
            obs = services.observation_record(enrolment=enrolment, **form.cleaned_data, actor=request.user)
        except PermissionDeniedError as exc:
            form.add_error(None, exc.message.split(": ", 1)[-1])
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Recorded {obs.measure.name} {obs.value:g} at {obs.time_point.label}.")
            return redirect("outcomes:child", pk=pk)
    return render(
        request,
        "web/outcomes/record.html",
        {"form": form, "child": data.child, "enrolment": enrolment},
        status=400 if form.errors else 200,
    )


@login_required
def correct(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("outcomes.add_observation"):
        raise PermissionDenied("Only clinicians correct outcomes.")
    obs = Observation.objects.select_related("enrolment", "measure", "time_point").filter(pk=pk).first()
    if obs is None:
        raise Http404("No such measurement.")
    data = _outcomes_or_404(request, obs.enrolment.child_id)
    form = CorrectionForm(request.POST or None, initial={"value": obs.value})
    if request.method == "POST" and form.is_valid():
        try:
            services.observation_correct(observation=obs, **form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Corrected {obs.measure.name} at {obs.time_point.label}; the old value is kept.")
            return redirect("outcomes:child", pk=data.child.pk)
    return render(
        request,
        "web/outcomes/correct.html",
        {"form": form, "child": data.child, "observation": obs},
        status=400 if form.errors else 200,
    )


@login_required
def adverse_event(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("outcomes.add_adverseevent"):
        raise PermissionDenied("Only clinicians record adverse events.")
    data = _outcomes_or_404(request, pk)
    if not data.enrolments:
        return redirect("outcomes:enrol", pk=pk)
    form = AdverseEventForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.adverse_event_record(enrolment=data.enrolments[0], **form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Adverse event recorded.")
            return redirect("outcomes:child", pk=pk)
    return render(
        request,
        "web/outcomes/adverse_event.html",
        {"form": form, "child": data.child},
        status=400 if form.errors else 200,
    )


@login_required
def follow_up_index(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("outcomes.view_follow_up"):
        raise PermissionDenied("Only clinicians read follow-up lists.")
    centres = list(selectors.clinician_centres(user=request.user))
    if len(centres) == 1:
        return redirect("outcomes:follow_up", centre_pk=centres[0].pk)
    return render(request, "web/outcomes/follow_up_index.html", {"centres": centres})


@login_required
def follow_up(request: HttpRequest, centre_pk: int) -> HttpResponse:
    try:
        centre, rows = selectors.follow_up_for_user(user=request.user, centre_pk=centre_pk)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except NotFoundError:
        raise Http404("No such centre.") from None
    return render(request, "web/outcomes/follow_up.html", {"centre": centre, "rows": rows})


def _change_chart(measure: dict[str, Any]) -> dict[str, Any]:
    series = []
    first = measure["time_points"][0]["centres"] if measure["time_points"] else []
    names = [c["centre"] for c in first] + ([OVERALL] if measure["time_points"] else [])
    for name in names:
        points = [(0.0, 0.0)]
        for tp in measure["time_points"]:
            cells = [*tp["centres"], tp["overall"]]
            cell = next(c for c in cells if c["centre"] == name)
            if not cell["suppressed"] and cell["mean_change"] is not None:
                points.append((float(tp["months"]), cell["mean_change"]))
        if len(points) > 1:
            series.append(charts.Series(name, points))
    words = "; ".join(f"{s.label}: " + ", ".join(f"{x:g} months {y:+.1f}" for x, y in s.points[1:]) for s in series)
    return {
        "svg": charts.line_chart(
            chart_id=f"change-{measure['measure']}",
            title=f"Mean change in {measure['name']} from baseline, by centre",
            description=f"Mean change from before surgery by months after surgery. {words}.",
            series=series,
            x_label="Months after surgery",
            y_label="Mean change",
            zero_line=True,
        ),
        "legend": charts.legend(series),
    }


@login_required
def evaluation(request: HttpRequest) -> HttpResponse:
    form = EvaluationFilterForm(request.GET or None)
    measure = form.cleaned_data["measure"].slug if form.is_valid() and form.cleaned_data["measure"] else "gmfm66"
    try:
        result = selectors.evaluation_for_user(user=request.user, measure=measure)
    except PermissionDeniedError:
        raise PermissionDenied("Only commissioners, health economists and trustees read the evaluation.") from None
    except NotFoundError as exc:
        return render(request, "web/outcomes/evaluation.html", {"form": form, "missing": exc.message}, status=404)
    measures = [{**m, "chart": _change_chart(m)} for m in result["measures"]]
    return render(
        request,
        "web/outcomes/evaluation.html",
        {"form": form, "result": result, "measures": measures, "ae": result["adverse_events"]},
    )
