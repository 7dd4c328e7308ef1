"""Funding services: load, decide (with `funding.rules`), write, audit. Each is keyword-only and atomic.

Refusals raise a `DomainError` before anything is written, so a refused call leaves no trace but its message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum

from carefund.care.models import CarePlan, CarePlanItem, Child, Provider
from carefund.core import clock
from carefund.core.errors import (
    ConflictError,
    FourEyesError,
    PermissionDeniedError,
    StateTransitionError,
    ValidationError,
)
from carefund.core.money import format_pence, require_pence
from carefund.core.people import person_ref
from carefund.core.services import audit_record
from carefund.funding import rules
from carefund.funding.models import (
    Allocation,
    AllocationChange,
    FundingRequest,
    Grant,
    Invoice,
    InvoiceApproval,
    InvoiceLine,
    Programme,
    WaterfallRun,
)
from carefund.funding.selectors import (
    allocation_state,
    funding_input_for_child,
    item_charity_amounts,
    waiting_list_for,
)

# Sanity limits on an allocation (far above any real one: NHS England funds about 120 SDR procedures a year), so a
# mistyped figure is refused with a reason instead of overflowing the database column.
MAX_ALLOCATION_PROCEDURES = 100_000
MAX_ALLOCATION_BUDGET_PENCE = 100_000_000_000  # £1bn

# Above this invoice total, two different finance officers must approve (configurable in settings).
DEFAULT_SECOND_APPROVAL_ABOVE_PENCE = 1_000_000  # £10,000: a charity policy choice, not a domain fact


class AllocationExhaustedError(ConflictError):
    """An NHS approval was asked for when the centre's allocation has nothing left."""


class OverpaymentError(ValidationError):
    """An invoice asked for more than an item's approved amount."""


class InsufficientFundError(ValidationError):
    """A payment would take the child's restricted fund below zero."""


def require_perm(actor: Any, perm: str, what: str) -> None:
    if actor is None:
        return
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}; it needs the permission {perm}.")


def second_approval_above_pence() -> int:
    return int(getattr(settings, "CAREFUND_INVOICE_SECOND_APPROVAL_ABOVE_PENCE", DEFAULT_SECOND_APPROVAL_ABOVE_PENCE))


# --------------------------------------------------------------------------------------------- allocations
def _change(
    allocation: Allocation,
    kind: str,
    procedures: int,
    budget: int,
    reason: str,
    actor: Any,
    other: Allocation | None = None,
) -> None:
    AllocationChange.objects.create(
        allocation=allocation,
        kind=kind,
        procedures_delta=procedures,
        budget_delta_pence=budget,
        other=other,
        reason=reason,
        actor=actor,
        occurred_at=clock.now(),
    )
    audit_record(
        actor=actor,
        action=f"allocation.{kind}",
        target=allocation,
        summary=f"{allocation}: procedures {procedures:+d}, budget {format_pence(budget)}",
        details={"procedures": procedures, "budget_pence": budget, "reason": reason},
    )


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("reason: say why the allocation changes; it is recorded.", field="reason")
    return reason


@transaction.atomic
def allocation_set(
    *,
    programme: Programme,
    centre: Provider,
    procedures: int | None,
    budget_pence: int | None,
    reason: str,
    actor: Any,
) -> Allocation:
    """Create a centre's allocation (or return it unchanged if it already exists with these limits)."""
    require_perm(actor, "funding.manage_allocation", "change allocations")
    reason = _check_reason(reason)
    if procedures is None and budget_pence is None:
        raise ValidationError("procedures: give a number of procedures, a budget, or both.", field="procedures")
    if procedures is not None and procedures < 0:
        raise ValidationError("procedures: must be zero or more.", field="procedures")
    if budget_pence is not None:
        require_pence(budget_pence, field="budget_pence", allow_zero=True)
    _check_limits(procedures, budget_pence)
    if not centre.is_sdr_centre:
        raise ValidationError(f"centre: {centre} is not an SDR centre.", field="centre")
    existing = Allocation.objects.filter(programme=programme, centre=centre).first()
    if existing is not None:
        if existing.procedures == procedures and existing.budget_pence == budget_pence:
            return existing
        raise ConflictError(f"centre: {centre} already has an allocation; add, cut or move it instead.", field="centre")
    allocation = Allocation.objects.create(
        programme=programme, centre=centre, procedures=procedures, budget_pence=budget_pence
    )
    _change(allocation, AllocationChange.Kind.SET, procedures or 0, budget_pence or 0, reason, actor)
    return allocation


