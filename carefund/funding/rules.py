"""Funding decisions that need no database: pure functions over frozen dataclasses.

- `waterfall`: who pays each care-plan item (an NHS programme that covers and approved it, then the child's
  restricted fund, then an approved grant from general funds), with one explanation line per item.
- `surplus`: the fund's balance less what the remaining plan still needs less a contingency.
- `allocation_left` / `allocation_refusal`: the arithmetic of a programme's allocation at one centre.
- `waiting_list_order`: the documented order of the waiting list per programme and centre.
- `rank_urgency`: the explainable ranking of children in urgent need (for surplus transfers).

All amounts are integer pence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from carefund.core.money import format_pence

# Item states whose money has left the fund (the invoice was paid) or that no longer need money.
CANCELLED = "cancelled"
PAID = "paid"
# Item states in which the charity has a commitment to a provider (a booking, a delivered service, an invoice).
COMMITTED_STATES = frozenset({"booked", "delivered", "invoiced"})

PAYER_NHS = "nhs"
PAYER_FUND = "fund"
PAYER_GRANT = "grant"
PAYER_MIXED = "mixed"
PAYER_NONE = "unfunded"
PAYER_PAID = "paid"
PAYER_CANCELLED = "cancelled"
PAYER_LABELS = {
    PAYER_NHS: "The NHS",
    PAYER_FUND: "The child's fund",
    PAYER_GRANT: "A grant from general funds",
    PAYER_MIXED: "Shared",
    PAYER_NONE: "Not yet funded",
    PAYER_PAID: "Paid from the child's fund",
    PAYER_CANCELLED: "Nobody (cancelled)",
}


# --------------------------------------------------------------------------------------------- waterfall
@dataclass(frozen=True)
class ProgrammeCover:
    """What an approved NHS programme pays for this plan.

    `categories` are paid in full (CtE: the surgery). `capped_category` items are paid up to `cap_pence` in
    total, earliest first (2018 policy: a fixed community rehabilitation amount by GMFCS level)."""

    name: str
    categories: frozenset[str]
    capped_category: str = ""
    cap_pence: int = 0
    # The care plans the programme approved (empty: every item given). A child may have another plan (a second
    # operation elsewhere) that the NHS did not approve; its items are the charity's to fund.
    plan_ids: frozenset[int] = frozenset()

    def covers_plan(self, plan_id: int) -> bool:
        return not self.plan_ids or plan_id in self.plan_ids


@dataclass(frozen=True)
class WaterfallItem:
    item_id: int
    description: str
    category: str
    cost_pence: int
    state: str
    planned_date: dt.date | None = None
    paid_pence: int = 0  # already paid from the child's fund for this item
    plan_id: int = 0  # the care plan the item belongs to


@dataclass(frozen=True)
class WaterfallInput:
    items: tuple[WaterfallItem, ...]
    fund_balance_pence: int  # money in the child's restricted fund now (after payments already made)
    grant_pence: int = 0  # approved grants from general funds for this plan, not yet used
    programme: ProgrammeCover | None = None
    contingency_basis_points: int = 0  # of what the remaining plan still needs (1000 = 10%)


@dataclass(frozen=True)
class WaterfallLine:
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


@dataclass(frozen=True)
class WaterfallResult:
    lines: tuple[WaterfallLine, ...]
    plan_cost_pence: int  # all items not cancelled
    nhs_pence: int  # paid by the NHS programme: never touches the charity's funds
    spent_pence: int  # already paid from the child's fund
    committed_pence: int  # fund and grant money earmarked for items still to be paid
    funded_pence: int  # nhs + spent + committed
    unfunded_pence: int  # needed with no payer yet
    charity_share_pence: int  # what the campaign must raise in total: plan cost not paid by the NHS or a grant
    contingency_pence: int
    surplus_pence: int


def contingency_for(*, remaining_need_pence: int, basis_points: int) -> int:
    """The contingency held back: `basis_points` of what the remaining plan still needs, rounded up."""
    if remaining_need_pence <= 0 or basis_points <= 0:
        return 0
    return -(-remaining_need_pence * basis_points // 10_000)


def surplus(*, fund_balance_pence: int, remaining_need_pence: int, contingency_basis_points: int) -> tuple[int, int]:
    """Surplus = balance - remaining need - contingency, never below zero. Returns (surplus, contingency)."""
    contingency = contingency_for(remaining_need_pence=remaining_need_pence, basis_points=contingency_basis_points)
    return max(0, fund_balance_pence - remaining_need_pence - contingency), contingency


def waterfall(inp: WaterfallInput) -> WaterfallResult:
    """Decide who pays each item, in planned-date order (undated last, then by item id)."""
    fund_left = max(0, inp.fund_balance_pence)
    grant_left = max(0, inp.grant_pence)
    cap_left = inp.programme.cap_pence if inp.programme else 0
    lines: list[WaterfallLine] = []
    order = sorted(inp.items, key=lambda i: (i.planned_date is None, i.planned_date or dt.date.min, i.item_id))
    remaining_need = 0
    for item in order:
        if item.state == CANCELLED:
            lines.append(
                WaterfallLine(
                    item.item_id, item.description, item.cost_pence, PAYER_CANCELLED, 0, 0, 0, 0, 0,
                    "Cancelled: nobody pays.",
                )
            )  # fmt: skip
            continue
        nhs = 0
        # What the child's fund has already paid for the item stays stated as paid, whoever covers the rest: money
        # paid before an NHS approval is spent (the ledger shows it), and the NHS covers what is still to pay.
        paid_before = min(max(0, item.paid_pence), item.cost_pence)
        still_to_pay = item.cost_pence - paid_before
        prog = inp.programme if inp.programme is not None and inp.programme.covers_plan(item.plan_id) else None
        if prog is not None and item.category in prog.categories:
            nhs = still_to_pay
        elif prog is not None and prog.capped_category and item.category == prog.capped_category and cap_left > 0:
            nhs = min(cap_left, still_to_pay)
            cap_left -= nhs
        if nhs == item.cost_pence:
            lines.append(
                WaterfallLine(
                    item.item_id, item.description, item.cost_pence, PAYER_NHS, nhs, 0, 0, 0, 0,
                    f"Paid by the NHS ({prog.name if prog else ''}): {format_pence(nhs)}; "
                    "the charity's funds are not used.",
                )
            )  # fmt: skip
            continue
        charity_part = item.cost_pence - nhs
        paid = paid_before  # never more than charity_part: the NHS covers only what was still to pay
        need = charity_part - paid
        remaining_need += need
        from_fund = min(need, fund_left)
        fund_left -= from_fund
        from_grant = min(need - from_fund, grant_left)
        grant_left -= from_grant
        unfunded = need - from_fund - from_grant
        parts: list[str] = []
        if nhs:
            parts.append(f"{format_pence(nhs)} by the NHS ({prog.name if prog else ''}, capped allowance)")
        if paid:
            parts.append(f"{format_pence(paid)} already paid from the child's fund")
            if prog is not None and item.category in prog.categories:
                parts.append(
                    "the NHS programme covers this item, so the commissioner may be asked to reimburse what the "
                    "child's fund paid before it was approved"
                )
        if from_fund:
            parts.append(f"{format_pence(from_fund)} from the child's fund")
        if from_grant:
            parts.append(f"{format_pence(from_grant)} from a grant from general funds")
        if unfunded:
            parts.append(f"{format_pence(unfunded)} not yet funded")
        payers = [
            p
            for p, amount in (
                (PAYER_NHS, nhs),
                (PAYER_FUND, from_fund),
                (PAYER_GRANT, from_grant),
                (PAYER_NONE, unfunded),
            )
            if amount
        ]
        if need == 0 and paid:
            payer = PAYER_PAID
        elif len(payers) == 1:
            payer = payers[0]
        else:
            payer = PAYER_MIXED
        lines.append(
            WaterfallLine(
                item_id=item.item_id,
                description=item.description,
                cost_pence=item.cost_pence,
                payer=payer,
                nhs_pence=nhs,
                paid_pence=paid,
                fund_pence=from_fund,
                grant_pence=from_grant,
                unfunded_pence=unfunded,
                explanation=("; ".join(parts) + ".") if parts else "Nothing to pay.",
            )
        )
    nhs_total = sum(line.nhs_pence for line in lines)
    spent = sum(line.paid_pence for line in lines)
    committed = sum(line.fund_pence + line.grant_pence for line in lines)
    unfunded_total = sum(line.unfunded_pence for line in lines)
    plan_cost = sum(line.cost_pence for line in lines if line.payer != PAYER_CANCELLED)
    # What the fund itself must still cover (the grant covers its part).
    fund_need = sum(line.fund_pence + line.unfunded_pence for line in lines)
    surplus_pence, contingency = surplus(
        fund_balance_pence=inp.fund_balance_pence,
        remaining_need_pence=fund_need,
        contingency_basis_points=inp.contingency_basis_points,
    )
    granted = sum(line.grant_pence for line in lines)
    return WaterfallResult(
        lines=tuple(lines),
        plan_cost_pence=plan_cost,
        nhs_pence=nhs_total,
        spent_pence=spent,
        committed_pence=committed,
        funded_pence=nhs_total + spent + committed,
        unfunded_pence=unfunded_total,
        charity_share_pence=plan_cost - nhs_total - granted,
        contingency_pence=contingency,
        surplus_pence=surplus_pence,
    )


# --------------------------------------------------------------------------------------------- allocations
@dataclass(frozen=True)
class AllocationState:
    """An allocation at one centre: a number of procedures, a budget, or both (None = not limited that way)."""

    procedures: int | None
    budget_pence: int | None
    used_procedures: int = 0
    used_pence: int = 0
    committed_procedures: int = 0
    committed_pence: int = 0


@dataclass(frozen=True)
class AllocationLeft:
    procedures: int | None
    budget_pence: int | None


def allocation_left(state: AllocationState) -> AllocationLeft:
    procedures = (
        None if state.procedures is None else state.procedures - state.used_procedures - state.committed_procedures
    )
    budget = None if state.budget_pence is None else state.budget_pence - state.used_pence - state.committed_pence
    return AllocationLeft(procedures=procedures, budget_pence=budget)


def allocation_refusal(state: AllocationState, *, cost_pence: int) -> str:
    """Why one more procedure costing `cost_pence` cannot be taken from the allocation ('' when it can)."""
    left = allocation_left(state)
    if left.procedures is not None and left.procedures < 1:
        return f"no funded procedures left (allocation {state.procedures}, all used or committed)"
    if left.budget_pence is not None and left.budget_pence < cost_pence:
        return (
            f"the budget left, {format_pence(max(0, left.budget_pence))}, is less than the cost "
            f"{format_pence(cost_pence)}"
        )
    return ""


# --------------------------------------------------------------------------------------------- waiting list
@dataclass(frozen=True)
class WaitingEntry:
    request_id: int
    requested_on: dt.date
    ages_out_on: dt.date | None  # the day the child passes the programme's age limit


def waiting_list_order(entries: Iterable[WaitingEntry]) -> list[WaitingEntry]:
    """The waiting list's documented order: the child whose eligibility window closes first comes first (a
    child who ages out cannot be treated later); then the earlier request; then the lower request number."""
    return sorted(
        entries,
        key=lambda e: (e.ages_out_on is None, e.ages_out_on or dt.date.max, e.requested_on, e.request_id),
    )


# --------------------------------------------------------------------------------------------- urgency
@dataclass(frozen=True)
class UrgencyCandidate:
    child_id: int
    name: str
    eligible: bool  # meets the clinical criteria of the policy used for the ranking
    ineligible_reason: str
    gap_pence: int  # what the child's plan still lacks (unfunded)
    ages_out_on: dt.date | None  # day the child passes the age limit
    surgery_booked_on: dt.date | None  # a booked surgery date, if any
    waiting_since: dt.date | None  # when the child's plan first had a gap


@dataclass(frozen=True)
class Ranked:
    child_id: int
    name: str
    rank: int
    points: int
    gap_pence: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RankingResult:
    ranked: tuple[Ranked, ...]
    excluded: tuple[tuple[int, str, str], ...] = field(default_factory=tuple)  # (child_id, name, reason)


# The weights are part of the published policy; changing them changes the ranking, so they live here, in one place.
WINDOW_HORIZON_DAYS = 365  # a window closing within a year earns points, more the sooner
WINDOW_MAX_POINTS = 400
SURGERY_HORIZON_DAYS = 180  # a booked surgery within six months with a gap earns points
SURGERY_MAX_POINTS = 300
WAITING_POINTS_PER_30_DAYS = 10
WAITING_MAX_POINTS = 200
GAP_POINTS_PER_1000_POUNDS = 5
GAP_MAX_POINTS = 100


def rank_urgency(candidates: Sequence[UrgencyCandidate], *, today: dt.date) -> RankingResult:
    """Rank children by urgency, explainably: each point comes with a reason.

    Points: eligibility window closing within a year (up to 400, more the sooner), a booked surgery within six
    months with a gap (up to 300, more the sooner), time waiting (10 per 30 days, up to 200), size of the gap
    (5 per £1,000, up to 100). Children who are not eligible, have no gap, or have already aged out are
    excluded with the reason. Ties: the longer wait first, then the lower child number."""
    ranked: list[tuple[int, dt.date, int, Ranked]] = []
    excluded: list[tuple[int, str, str]] = []
    for c in candidates:
        if not c.eligible:
            excluded.append((c.child_id, c.name, f"not eligible: {c.ineligible_reason}"))
            continue
        if c.gap_pence <= 0:
            excluded.append((c.child_id, c.name, "no gap: the plan is fully funded"))
            continue
        if c.ages_out_on is not None and c.ages_out_on <= today:
            excluded.append((c.child_id, c.name, f"aged out of the eligibility window on {c.ages_out_on:%d %b %Y}"))
            continue
        points = 0
        reasons: list[str] = []
        if c.ages_out_on is not None:
            days = (c.ages_out_on - today).days
            if days <= WINDOW_HORIZON_DAYS:
                p = WINDOW_MAX_POINTS * (WINDOW_HORIZON_DAYS - days) // WINDOW_HORIZON_DAYS
                points += p
                reasons.append(f"eligibility window closes in {days} days, on {c.ages_out_on:%d %b %Y} (+{p})")
        if c.surgery_booked_on is not None:
            days = (c.surgery_booked_on - today).days
            if 0 <= days <= SURGERY_HORIZON_DAYS:
                p = SURGERY_MAX_POINTS * (SURGERY_HORIZON_DAYS - days) // SURGERY_HORIZON_DAYS
                points += p
                reasons.append(f"surgery booked for {c.surgery_booked_on:%d %b %Y}, in {days} days, with a gap (+{p})")
        waiting_days = (today - c.waiting_since).days if c.waiting_since else 0
        if waiting_days > 0:
            p = min(WAITING_MAX_POINTS, WAITING_POINTS_PER_30_DAYS * (waiting_days // 30))
            points += p
            reasons.append(f"waiting {waiting_days} days since {c.waiting_since:%d %b %Y} (+{p})")
        p = min(GAP_MAX_POINTS, GAP_POINTS_PER_1000_POUNDS * (c.gap_pence // 100_000))
        points += p
        reasons.append(f"gap of {format_pence(c.gap_pence)} (+{p})")
        entry = Ranked(c.child_id, c.name, 0, points, c.gap_pence, tuple(reasons))
        ranked.append((-points, c.waiting_since or today, c.child_id, entry))
    ranked.sort(key=lambda t: (t[0], t[1], t[2]))
    result = tuple(
        Ranked(r.child_id, r.name, i + 1, r.points, r.gap_pence, r.reasons) for i, (_, _, _, r) in enumerate(ranked)
    )
    return RankingResult(ranked=result, excluded=tuple(excluded))


def fill_down_ranking(ranked: Sequence[Ranked], *, available_pence: int) -> list[tuple[int, int]]:
    """Share a surplus down the ranking: each child in rank order gets their whole gap until the money runs out.
    Returns (child_id, amount) pairs, all amounts positive; their sum is min(available, sum of gaps)."""
    left = max(0, available_pence)
    out: list[tuple[int, int]] = []
    for r in sorted(ranked, key=lambda x: x.rank):
        if left <= 0:
            break
        take = min(left, r.gap_pence)
        if take > 0:
            out.append((r.child_id, take))
            left -= take
    return out


def ages_out_on(date_of_birth: dt.date, max_age: int) -> dt.date:
    """The day a child born on `date_of_birth` is older than `max_age` (their (max_age+1)th birthday)."""
    year = date_of_birth.year + max_age + 1
    try:
        return date_of_birth.replace(year=year)
    except ValueError:  # 29 February
        return dt.date(year, 3, 1)
