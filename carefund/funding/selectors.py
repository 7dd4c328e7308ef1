"""Funding reads: the inputs of the pure rules built from rows, and permission-checked reads for the pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Sum

from carefund.care.models import CarePlan, Child
from carefund.core import clock
from carefund.core.errors import NotFoundError, PermissionDeniedError
from carefund.core.permissions import restrict_children
from carefund.core.services import audit_record
from carefund.funding import rules
from carefund.funding.models import (
    Allocation,
    FundingRequest,
    Grant,
    Invoice,
    InvoiceLine,
    Programme,
    SurplusPolicy,
    SurplusTransfer,
    SurplusTransferLine,
    WaterfallRun,
)

# Shown until a trustee publishes a policy: it says what happens either way, as Code of Fundraising Practice
# 2.7.5 requires (sources.md: Code of Fundraising Practice 2.7.5, https://fundraisingregulator.org.uk/more-from-us/news/what-do-if-you-raise-more-donations-you-need-dont-raise-enough-or-cannot-achieve).
DEFAULT_SURPLUS_WORDING = (
    "Every gift for a child is held in that child's restricted fund and spent only on their care plan. If more is "
    "raised than the plan needs (for example because the NHS pays for the surgery), or the child cannot use it, the "
    "money left over goes to other children in urgent need of the same treatment, chosen by a published ranking and "
    "approved by two people; donors are told. If not enough is raised, the fund pays for as much of the plan as it "
    "can, in date order."
)

ITEM_USED_STATES = frozenset({"delivered", "invoiced", "paid"})


# --------------------------------------------------------------------------------------------- rule inputs
def fund_balance_for_child(child_id: int) -> int:
    from carefund.ledger.selectors import fund_balance_pence

    return int(fund_balance_pence(child_id=child_id))


def grant_left_for_child(child_id: int) -> int:
    """Approved grants from general funds for this child not yet drawn into the child's fund."""
    total = Grant.objects.filter(child_id=child_id).aggregate(a=Sum("amount_pence"), d=Sum("drawn_pence"))
    return int(total["a"] or 0) - int(total["d"] or 0)


def allocation_state(allocation: Allocation) -> rules.AllocationState:
    """Used = approved requests whose covered surgery has been delivered; committed = approved, not yet delivered."""
    used_p = used_pence = committed_p = committed_pence = 0
    approved = FundingRequest.objects.filter(allocation=allocation, status=FundingRequest.Status.APPROVED)
    covered = set(allocation.programme.covers_categories)
    for req in approved.prefetch_related("care_plan__items"):
        items = [i for i in req.care_plan.items.all() if i.category in covered and i.state != "cancelled"]
        if items and all(i.state in ITEM_USED_STATES for i in items):
            used_p += 1
            used_pence += req.cost_pence
        else:
            committed_p += 1
            committed_pence += req.cost_pence
    return rules.AllocationState(
        procedures=allocation.procedures,
        budget_pence=allocation.budget_pence,
        used_procedures=used_p,
        used_pence=used_pence,
        committed_procedures=committed_p,
        committed_pence=committed_pence,
    )


def waiting_list_for(allocation: Allocation) -> list[FundingRequest]:
    """The waiting list at one centre in its documented order (`rules.waiting_list_order`)."""
    waiting = {
        r.pk: r for r in FundingRequest.objects.filter(allocation=allocation, status=FundingRequest.Status.WAITING)
    }
    entries = [rules.WaitingEntry(r.pk, r.requested_on, r.ages_out_on) for r in waiting.values()]
    return [waiting[e.request_id] for e in rules.waiting_list_order(entries)]


def current_surplus_policy() -> SurplusPolicy | None:
    return SurplusPolicy.objects.order_by("-version").first()


def surplus_policy_text() -> str:
    """The current published surplus statement, for every campaign page (Code of Fundraising Practice 2.7.5)."""
    policy = current_surplus_policy()
    return policy.wording if policy is not None else DEFAULT_SURPLUS_WORDING