def _check_limits(procedures: int | None, budget_pence: int | None) -> None:
    if procedures is not None and procedures > MAX_ALLOCATION_PROCEDURES:
        raise ValidationError(
            f"procedures: {procedures:,} is more than an allocation can hold; the most is "
            f"{MAX_ALLOCATION_PROCEDURES:,}.",
            field="procedures",
        )
    if budget_pence is not None and budget_pence > MAX_ALLOCATION_BUDGET_PENCE:
        raise ValidationError(
            f"budget_pence: {format_pence(budget_pence)} is more than an allocation can hold; the most is "
            f"{format_pence(MAX_ALLOCATION_BUDGET_PENCE)}.",
            field="budget_pence",
        )


def _lock(allocation: Allocation) -> Allocation:
    return Allocation.objects.select_for_update().select_related("programme", "centre").get(pk=allocation.pk)


def _apply_delta(allocation: Allocation, procedures: int, budget_pence: int) -> None:
    if procedures and allocation.procedures is None:
        raise ValidationError("procedures: this allocation is a budget only; change its budget.", field="procedures")
    if budget_pence and allocation.budget_pence is None:
        raise ValidationError(
            "budget_pence: this allocation has no budget; change its procedures.", field="budget_pence"
        )
    state = allocation_state(allocation)
    new_procedures = None if allocation.procedures is None else allocation.procedures + procedures
    new_budget = None if allocation.budget_pence is None else allocation.budget_pence + budget_pence
    floor_procedures = state.used_procedures + state.committed_procedures
    floor_budget = state.used_pence + state.committed_pence
    if new_procedures is not None and new_procedures < floor_procedures:
        raise ValidationError(
            f"procedures: cannot go below the {floor_procedures} already used or committed at {allocation.centre}.",
            field="procedures",
        )
    if new_budget is not None and new_budget < floor_budget:
        raise ValidationError(
            f"budget_pence: cannot go below the {format_pence(floor_budget)} already used or committed at "
            f"{allocation.centre}.",
            field="budget_pence",
        )
    _check_limits(new_procedures, new_budget)
    allocation.procedures = new_procedures
    allocation.budget_pence = new_budget
    allocation.save(update_fields=["procedures", "budget_pence"])


def _check_amounts(procedures: int, budget_pence: int) -> None:
    if procedures < 0 or budget_pence < 0 or (procedures == 0 and budget_pence == 0):
        raise ValidationError(
            "procedures: give a positive number of procedures and/or a positive budget to change.", field="procedures"
        )
    _check_limits(procedures, budget_pence)


@transaction.atomic
def allocation_add(
    *, allocation: Allocation, procedures: int = 0, budget_pence: int = 0, reason: str, actor: Any
) -> Allocation:
    require_perm(actor, "funding.manage_allocation", "change allocations")
    reason = _check_reason(reason)
    _check_amounts(procedures, budget_pence)
    locked = _lock(allocation)
    _apply_delta(locked, procedures, budget_pence)
    _change(locked, AllocationChange.Kind.ADD, procedures, budget_pence, reason, actor)
    return locked


@transaction.atomic
def allocation_cut(
    *, allocation: Allocation, procedures: int = 0, budget_pence: int = 0, reason: str, actor: Any
) -> Allocation:
    require_perm(actor, "funding.manage_allocation", "change allocations")
    reason = _check_reason(reason)
    _check_amounts(procedures, budget_pence)
    locked = _lock(allocation)
    _apply_delta(locked, -procedures, -budget_pence)
    _change(locked, AllocationChange.Kind.CUT, -procedures, -budget_pence, reason, actor)
    return locked


