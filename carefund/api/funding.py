"""JSON API: funding. A child's funding (the waterfall with one explanation per item), the programmes with their
allocations per centre, the urgency ranking and the published surplus policy. Session sign-in; object-level
access through `funding.selectors` (404 for a child the user may not see; each read of a child is audited)."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.security import django_auth

from carefund.core.errors import NotFoundError, PermissionDeniedError
from carefund.funding import selectors
from carefund.giftaid.claim_selectors import gift_aid_claimed_for_child

router = Router(tags=["funding"])


class LineOut(Schema):
    item_id: int
    description: str
    cost_pence: int
    payer: str
    nhs_pence: int
    paid_pence: int
    fund_pence: int
    grant_pence: int
    unfunded_pence: int
    explanation: str


class RunOut(Schema):
    computed_at: dt.datetime
    reason: str
    nhs_pence: int
    unfunded_pence: int
    surplus_pence: int


class ChildFundingOut(Schema):
    child_id: int
    balance_pence: int
    plan_cost_pence: int
    nhs_pence: int
    spent_pence: int
    committed_pence: int
    unfunded_pence: int
    contingency_pence: int
    surplus_pence: int
    # of the balance: Gift Aid claimed from HMRC and awaiting payment, and Gift Aid HMRC paid (as the funding page)
    gift_aid_claimed_pence: int
    gift_aid_paid_pence: int
    lines: list[LineOut]
    history: list[RunOut]


class AllocationOut(Schema):
    centre: str
    procedures: int | None
    budget_pence: int | None
    used_procedures: int
    committed_procedures: int
    left_procedures: int | None
    left_budget_pence: int | None
    waiting_request_ids: list[int]


class ProgrammeOut(Schema):
    id: int
    name: str
    starts_on: dt.date
    ends_on: dt.date | None
    covers: list[str]
    allocations: list[AllocationOut]


class RankedOut(Schema):
    rank: int
    child_id: int
    name: str
    points: int
    gap_pence: int
    reasons: list[str]


class PolicyOut(Schema):
    wording: str


@router.get("/surplus-policy", response=PolicyOut, summary="The published surplus statement (public)")
def surplus_policy(request: HttpRequest) -> PolicyOut:
    return PolicyOut(wording=selectors.surplus_policy_text())


@router.get("/children/{child_id}", response=ChildFundingOut, auth=django_auth)
def child_funding(request: HttpRequest, child_id: int) -> ChildFundingOut:
    try:
        d = selectors.child_funding_for_user(user=request.user, child_id=child_id)
    except NotFoundError:
        raise Http404("No such child.") from None
    r = d.result
    gift_aid = gift_aid_claimed_for_child(child_id=d.child.pk)
    return ChildFundingOut(
        child_id=d.child.pk,
        balance_pence=d.balance_pence,
        plan_cost_pence=r.plan_cost_pence,
        nhs_pence=r.nhs_pence,
        spent_pence=r.spent_pence,
        committed_pence=r.committed_pence,
        unfunded_pence=r.unfunded_pence,
        contingency_pence=r.contingency_pence,
        surplus_pence=r.surplus_pence,
        gift_aid_claimed_pence=gift_aid.claimed_pence,
        gift_aid_paid_pence=gift_aid.paid_pence,
        lines=[LineOut(**line.__dict__) for line in r.lines],
        history=[
            RunOut(
                computed_at=run.computed_at,
                reason=run.reason,
                nhs_pence=run.nhs_pence,
                unfunded_pence=run.unfunded_pence,
                surplus_pence=run.surplus_pence,
            )
            for run in d.runs
        ],
    )


@router.get("/programmes/{programme_id}", response=ProgrammeOut, auth=django_auth)
def programme(request: HttpRequest, programme_id: int) -> ProgrammeOut:
    try:
        o = selectors.programme_overview_for_user(user=request.user, programme_id=programme_id)
    except NotFoundError:
        raise Http404("No such programme.") from None
    return ProgrammeOut(
        id=o.programme.pk,
        name=o.programme.name,
        starts_on=o.programme.starts_on,
        ends_on=o.programme.ends_on,
        covers=list(o.programme.covers_categories),
        allocations=[
            AllocationOut(
                centre=row.allocation.centre.name,
                procedures=row.allocation.procedures,
                budget_pence=row.allocation.budget_pence,
                used_procedures=row.state.used_procedures,
                committed_procedures=row.state.committed_procedures,
                left_procedures=row.left.procedures,
                left_budget_pence=row.left.budget_pence,
                waiting_request_ids=[w.pk for w in row.waiting],
            )
            for row in o.rows
        ],
    )


@router.get("/urgency", response=list[RankedOut], auth=django_auth, summary="The urgency ranking (caseworkers)")
def urgency(request: HttpRequest) -> list[RankedOut]:
    try:
        ranking = selectors.urgency_preview_for_user(user=request.user)
    except PermissionDeniedError:
        raise Http404("No such page.") from None
    return [
        RankedOut(
            rank=r.rank,
            child_id=r.child_id,
            name=r.name,
            points=r.points,
            gap_pence=r.gap_pence,
            reasons=list(r.reasons),
        )
        for r in ranking.ranked
    ]