def _programme_cover(child: Child) -> rules.ProgrammeCover | None:
    req = (
        FundingRequest.objects.filter(care_plan__child=child, status=FundingRequest.Status.APPROVED)
        .select_related("programme")
        .order_by("decided_at", "pk")
        .first()
    )
    if req is None:
        return None
    prog = req.programme
    cap = int(prog.capped_amounts_by_gmfcs.get(str(child.gmfcs_level), 0)) if prog.capped_category else 0
    approved_plans = FundingRequest.objects.filter(
        care_plan__child=child, programme=prog, status=FundingRequest.Status.APPROVED
    ).values_list("care_plan_id", flat=True)
    return rules.ProgrammeCover(
        name=prog.name,
        categories=frozenset(prog.covers_categories),
        capped_category=prog.capped_category,
        cap_pence=cap,
        plan_ids=frozenset(approved_plans),
    )


def funding_input_for_child(child: Child) -> rules.WaterfallInput:
    """The waterfall's input for a child: one restricted fund, the items of all the child's plans."""
    paid = dict(
        InvoiceLine.objects.filter(item__plan__child=child, invoice__state=Invoice.State.PAID)
        .values("item_id")
        .annotate(s=Sum("amount_pence"))
        .values_list("item_id", "s")
    )
    items = tuple(
        rules.WaterfallItem(
            item_id=i.pk,
            description=i.description,
            category=i.category,
            cost_pence=int(i.cost_pence),
            state=i.state,
            planned_date=i.planned_date,
            paid_pence=int(paid.get(i.pk, 0) or 0),
            plan_id=plan.pk,
        )
        for plan in child.care_plans.all()
        for i in plan.items.all()
    )
    policy = current_surplus_policy()
    return rules.WaterfallInput(
        items=items,
        fund_balance_pence=fund_balance_for_child(child.pk),
        grant_pence=grant_left_for_child(child.pk),
        programme=_programme_cover(child),
        contingency_basis_points=policy.contingency_basis_points if policy else 0,
    )


def item_charity_amounts(child: Child) -> dict[int, int]:
    """Per item, the amount the charity may pay (its cost less what the NHS pays): the item's approved amount."""
    result = rules.waterfall(funding_input_for_child(child))
    return {
        line.item_id: line.cost_pence - line.nhs_pence for line in result.lines if line.payer != rules.PAYER_CANCELLED
    }


def urgency_candidates(
    *, policy: SurplusPolicy, child_ids: Iterable[int] | None = None
) -> list[rules.UrgencyCandidate]:
    """Every child with a care plan (or only those in `child_ids`), as a candidate for the urgency ranking today."""
    from carefund.care.rules import POLICIES, sdr_eligibility
    from carefund.care.selectors import eligibility_input_for

    elig_policy = POLICIES[policy.eligibility_policy]
    today = clock.today()
    out: list[rules.UrgencyCandidate] = []
    children = Child.objects.filter(care_plans__isnull=False)
    if child_ids is not None:
        children = children.filter(pk__in=list(child_ids))
    for child in children.distinct().order_by("pk"):
        verdict = sdr_eligibility(eligibility_input_for(child=child, on_date=today), elig_policy)
        result = rules.waterfall(funding_input_for_child(child))
        surgery = (
            child.care_plans.filter(items__category="surgery", items__state="booked", items__planned_date__gte=today)
            .values_list("items__planned_date", flat=True)
            .order_by("items__planned_date")
            .first()
        )
        first_gap = (
            WaterfallRun.objects.filter(care_plan__child=child, unfunded_pence__gt=0)
            .order_by("computed_at")
            .values_list("computed_at", flat=True)
            .first()
        )
        out.append(
            rules.UrgencyCandidate(
                child_id=child.pk,
                name=child.public_name,
                eligible=verdict.eligible,
                ineligible_reason="; ".join(c.reason for c in verdict.criteria if not c.met),
                gap_pence=result.unfunded_pence,
                ages_out_on=rules.ages_out_on(child.date_of_birth, elig_policy.max_age),
                surgery_booked_on=surgery,
                waiting_since=first_gap.date() if first_gap else None,
            )
        )
    return out