@transaction.atomic
def allocation_move(
    *,
    source: Allocation,
    target: Allocation,
    procedures: int = 0,
    budget_pence: int = 0,
    reason: str,
    actor: Any,
) -> tuple[Allocation, Allocation]:
    """Move procedures and/or budget from one centre to another within the same programme."""
    require_perm(actor, "funding.manage_allocation", "change allocations")
    reason = _check_reason(reason)
    _check_amounts(procedures, budget_pence)
    if source.pk == target.pk:
        raise ValidationError("target: choose a different centre to move the allocation to.", field="target")
    if source.programme_id != target.programme_id:
        raise ValidationError("target: allocation can only move between centres of the same programme.", field="target")
    first, second = sorted([source, target], key=lambda a: a.pk)  # lock in a fixed order: no deadlock
    locked = {a.pk: _lock(a) for a in (first, second)}
    src, dst = locked[source.pk], locked[target.pk]
    _apply_delta(src, -procedures, -budget_pence)
    _apply_delta(dst, procedures, budget_pence)
    _change(src, AllocationChange.Kind.MOVE_OUT, -procedures, -budget_pence, reason, actor, other=dst)
    _change(dst, AllocationChange.Kind.MOVE_IN, procedures, budget_pence, reason, actor, other=src)
    return src, dst


# --------------------------------------------------------------------------------------------- NHS requests
def _programme_cost_pence(programme: Programme, plan: CarePlan) -> int:
    """What the programme would pay for this plan: covered items in full plus the capped amount (if any)."""
    items = [i for i in plan.items.all() if i.state != "cancelled"]
    full = sum(i.cost_pence for i in items if i.category in programme.covers_categories)
    capped = 0
    if programme.capped_category:
        cap = int(programme.capped_amounts_by_gmfcs.get(str(plan.child.gmfcs_level), 0))
        capped = min(cap, sum(i.cost_pence for i in items if i.category == programme.capped_category))
    return full + capped


@transaction.atomic
def funding_request_create(*, programme: Programme, care_plan: CarePlan, actor: Any) -> FundingRequest:
    """Ask `programme` to fund `care_plan` at its treating centre. The verdict and reasons are kept; if the
    centre's allocation is already used up the request joins the waiting list at once."""
    from carefund.care.rules import POLICIES, sdr_eligibility
    from carefund.care.selectors import eligibility_input_for

    require_perm(actor, "funding.add_fundingrequest", "ask for NHS funding")
    today = clock.today()
    if today < programme.starts_on or (programme.ends_on is not None and today > programme.ends_on):
        raise ValidationError(
            f"programme: {programme} runs from {programme.starts_on} to {programme.ends_on or 'open-ended'}; "
            f"it does not take requests on {today}.",
            field="programme",
        )
    allocation = Allocation.objects.filter(programme=programme, centre=care_plan.provider).first()
    if allocation is None:
        raise ValidationError(
            f"care_plan: {programme} has no allocation at {care_plan.provider}; the plan's centre must be one of "
            f"{', '.join(a.centre.name for a in programme.allocations.select_related('centre'))}.",
            field="care_plan",
        )
    if FundingRequest.objects.filter(programme=programme, care_plan=care_plan, status__in=FundingRequest.LIVE).exists():
        raise ConflictError(f"care_plan: this plan already has an open request to {programme}.", field="care_plan")
    policy = POLICIES[programme.eligibility_policy]
    child = care_plan.child
    verdict = sdr_eligibility(eligibility_input_for(child=child, on_date=today), policy)
    cost = _programme_cost_pence(programme, care_plan)
    if cost == 0:
        raise ValidationError(
            f"care_plan: nothing in this plan is covered by {programme} ({', '.join(programme.covers_categories)}).",
            field="care_plan",
        )
    try:
        with transaction.atomic():  # the unique constraint on live requests decides a race between two caseworkers
            request = FundingRequest.objects.create(
                programme=programme,
                allocation=allocation,
                care_plan=care_plan,
                requested_by=actor,
                requested_on=today,
                cost_pence=cost,
                eligible=verdict.eligible,
                eligibility=[
                    {"code": c.code, "label": c.label, "met": c.met, "reason": c.reason} for c in verdict.criteria
                ],
                ages_out_on=rules.ages_out_on(child.date_of_birth, policy.max_age),
            )
    except IntegrityError:
        raise ConflictError(
            f"care_plan: this plan already has an open request to {programme}.", field="care_plan"
        ) from None
    audit_record(
        actor=actor,
        action="funding_request.created",
        target=request,
        summary=f"{programme} asked to fund plan {care_plan.pk} ({'eligible' if verdict.eligible else 'not eligible'})",
        details={"eligible": verdict.eligible, "cost_pence": cost},
    )
    if verdict.eligible and rules.allocation_refusal(allocation_state(allocation), cost_pence=cost):
        request.status = FundingRequest.Status.WAITING
        request.save(update_fields=["status"])
        audit_record(actor=actor, action="funding_request.waiting", target=request, summary="allocation used up")
    return request


