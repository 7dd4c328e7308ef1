"""Care pages: thin views over `care.selectors` (permission-checked reads, audited) and `care.services`.
A record the user may not see is a 404, never the data."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from carefund.care import privacy as child_privacy
from carefund.care import rules, selectors, services
from carefund.care.models import CarePlanItem, Child, ItemState
from carefund.core import clock
from carefund.core.errors import DomainError, NotFoundError, PermissionDeniedError
from carefund.core.money import format_pence
from carefund.core.permissions import is_staff_reader
from carefund.funding.tasks import waterfall_recompute_after_commit
from carefund.web.care.forms import (
    CarePlanFromTemplateForm,
    CarePlanItemAddForm,
    ChildEditForm,
    ChildRegisterForm,
    ItemCostForm,
    ItemTransitionForm,
    SdrAssessmentForm,
)
from carefund.web.plain import plain_cost_note


def _domain_error_to_form(form: Any, exc: DomainError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


@login_required
def child_list(request: HttpRequest) -> HttpResponse:
    children = selectors.children_for_user(user=request.user)
    return render(
        request,
        "web/care/child_list.html",
        {"children": children, "can_register": request.user.has_perm("care.add_child")},
    )


@login_required
def child_register(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("care.add_child"):
        raise PermissionDenied("Only caseworkers may register children.")
    form = ChildRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            child = services.child_register(**form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _domain_error_to_form(form, exc)
        else:
            messages.success(request, f"Registered {child.full_name}.")
            return redirect("care:child", pk=child.pk)
    return render(request, "web/care/child_register.html", {"form": form}, status=400 if form.errors else 200)


def _child_or_404(request: HttpRequest, pk: int, *, audit: bool = True) -> Child:
    """The child `pk` if the signed-in person may see it (`selectors.child_get_for_user`), else a 404."""
    try:
        return selectors.child_get_for_user(user=request.user, pk=pk, audit=audit)
    except NotFoundError:
        raise Http404("No such child.") from None


@login_required
def child_detail(request: HttpRequest, pk: int) -> HttpResponse:
    child = _child_or_404(request, pk)
    today = clock.today()
    plans = selectors.care_plans_for_user(user=request.user).filter(child=child)
    assessments = selectors.sdr_assessments_for_user(user=request.user).filter(child=child)
    verdicts = []
    if request.user.has_perm("care.view_sdrassessment"):
        inp = selectors.eligibility_input_for(child=child, on_date=today)
        verdicts = [rules.sdr_eligibility(inp, policy) for policy in rules.POLICIES.values()]
    return render(
        request,
        "web/care/child_detail.html",
        {
            "child": child,
            "age": child.age_on(today),
            "plans": [(p, format_pence(p.total_pence)) for p in plans],
            "assessments": assessments,
            "verdicts": verdicts,
            "can_reveal": selectors.can_reveal_nhs_number(user=request.user),
            "can_plan": request.user.has_perm("care.add_careplan"),
            "can_assess": request.user.has_perm("care.add_sdrassessment"),
            "can_edit": request.user.has_perm("care.change_child") and child.erased_at is None,
            "can_export": request.user.has_perm("care.export_child_data"),
            "can_erase": request.user.has_perm("care.erase_child_data") and child.erased_at is None,
            "can_consent": request.user.has_perm("care.change_child")
            or child.guardians.filter(pk=request.user.pk or 0).exists(),
            "nhs_number": None,
        },
    )


@login_required
def child_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a child's details (caseworkers and trustees)."""
    if not request.user.has_perm("care.change_child"):
        raise PermissionDenied("Only caseworkers and trustees may change a child's details.")
    child = _child_or_404(request, pk)
    fields = ["first_name", "last_name", "date_of_birth", "home_postcode", "diagnosis", "gmfcs_level"]
    form = ChildEditForm(request.POST or None, initial={name: getattr(child, name) for name in fields})
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.child_update(child=child, **form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _domain_error_to_form(form, exc)
        else:
            if changed:
                waterfall_recompute_after_commit(child_id=child.pk, reason="the child's details were corrected")
                messages.success(request, f"Saved: {', '.join(name.replace('_', ' ') for name in changed)}.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("care:child", pk=child.pk)
    return render(
        request, "web/care/child_edit.html", {"form": form, "child": child}, status=400 if form.errors else 200
    )


@login_required
@require_POST
def child_reveal_nhs_number(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        child = selectors.child_get_for_user(user=request.user, pk=pk, audit=False)
        nhs_number = services.child_reveal_nhs_number(child=child, actor=request.user)
    except NotFoundError:
        raise Http404("No such child.") from None
    except DomainError as exc:
        raise PermissionDenied(exc.message) from None
    return render(request, "web/care/nhs_number.html", {"child": child, "nhs_number": nhs_number})


@login_required
@require_POST
def child_data_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything held about the child, as a JSON file (a guardian's own child, or a caseworker's): audited, so a
    POST, as showing an NHS number is."""
    try:
        data = child_privacy.child_data_export(child_id=pk, actor=request.user)
    except NotFoundError:
        raise Http404("No such child.") from None
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n", content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="carefund-child-{pk}-{clock.today().isoformat()}.json"'
    return response


@login_required
def child_data_erase(request: HttpRequest, pk: int) -> HttpResponse:
    """Erase the child's personal data on request (those granted `care.erase_child_data`): a page saying what goes
    and what stays, and a confirmation typed in full."""
    child = _child_or_404(request, pk, audit=False)
    if not request.user.has_perm("care.erase_child_data"):
        raise PermissionDenied("Only the charity's data protection lead may erase a child's data.")
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm", "").strip().lower() != "erase":
            error = 'Type the word "erase" to confirm.'
        else:
            try:
                report = child_privacy.child_data_erase(child_id=child.pk, actor=request.user)
            except DomainError as exc:
                error = exc.message
            else:
                messages.success(
                    request,
                    f"Erased child #{child.pk}'s personal data ({sum(report.erased.values())} records). Kept: "
                    + ("; ".join(report.kept) or "nothing"),
                )
                return redirect("care:child", pk=child.pk)
    return render(request, "web/care/child_erase.html", {"child": child, "error": error}, status=400 if error else 200)


@login_required
def care_plan_create(request: HttpRequest, pk: int) -> HttpResponse:
    child = _child_or_404(request, pk, audit=False)
    if not request.user.has_perm("care.add_careplan"):
        raise PermissionDenied("Only caseworkers may create care plans.")
    form = CarePlanFromTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.care_plan_create_from_template(
                child=child,
                provider=form.cleaned_data["provider"],
                template=form.cleaned_data["template"],
                start_date=form.cleaned_data["start_date"],
                title=form.cleaned_data["title"],
                actor=request.user,
            )
        except DomainError as exc:
            _domain_error_to_form(form, exc)
        else:
            waterfall_recompute_after_commit(child_id=child.pk, reason=f"care plan '{plan.title}' created")
            messages.success(request, f"Created the care plan '{plan.title}'.")
            return redirect("care:plan", pk=plan.pk)
    return render(
        request, "web/care/plan_create.html", {"form": form, "child": child}, status=400 if form.errors else 200
    )


@login_required
def care_plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        plan = selectors.care_plan_get_for_user(user=request.user, pk=pk)
    except NotFoundError:
        raise Http404("No such care plan.") from None
    return _plan_page(request, plan)


def _plan_page(request: HttpRequest, plan: Any, add_form: CarePlanItemAddForm | None = None) -> HttpResponse:
    can_change = request.user.has_perm("care.change_careplanitem")
    can_add = request.user.has_perm("care.add_careplanitem")
    items = [
        {
            "item": item,
            "cost": format_pence(item.cost_pence),
            "next_states": rules.manual_next_states(item.state) if can_change else [],
            "can_recost": can_change and item.state in rules.COST_EDITABLE_STATES,
            "cost_note": plain_cost_note(item.cost_source),
        }
        for item in plan.items.all()
    ]
    return render(
        request,
        "web/care/plan_detail.html",
        {
            "plan": plan,
            "items": items,
            "total": format_pence(plan.total_pence),
            "state_labels": dict(ItemState.choices),
            "can_act": can_change,
            # where each cost comes from: for staff, the sources; for families, what the figure is, in words
            "show_sources": is_staff_reader(request.user) or can_change,
            "add_form": (add_form or CarePlanItemAddForm()) if can_add else None,
        },
        status=400 if add_form is not None and add_form.errors else 200,
    )


@login_required
@require_POST
def care_plan_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    """An item added to a care plan by hand; the child's waterfall is recomputed once it is saved."""
    try:
        plan = selectors.care_plan_get_for_user(user=request.user, pk=pk, audit=False)
    except NotFoundError:
        raise Http404("No such care plan.") from None
    form = CarePlanItemAddForm(request.POST)
    if form.is_valid():
        try:
            item = services.care_plan_item_add(
                plan=plan,
                category=form.cleaned_data["category"],
                description=form.cleaned_data["description"],
                planned_date=form.cleaned_data["planned_date"],
                cost_pence=form.cleaned_data["cost"],
                actor=request.user,
            )
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        except DomainError as exc:
            field = {"cost_pence": "cost"}.get(exc.field or "", exc.field)
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            waterfall_recompute_after_commit(
                child_id=plan.child_id, reason=f"'{item.description}' added to the care plan"
            )
            messages.success(request, f"'{item.description}' is added to the plan.")
            return redirect("care:plan", pk=plan.pk)
    return _plan_page(request, plan, add_form=form)


def _item_for(request: HttpRequest, pk: int) -> tuple[CarePlanItem, Any]:
    """A care-plan item and its plan, if the user may see the plan; else 404."""
    item = CarePlanItem.objects.select_related("plan").filter(pk=pk).first()
    if item is None:
        raise Http404("No such item.")
    try:
        plan = selectors.care_plan_get_for_user(user=request.user, pk=item.plan_id, audit=False)
    except NotFoundError:
        raise Http404("No such item.") from None
    return item, plan


@login_required
@require_POST
def care_plan_item_set_cost(request: HttpRequest, pk: int) -> HttpResponse:
    """Re-cost an item that is planned, booked or delivered; the child's waterfall is recomputed."""
    item, plan = _item_for(request, pk)
    form = ItemCostForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"'{item.description}': {form.errors['cost'][0]}")
        return redirect("care:plan", pk=plan.pk)
    before = item.cost_pence
    try:
        services.care_plan_item_set_cost(item=item, cost_pence=form.cleaned_data["cost"], actor=request.user)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except DomainError as exc:
        messages.error(request, f"'{item.description}': {exc.message}")
        return redirect("care:plan", pk=plan.pk)
    waterfall_recompute_after_commit(
        child_id=plan.child_id,
        reason=f"'{item.description}' re-costed from {format_pence(before)} to {format_pence(item.cost_pence)}",
    )
    messages.success(request, f"'{item.description}' now costs {format_pence(item.cost_pence)}.")
    return redirect("care:plan", pk=plan.pk)


@login_required
@require_POST
def care_plan_item_transition(request: HttpRequest, pk: int) -> HttpResponse:
    item, plan = _item_for(request, pk)
    form = ItemTransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the state to move the item to.")
        return redirect("care:plan", pk=plan.pk)
    try:
        services.care_plan_item_transition(item=item, to_state=form.cleaned_data["to_state"], actor=request.user)
    except NotFoundError:
        raise Http404("No such item.") from None
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("care:plan", pk=plan.pk)
    waterfall_recompute_after_commit(
        child_id=plan.child_id, reason=f"'{item.description}' moved to {item.state} on the care plan"
    )
    messages.success(request, f"'{item.description}' is now {item.state}.")
    return redirect("care:plan", pk=plan.pk)


@login_required
def sdr_assessment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        assessment = selectors.sdr_assessment_get_for_user(user=request.user, pk=pk)
    except NotFoundError:
        raise Http404("No such assessment.") from None
    inp = selectors.eligibility_input_for(child=assessment.child, on_date=assessment.assessed_on)
    verdicts = [rules.sdr_eligibility(inp, policy) for policy in rules.POLICIES.values()]
    return render(request, "web/care/assessment_detail.html", {"assessment": assessment, "verdicts": verdicts})


@login_required
def sdr_assessment_record(request: HttpRequest, pk: int) -> HttpResponse:
    child = _child_or_404(request, pk, audit=False)
    if not request.user.has_perm("care.add_sdrassessment"):
        raise PermissionDenied("Only clinicians may record SDR assessments.")
    form = SdrAssessmentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.sdr_assessment_record(child=child, **form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _domain_error_to_form(form, exc)
        else:
            messages.success(request, "Recorded the SDR assessment.")
            return redirect("care:assessment", pk=assessment.pk)
    return render(
        request, "web/care/assessment_record.html", {"form": form, "child": child}, status=400 if form.errors else 200
    )


@login_required
@require_POST
def child_set_publicity_consent(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        child = selectors.child_get_for_user(user=request.user, pk=pk, audit=False)
        consent = request.POST.get("consent") == "yes"
        services.child_set_publicity_consent(child=child, consent=consent, actor=request.user)
    except NotFoundError:
        raise Http404("No such child.") from None
    except DomainError as exc:
        raise PermissionDenied(exc.message) from None
    messages.success(request, "Publicity consent given." if consent else "Publicity consent withdrawn.")
    return redirect("care:child", pk=child.pk)