# --------------------------------------------------------------------------------------------- page reads
def _has(user: Any, perm: str) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_perm(perm))


@dataclass(frozen=True)
class ChildFunding:
    child: Child
    plans: list[CarePlan]
    result: rules.WaterfallResult
    balance_pence: int
    runs: list[WaterfallRun]
    requests: list[FundingRequest]
    invoices: list[Invoice]
    transfers_out: list[SurplusTransfer]
    transfers_in: list[SurplusTransferLine]
    policy_text: str
    grants: list[Grant] = field(default_factory=list)


def child_funding_for_user(*, user: Any, child_id: int) -> ChildFunding:
    """A child's funding record, for staff and that child's guardians; 404 (NotFoundError) for anyone else.
    Every view is audited (health data)."""
    if not _has(user, "funding.view_waterfallrun"):
        raise NotFoundError("No such child.")
    child = restrict_children(Child.objects.all(), user).filter(pk=child_id).first()
    if child is None:
        raise NotFoundError("No such child.")
    audit_record(actor=user, action="child.funding_viewed", target=child, summary="funding page viewed")
    inp = funding_input_for_child(child)
    return ChildFunding(
        child=child,
        plans=list(child.care_plans.prefetch_related("items")),
        result=rules.waterfall(inp),
        balance_pence=inp.fund_balance_pence,
        runs=list(WaterfallRun.objects.filter(care_plan__child=child).order_by("-computed_at", "-pk")[:50]),
        requests=list(
            FundingRequest.objects.filter(care_plan__child=child).select_related("programme", "allocation__centre")
        ),
        invoices=list(
            Invoice.objects.filter(care_plan__child=child).select_related("provider").prefetch_related("lines")
        ),
        transfers_out=list(SurplusTransfer.objects.filter(source_child=child).prefetch_related("lines__recipient")),
        transfers_in=list(SurplusTransferLine.objects.filter(recipient=child).select_related("transfer__source_child")),
        policy_text=surplus_policy_text(),
        grants=list(Grant.objects.filter(child=child).select_related("approved_by")),
    )


@dataclass(frozen=True)
class AllocationRow:
    allocation: Allocation
    state: rules.AllocationState
    left: rules.AllocationLeft
    waiting: list[FundingRequest]


@dataclass(frozen=True)
class ProgrammeOverview:
    programme: Programme
    rows: list[AllocationRow]
    decisions: list[FundingRequest]
    pending: list[FundingRequest]


def programmes_for_user(*, user: Any) -> list[Programme]:
    if not _has(user, "funding.view_programme"):
        raise PermissionDeniedError("You may not see NHS programmes; it needs the permission funding.view_programme.")
    return list(Programme.objects.select_related("commissioner"))


def programme_overview_for_user(*, user: Any, programme_id: int) -> ProgrammeOverview:
    if not _has(user, "funding.view_programme"):
        raise NotFoundError("No such programme.")
    programme = Programme.objects.filter(pk=programme_id).first()
    if programme is None:
        raise NotFoundError("No such programme.")
    rows = []
    for allocation in programme.allocations.select_related("centre", "programme"):
        state = allocation_state(allocation)
        rows.append(AllocationRow(allocation, state, rules.allocation_left(state), waiting_list_for(allocation)))
    requests = FundingRequest.objects.filter(programme=programme).select_related(
        "care_plan__child", "allocation__centre"
    )
    return ProgrammeOverview(
        programme=programme,
        rows=rows,
        decisions=list(requests.filter(decided_at__isnull=False).order_by("-decided_at")),
        pending=list(requests.filter(status=FundingRequest.Status.PENDING).order_by("requested_on", "pk")),
    )