@transaction.atomic
def funding_request_decide(*, request: FundingRequest, approve: bool, reason: str, actor: Any) -> FundingRequest:
    """Approve (consuming allocation, under a row lock on it) or decline a request; dated and audited.

    Refused, with nothing written: approving an ineligible request, approving when the allocation has
    nothing left, approving a request that is not at the head of the waiting list, deciding twice."""
    require_perm(actor, "funding.decide_fundingrequest", "decide NHS funding requests")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("reason: every decision is recorded with its reason; please give one.", field="reason")
    allocation = _lock(request.allocation)  # serialises decisions on this centre's allocation
    locked = FundingRequest.objects.select_for_update().select_related("care_plan__child").get(pk=request.pk)
    if locked.status not in (FundingRequest.Status.PENDING, FundingRequest.Status.WAITING):
        raise StateTransitionError(
            f"status: this request is already {locked.get_status_display().lower()}.", field="status"
        )
    if approve:
        if not locked.eligible:
            unmet = "; ".join(c["reason"] for c in locked.eligibility if not c["met"])
            raise ValidationError(
                f"approve: the child is not eligible for {allocation.programme}: {unmet}.", field="approve"
            )
        refusal = rules.allocation_refusal(allocation_state(allocation), cost_pence=locked.cost_pence)
        if refusal:
            raise AllocationExhaustedError(
                f"approve: {allocation.programme} at {allocation.centre}: {refusal}. Put the request on the "
                "waiting list, or add or move allocation first.",
                field="approve",
            )
        waiting = waiting_list_for(allocation)
        if waiting and waiting[0].pk != locked.pk:
            raise ConflictError(
                f"approve: request #{waiting[0].pk} is ahead on the waiting list at {allocation.centre}; the "
                "allocation goes to the head of the list first.",
                field="approve",
            )
        locked.status = FundingRequest.Status.APPROVED
    else:
        locked.status = FundingRequest.Status.DECLINED
    locked.decided_by = actor
    locked.decided_at = clock.now()
    locked.decision_reason = reason
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    audit_record(
        actor=actor,
        action=f"funding_request.{locked.status}",
        target=locked,
        summary=f"{allocation.programme} at {allocation.centre}: {locked.status} — {reason}",
        details={"cost_pence": locked.cost_pence},
    )
    waterfall_recompute(
        care_plan=locked.care_plan, reason=f"NHS decision: {allocation.programme} {locked.status}", actor=actor
    )
    return locked


@transaction.atomic
def funding_request_wait(*, request: FundingRequest, actor: Any) -> FundingRequest:
    """Put an eligible pending request on the waiting list of its programme and centre."""
    require_perm(actor, "funding.decide_fundingrequest", "decide NHS funding requests")
    locked = FundingRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != FundingRequest.Status.PENDING:
        raise StateTransitionError(
            f"status: only a pending request can wait; this one is {locked.status}.", field="status"
        )
    if not locked.eligible:
        raise ValidationError("status: an ineligible request cannot join the waiting list.", field="status")
    locked.status = FundingRequest.Status.WAITING
    locked.save(update_fields=["status"])
    audit_record(actor=actor, action="funding_request.waiting", target=locked, summary="put on the waiting list")
    return locked


# --------------------------------------------------------------------------------------------- waterfall
def _line_dict(line: rules.WaterfallLine) -> dict[str, Any]:
    return {
        "item_id": line.item_id,
        "description": line.description,
        "cost_pence": line.cost_pence,
        "payer": line.payer,
        "nhs_pence": line.nhs_pence,
        "paid_pence": line.paid_pence,
        "fund_pence": line.fund_pence,
        "grant_pence": line.grant_pence,
        "unfunded_pence": line.unfunded_pence,
        "explanation": line.explanation,
    }


