"""JSON API: care. Read endpoints for a child's record and care plans, with the same access rules as the pages:
session sign-in (401 without), object-level access through `care.selectors` (404 for a record the user may not
see), and an audit event for each read of a child's record."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.security import django_auth

from carefund.care import rules, selectors
from carefund.care.models import CarePlan
from carefund.core import clock
from carefund.core.errors import NotFoundError

router = Router(tags=["care"], auth=django_auth)


class ChildOut(Schema):
    id: int
    full_name: str
    date_of_birth: dt.date
    age_years: int
    home_postcode: str
    nhs_number_masked: str
    diagnosis: str
    gmfcs_level: int
    publicity_consent: bool


class CarePlanItemOut(Schema):
    id: int
    position: int
    category: str
    description: str
    provider_id: int | None
    planned_date: dt.date
    cost_pence: int
    state: str
    next_states: list[str]


class CarePlanOut(Schema):
    id: int
    child_id: int
    provider_id: int
    provider_name: str
    title: str
    start_date: dt.date
    end_date: dt.date
    status: str
    total_pence: int
    items: list[CarePlanItemOut]


class CarePlanSummaryOut(Schema):
    id: int
    provider_name: str
    title: str
    start_date: dt.date
    end_date: dt.date
    status: str
    total_pence: int


class CriterionOut(Schema):
    code: str
    label: str
    met: bool
    reason: str


class VerdictOut(Schema):
    policy: str
    eligible: bool
    on_date: dt.date
    criteria: list[CriterionOut]


def _child(request: HttpRequest, pk: int, *, audit: bool = True):  # type: ignore[no-untyped-def]
    try:
        return selectors.child_get_for_user(user=request.user, pk=pk, audit=audit)
    except NotFoundError:
        raise Http404("No such child.") from None


def _plan_out(plan: CarePlan) -> CarePlanOut:
    items = list(plan.items.all())
    return CarePlanOut(
        id=plan.pk,
        child_id=plan.child_id,
        provider_id=plan.provider_id,
        provider_name=plan.provider.name,
        title=plan.title,
        start_date=plan.start_date,
        end_date=plan.end_date,
        status=plan.status,
        total_pence=plan.total_pence,
        items=[
            CarePlanItemOut(
                id=i.pk,
                position=i.position,
                category=i.category,
                description=i.description,
                provider_id=i.provider_id,
                planned_date=i.planned_date,
                cost_pence=i.cost_pence,
                state=i.state,
                next_states=rules.manual_next_states(i.state),
            )
            for i in items
        ],
    )


class ChildSummaryOut(Schema):
    id: int
    full_name: str
    date_of_birth: dt.date
    gmfcs_level: int


@router.get("/children", response=list[ChildSummaryOut])
def child_list(request: HttpRequest) -> list[ChildSummaryOut]:
    """The children the signed-in user may see (none for a user without a care role)."""
    return [
        ChildSummaryOut(id=c.pk, full_name=c.full_name, date_of_birth=c.date_of_birth, gmfcs_level=c.gmfcs_level)
        for c in selectors.children_for_user(user=request.user)
    ]


@router.get("/children/{pk}", response=ChildOut)
def child_get(request: HttpRequest, pk: int) -> ChildOut:
    child = _child(request, pk)
    return ChildOut(
        id=child.pk,
        full_name=child.full_name,
        date_of_birth=child.date_of_birth,
        age_years=child.age_on(clock.today()),
        home_postcode=child.home_postcode,
        nhs_number_masked=child.nhs_number_masked,
        diagnosis=child.diagnosis,
        gmfcs_level=child.gmfcs_level,
        publicity_consent=child.publicity_consent,
    )


@router.get("/children/{pk}/plans", response=list[CarePlanSummaryOut])
def child_plans(request: HttpRequest, pk: int) -> list[CarePlanSummaryOut]:
    child = _child(request, pk)
    plans = selectors.care_plans_for_user(user=request.user).filter(child=child).prefetch_related("items")
    return [
        CarePlanSummaryOut(
            id=p.pk,
            provider_name=p.provider.name,
            title=p.title,
            start_date=p.start_date,
            end_date=p.end_date,
            status=p.status,
            total_pence=p.total_pence,
        )
        for p in plans
    ]


@router.get("/children/{pk}/eligibility", response=list[VerdictOut])
def child_eligibility(request: HttpRequest, pk: int, on_date: dt.date | None = None) -> list[VerdictOut]:
    if not request.user.has_perm("care.view_sdrassessment"):
        raise Http404("No such child.")
    child = _child(request, pk)
    when = on_date or clock.today()
    if when < child.date_of_birth:
        raise HttpError(400, f"on_date: {when.isoformat()} is before the child's birth; give a date on or after it.")
    inp = selectors.eligibility_input_for(child=child, on_date=when)
    out = []
    for policy in rules.POLICIES.values():
        verdict = rules.sdr_eligibility(inp, policy)
        out.append(
            VerdictOut(
                policy=verdict.policy,
                eligible=verdict.eligible,
                on_date=when,
                criteria=[
                    CriterionOut(code=c.code, label=c.label, met=c.met, reason=c.reason) for c in verdict.criteria
                ],
            )
        )
    return out


@router.get("/plans/{pk}", response=CarePlanOut)
def care_plan_get(request: HttpRequest, pk: int) -> CarePlanOut:
    try:
        plan = selectors.care_plan_get_for_user(user=request.user, pk=pk)
    except NotFoundError:
        raise Http404("No such care plan.") from None
    return _plan_out(plan)