def urgency_preview_for_user(*, user: Any) -> rules.RankingResult:
    """The ranking a caseworker previews before proposing a transfer."""
    if not _has(user, "funding.add_surplustransfer"):
        raise PermissionDeniedError("You may not preview the urgency ranking; it is for caseworkers.")
    policy = current_surplus_policy()
    if policy is None:
        return rules.RankingResult(ranked=())
    return rules.rank_urgency(urgency_candidates(policy=policy), today=clock.today())


def raised_for_child(child: Child) -> int:
    """Gifts that stand (succeeded, not refunded) to any campaign for this child, less what was refunded of them in
    part, in pence."""
    from carefund.campaigns.models import Donation, DonationStatus

    total = Donation.objects.filter(campaign__child=child, status=DonationStatus.SUCCEEDED).aggregate(
        s=Sum(F("amount_pence") - F("refunded_gift_pence"))
    )["s"]
    return int(total or 0)


def child_totals(child: Child) -> dict[str, int]:
    """The story's figures for a child: raised, NHS-funded, spent, surplus out and in, balance (pence)."""
    raised = raised_for_child(child)
    result = rules.waterfall(funding_input_for_child(child))
    out = int(
        SurplusTransferLine.objects.filter(
            transfer__source_child=child, transfer__state=SurplusTransfer.State.POSTED
        ).aggregate(s=Sum("amount_pence"))["s"]
        or 0
    )
    into = int(
        SurplusTransferLine.objects.filter(recipient=child, transfer__state=SurplusTransfer.State.POSTED).aggregate(
            s=Sum("amount_pence")
        )["s"]
        or 0
    )
    spent = int(
        InvoiceLine.objects.filter(item__plan__child=child, invoice__state=Invoice.State.PAID).aggregate(
            s=Sum("amount_pence")
        )["s"]
        or 0
    )
    return {
        "raised_pence": raised,
        "nhs_funded_pence": result.nhs_pence,
        "spent_pence": spent,
        "surplus_out_pence": out,
        "surplus_in_pence": into,
        "balance_pence": fund_balance_for_child(child.pk),
    }


# --------------------------------------------------------------------------------------------- what needs a person
def invoices_to_approve_for_user(*, user: Any) -> list[Invoice]:
    """Invoices waiting for an approval `user` may give: not entered nor already approved by them (four eyes)."""
    if not _has(user, "funding.approve_invoice"):
        return []
    invoices = (
        Invoice.objects.filter(state=Invoice.State.ENTERED)
        .exclude(entered_by=user)
        .exclude(approvals__approver=user)
        .filter(care_plan__child__in=restrict_children(Child.objects.all(), user))
        .select_related("provider", "care_plan__child")
        .prefetch_related("lines")
    )
    return list(invoices.order_by("issued_on", "pk"))


def transfers_to_approve_for_user(*, user: Any) -> list[SurplusTransfer]:
    """Surplus transfers waiting for an approval `user` may give: not proposed nor already approved by them."""
    if not _has(user, "funding.approve_surplustransfer"):
        return []
    transfers = (
        SurplusTransfer.objects.filter(state=SurplusTransfer.State.PROPOSED)
        .exclude(proposed_by=user)
        .exclude(approvals__approver=user)
        .select_related("source_child")
        .prefetch_related("lines")
    )
    return list(transfers.order_by("proposed_at", "pk"))


def funding_requests_to_decide_for_user(*, user: Any) -> list[FundingRequest]:
    """Requests for NHS funding still waiting for a commissioner's decision, oldest first."""
    if not _has(user, "funding.decide_fundingrequest"):
        return []
    requests = FundingRequest.objects.filter(
        status=FundingRequest.Status.PENDING,
        care_plan__child__in=restrict_children(Child.objects.all(), user),
    ).select_related("programme", "care_plan__child")
    return list(requests.order_by("requested_on", "pk"))