def _input_dict(inp: rules.WaterfallInput) -> dict[str, Any]:
    prog = inp.programme
    return {
        "fund_balance_pence": inp.fund_balance_pence,
        "grant_pence": inp.grant_pence,
        "contingency_basis_points": inp.contingency_basis_points,
        "programme": None
        if prog is None
        else {
            "name": prog.name,
            "categories": sorted(prog.categories),
            "capped_category": prog.capped_category,
            "cap_pence": prog.cap_pence,
            "plan_ids": sorted(prog.plan_ids),
        },
        "items": [
            {
                "item_id": i.item_id,
                "category": i.category,
                "cost_pence": i.cost_pence,
                "state": i.state,
                "planned_date": i.planned_date.isoformat() if i.planned_date else None,
                "paid_pence": i.paid_pence,
                "plan_id": i.plan_id,
            }
            for i in inp.items
        ],
    }


@transaction.atomic
def waterfall_recompute(*, care_plan: CarePlan, reason: str, actor: Any) -> WaterfallRun:
    """Compute who pays what for the child of `care_plan` (one fund per child, all its plans' items), keep the
    run, and set the child's campaign target (what the charity must raise; what the NHS covers)."""
    child = care_plan.child
    inp = funding_input_for_child(child)
    result = rules.waterfall(inp)
    run = WaterfallRun.objects.create(
        care_plan=care_plan,
        computed_at=clock.now(),
        reason=reason[:300],
        actor=actor,
        inputs=_input_dict(inp),
        lines=[_line_dict(line) for line in result.lines],
        fund_balance_pence=inp.fund_balance_pence,
        plan_cost_pence=result.plan_cost_pence,
        nhs_pence=result.nhs_pence,
        spent_pence=result.spent_pence,
        committed_pence=result.committed_pence,
        funded_pence=result.funded_pence,
        unfunded_pence=result.unfunded_pence,
        charity_share_pence=result.charity_share_pence,
        contingency_pence=result.contingency_pence,
        surplus_pence=result.surplus_pence,
    )
    audit_record(
        actor=actor,
        action="waterfall.computed",
        target=run,
        summary=f"{reason}: unfunded {format_pence(result.unfunded_pence)}, "
        f"surplus {format_pence(result.surplus_pence)}",
    )
    _set_campaign_targets(child=child, result=result, actor=actor)
    return run


def _set_campaign_targets(*, child: Child, result: rules.WaterfallResult, actor: Any) -> None:
    from carefund.campaigns.models import Campaign
    from carefund.campaigns.services import campaign_set_target

    explanation = (
        f"The plan costs {format_pence(result.plan_cost_pence)}; the NHS pays {format_pence(result.nhs_pence)}, "
        f"so the campaign needs {format_pence(result.charity_share_pence)}."
    )
    for campaign in Campaign.objects.filter(child=child):
        if campaign.target_pence == result.charity_share_pence and campaign.nhs_covers_pence == result.nhs_pence:
            continue
        campaign_set_target(
            campaign=campaign,
            target_pence=result.charity_share_pence,
            nhs_covers_pence=result.nhs_pence,
            explanation=explanation,
            actor=actor,
        )


@transaction.atomic
def waterfall_recompute_requested(*, child: Child, actor: Any) -> WaterfallRun:
    """A caseworker or finance officer asks for a fresh computation (after a price changed on a care page or a
    gift arrived online: care and campaigns cannot call funding themselves)."""
    require_perm(actor, "funding.add_waterfallrun", "recompute the funding waterfall")
    run = waterfall_recompute_for_child(
        child=child, reason="recomputed on request (a price or a gift changed)", actor=actor
    )
    if run is None:
        raise ValidationError(f"child: {child.public_name} has no care plan to compute.", field="child")
    return run


def waterfall_recompute_for_child(*, child: Child, reason: str, actor: Any) -> WaterfallRun | None:
    plan = child.care_plans.order_by("-start_date", "-pk").first()
    return None if plan is None else waterfall_recompute(care_plan=plan, reason=reason, actor=actor)


# --------------------------------------------------------------------------------------------- invoices
@transaction.atomic
def invoice_enter(
    *,
    provider: Provider,
    care_plan: CarePlan,
    number: str,
    issued_on: dt.date,
    lines: Sequence[tuple[CarePlanItem, int]],
    actor: Any,
) -> Invoice:
    """Record a provider's invoice against delivered items of a plan (each item moves to 'invoiced')."""
    from carefund.care.services import care_plan_item_set_cost, care_plan_item_transition

    require_perm(actor, "funding.add_invoice", "enter invoices")
    if actor is None:
        raise PermissionDeniedError("entered_by: an invoice must be entered by a named person (four eyes).")
    number = (number or "").strip()
    if not number:
        raise ValidationError("number: give the provider's invoice number.", field="number")
    if not lines:
        raise ValidationError("lines: an invoice needs at least one care-plan item.", field="lines")
    if Invoice.objects.filter(provider=provider, number=number).exists():
        raise ConflictError(f"number: invoice {number} from {provider} is already entered.", field="number")
    amounts = item_charity_amounts(care_plan.child)
    seen: set[int] = set()
    for item, amount in lines:
        require_pence(amount, field="amount_pence")
        if item.plan_id != care_plan.pk:
            raise ValidationError(f"lines: '{item.description}' is not in this care plan.", field="lines")
        payee = item.provider_id or care_plan.provider_id
        if payee != provider.pk:
            # The payment goes to the invoice's provider: only the provider that delivers an item may bill for it.
            raise ValidationError(
                f"provider: '{item.description}' is delivered by {item.provider or care_plan.provider}, not "
                f"{provider}; enter that provider's invoice for it.",
                field="provider",
            )
        if item.pk in seen:
            raise ValidationError(f"lines: '{item.description}' appears twice; give one line per item.", field="lines")
        seen.add(item.pk)
        if item.state != "delivered":
            raise StateTransitionError(
                f"lines: '{item.description}' is {item.state}; only delivered items can be invoiced.", field="lines"
            )
        approved = amounts.get(item.pk, 0)
        if approved == 0:
            raise ValidationError(
                f"lines: '{item.description}' is paid by the NHS; it never touches the charity's funds.", field="lines"
            )
        if amount > approved:
            raise OverpaymentError(
                f"amount_pence: {format_pence(amount)} for '{item.description}' is more than its approved amount "
                f"{format_pence(approved)}.",
                field="amount_pence",
            )
    total = sum(a for _, a in lines)
    invoice = Invoice.objects.create(
        provider=provider,
        care_plan=care_plan,
        number=number,
        issued_on=issued_on,
        approvals_required=2 if total > second_approval_above_pence() else 1,
        entered_by=actor,
        entered_at=clock.now(),
    )
    for item, amount in lines:
        InvoiceLine.objects.create(invoice=invoice, item=item, amount_pence=amount)
        charged_less = amounts[item.pk] - amount
        if charged_less:
            # Once invoiced, an item costs what the provider charged (care.rules.COST_EDITABLE_STATES): re-cost it, or
            # the waterfall would hold the difference back from the fund (and the campaign ask for it) for ever.
            care_plan_item_set_cost(item=item, cost_pence=item.cost_pence - charged_less, actor=actor)
        care_plan_item_transition(item=item, to_state="invoiced", actor=actor, by_invoice=True)
    audit_record(
        actor=actor,
        action="invoice.entered",
        target=invoice,
        summary=f"Invoice {number} from {provider}: {format_pence(total)}",
        details={"amount_pence": total, "approvals_required": invoice.approvals_required},
    )
    waterfall_recompute(care_plan=care_plan, reason=f"invoice {number} entered", actor=actor)
    return invoice


@transaction.atomic
def invoice_approve(*, invoice: Invoice, actor: Any) -> Invoice:
    """A finance officer who did not enter the invoice approves it; above the threshold two must."""
    require_perm(actor, "funding.approve_invoice", "approve invoices")
    if actor is None:
        raise PermissionDeniedError("approver: an approval must be given by a named person.")
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.state != Invoice.State.ENTERED:
        raise StateTransitionError(f"state: invoice {locked.number} is already {locked.state}.", field="state")
    if locked.entered_by_id == actor.pk:
        raise FourEyesError("approver: you entered this invoice; another finance officer must approve it.")
    if locked.approvals.filter(approver=actor).exists():
        raise FourEyesError("approver: you have already approved this invoice; a second, different person must.")
    InvoiceApproval.objects.create(invoice=locked, approver=actor, approved_at=clock.now())
    if locked.approvals.count() >= locked.approvals_required:
        locked.state = Invoice.State.APPROVED
        locked.save(update_fields=["state"])
    audit_record(actor=actor, action="invoice.approved", target=locked, summary=f"approval {locked.approvals.count()}")
    return locked


@transaction.atomic
def invoice_pay(*, invoice: Invoice, actor: Any) -> Invoice:
    """Pay an approved invoice from the child's fund: Dr the child's fund / Cr the provider payable, then
    Dr the payable / Cr the bank. Never more than an item's approved amount, never a fund below zero."""
    from carefund.care.services import care_plan_item_transition
    from carefund.ledger import chart
    from carefund.ledger.rules import PostingSpec
    from carefund.ledger.selectors import fund_balance_pence
    from carefund.ledger.services import account_open, ledger_post

    require_perm(actor, "funding.pay_invoice", "pay invoices")
    locked = Invoice.objects.select_for_update().select_related("care_plan__child", "provider").get(pk=invoice.pk)
    if locked.state != Invoice.State.APPROVED:
        raise StateTransitionError(
            f"state: invoice {locked.number} is {locked.state}; only an approved invoice can be paid.", field="state"
        )
    child = locked.care_plan.child
    Child.objects.select_for_update().filter(pk=child.pk).first()  # one payment per child fund at a time
    amounts = item_charity_amounts(child)
    lines = list(locked.lines.select_related("item"))
    for line in lines:
        already = _paid_for_item(line.item_id)
        limit = amounts.get(line.item_id, 0)
        if already + line.amount_pence > limit:
            raise OverpaymentError(
                f"amount_pence: paying {format_pence(line.amount_pence)} for '{line.item.description}' would bring "
                f"its payments to {format_pence(already + line.amount_pence)}, more than its approved amount "
                f"{format_pence(limit)}.",
                field="amount_pence",
            )
    total = sum(line.amount_pence for line in lines)
    balance = fund_balance_pence(child_id=child.pk)
    grants = list(Grant.objects.select_for_update().filter(child=child).order_by("approved_at", "pk"))
    grant_left = sum(g.amount_pence - g.drawn_pence for g in grants)
    if total > balance + grant_left:
        raise InsufficientFundError(
            f"amount_pence: {child.public_name}'s fund holds {format_pence(balance)}"
            f"{f' (and {format_pence(grant_left)} of approved grants)' if grant_left else ''}; paying "
            f"{format_pence(total)} would take it below zero.",
            field="amount_pence",
        )
    fund = chart.child_fund(child.pk)
    if total > balance:
        _grant_draw(grants=grants, child=child, amount_pence=total - balance, invoice=locked, actor=actor)
    payable = chart.provider_payable(locked.provider_id)
    account_open(name=fund, description=f"Restricted fund of child #{child.pk}", child_id=child.pk)
    account_open(name=payable, description=f"Payable to {locked.provider.name}")
    today = clock.today()
    meta = {"invoice_id": locked.pk, "child_id": child.pk, "provider_id": locked.provider_id}
    bill = ledger_post(
        kind="invoice",
        postings=[PostingSpec(account=fund, amount_pence=total), PostingSpec(account=payable, amount_pence=-total)],
        memo=f"Invoice {locked.number} from {locked.provider.name} for child #{child.pk}",
        on_date=today,
        idempotency_key=f"funding-invoice-{locked.pk}",
        group_id=f"invoice-{locked.pk}",
        actor=actor,
        metadata=meta,
    )
    payment = ledger_post(
        kind="payment",
        postings=[
            PostingSpec(account=payable, amount_pence=total),
            PostingSpec(account=chart.BANK, amount_pence=-total),
        ],
        memo=f"Payment of invoice {locked.number} to {locked.provider.name}",
        on_date=today,
        idempotency_key=f"funding-payment-{locked.pk}",
        group_id=f"invoice-{locked.pk}",
        actor=actor,
        metadata=meta,
    )
    locked.state = Invoice.State.PAID
    locked.paid_at = clock.now()
    locked.paid_by = actor
    locked.invoice_transaction_id = bill.pk
    locked.payment_transaction_id = payment.pk
    locked.save(update_fields=["state", "paid_at", "paid_by", "invoice_transaction_id", "payment_transaction_id"])
    for line in lines:
        care_plan_item_transition(item=line.item, to_state="paid", actor=actor, by_invoice=True)
    audit_record(
        actor=actor,
        action="invoice.paid",
        target=locked,
        summary=f"Paid {format_pence(total)} to {locked.provider.name} from {person_ref('child', child.pk)}'s fund",
        details={"amount_pence": total, "invoice_transaction_id": bill.pk, "payment_transaction_id": payment.pk},
    )
    waterfall_recompute(care_plan=locked.care_plan, reason=f"invoice {locked.number} paid", actor=actor)
    return locked


def _grant_draw(*, grants: list[Grant], child: Child, amount_pence: int, invoice: Invoice, actor: Any) -> None:
    """Move `amount_pence` of approved grants from general funds into the child's fund (kind `grant`)."""
    from carefund.ledger import chart
    from carefund.ledger.rules import PostingSpec
    from carefund.ledger.services import ledger_post

    left = amount_pence
    for grant in grants:
        take = min(left, grant.amount_pence - grant.drawn_pence)
        if take <= 0:
            continue
        ledger_post(
            kind="grant",
            postings=[
                PostingSpec(account=chart.GENERAL_FUND, amount_pence=take),
                PostingSpec(account=chart.child_fund(child.pk), amount_pence=-take),
            ],
            memo=f"Grant #{grant.pk} from general funds for child #{child.pk} (invoice {invoice.number})",
            on_date=clock.today(),
            idempotency_key=f"funding-grant-{grant.pk}-invoice-{invoice.pk}",
            group_id=f"invoice-{invoice.pk}",
            actor=actor,
            metadata={"grant_id": grant.pk, "invoice_id": invoice.pk, "child_id": child.pk},
        )
        grant.drawn_pence += take
        grant.save(update_fields=["drawn_pence"])
        audit_record(actor=actor, action="grant.drawn", target=grant, summary=f"{format_pence(take)} drawn")
        left -= take
        if left == 0:
            break


@transaction.atomic
def grant_approve(*, child: Child, amount_pence: int, reason: str, actor: Any) -> Grant:
    """A trustee approves a grant from general funds for a child's plan; refused beyond what general funds hold
    (less grants already approved and not drawn) or beyond the child's unfunded gap."""
    from carefund.ledger import chart
    from carefund.ledger.selectors import account_balance_pence

    require_perm(actor, "funding.approve_grant", "approve grants from general funds")
    if actor is None:
        raise PermissionDeniedError("approver: a grant must be approved by a named person.")
    require_pence(amount_pence, field="amount_pence")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("reason: say why the grant is made; it is recorded.", field="reason")
    # Serialise grant decisions on the general fund's account row: locking the existing grants alone locks nothing
    # when there are none, so two trustees could each promise the same free money at the same moment.
    from carefund.ledger.models import Account

    list(Account.objects.select_for_update().filter(name=chart.GENERAL_FUND).values_list("pk", flat=True))
    general = -account_balance_pence(name=chart.GENERAL_FUND)
    outstanding = sum(g.amount_pence - g.drawn_pence for g in Grant.objects.select_for_update())
    if amount_pence > general - outstanding:
        raise ValidationError(
            f"amount_pence: general funds hold {format_pence(general)}, of which {format_pence(outstanding)} is "
            f"already promised; {format_pence(amount_pence)} is more than is free.",
            field="amount_pence",
        )
    gap = rules.waterfall(funding_input_for_child(child)).unfunded_pence
    if amount_pence > gap:
        raise ValidationError(
            f"amount_pence: {child.public_name}'s plan lacks {format_pence(gap)}; a grant cannot be larger.",
            field="amount_pence",
        )
    grant = Grant.objects.create(
        child=child, amount_pence=amount_pence, reason=reason, approved_by=actor, approved_at=clock.now()
    )
    audit_record(actor=actor, action="grant.approved", target=grant, summary=f"{format_pence(amount_pence)}: {reason}")
    waterfall_recompute_for_child(child=child, reason=f"grant of {format_pence(amount_pence)} approved", actor=actor)
    return grant


def _paid_for_item(item_id: int) -> int:
    total = InvoiceLine.objects.filter(item_id=item_id, invoice__state=Invoice.State.PAID).aggregate(
        s=Sum("amount_pence")
    )
    return int(total["s"] or 0)
