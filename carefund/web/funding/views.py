"""Funding pages: thin views that parse, call one service or selector, and render. Errors become messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from carefund.care.models import CarePlan, CarePlanItem, Child
from carefund.core.errors import DomainError, NotFoundError, PermissionDeniedError
from carefund.core.money import format_pence, parse_pounds
from carefund.core.permissions import is_staff_reader, restrict_children
from carefund.funding import selectors, services, surplus
from carefund.funding.models import Allocation, FundingRequest, Invoice, Programme, SurplusTransfer
from carefund.giftaid.claim_selectors import gift_aid_claimed_for_child
from carefund.web.words import in_words


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Back to `next` when it is a page of this site, else to `fallback` (never an open redirect)."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(fallback)


# The funding pages' field labels, for refusals that name a field by its code name (web/words.py).
LABELS = {
    "amount": "Amount (£)",
    "amount_pence": "Amount (£)",
    "budget": "Budget (£)",
    "procedures": "Procedures",
    "reason": "Reason",
    "number": "Invoice number",
    "lines": "Amounts",
    "target": "Centre to move to",
    "care_plan": "Plan",
    "recipients": "Children to receive it",
}


def _act(request: HttpRequest, fallback: str, action: Callable[[], Any], done: str) -> HttpResponseRedirect:
    try:
        action()
    except DomainError as exc:
        messages.error(request, in_words(exc, LABELS))
    else:
        messages.success(request, done)
    return _back(request, fallback)


def _child_for(request: HttpRequest, child_id: int) -> Child:
    child: Child | None = restrict_children(Child.objects.all(), request.user).filter(pk=child_id).first()
    if child is None:
        raise Http404("No such child.")
    return child


@login_required
def child_funding(request: HttpRequest, child_id: int) -> HttpResponse:
    try:
        data = selectors.child_funding_for_user(user=request.user, child_id=child_id)
    except NotFoundError:
        raise Http404("No such child.") from None
    user = request.user
    programmes = Programme.objects.all() if user.has_perm("funding.add_fundingrequest") else Programme.objects.none()
    delivered = CarePlanItem.objects.filter(plan__child=data.child, state="delivered")
    gift_aid = gift_aid_claimed_for_child(child_id=data.child.pk)
    return render(
        request,
        "web/funding/child.html",
        {
            "d": data,
            "programmes": programmes,
            "delivered_items": delivered,
            "gift_aid": gift_aid,
            "can_request": user.has_perm("funding.add_fundingrequest"),
            "can_recompute": user.has_perm("funding.add_waterfallrun"),
            "can_invoice": user.has_perm("funding.add_invoice"),
            # only what this person may approve: not what they entered or already approved (four eyes)
            "approvable_invoices": {i.pk for i in selectors.invoices_to_approve_for_user(user=user)},
            "can_pay": user.has_perm("funding.pay_invoice"),
            "can_propose": user.has_perm("funding.add_surplustransfer"),
            "can_grant": user.has_perm("funding.approve_grant"),
            # A family sees the name of another child only if that child's guardians consented to publicity.
            "staff_reader": is_staff_reader(user),
        },
    )


@login_required
@require_POST
def grant_approve(request: HttpRequest, child_id: int) -> HttpResponse:
    """A trustee approves a grant from general funds towards the child's unfunded gap (the waterfall's third tier)."""
    child = _child_for(request, child_id)
    url = reverse("funding-child", args=[child.pk])
    try:
        amount = parse_pounds(request.POST.get("amount", ""), field="amount")
    except DomainError as exc:
        messages.error(request, in_words(exc, LABELS))
        return _back(request, url)
    return _act(
        request,
        url,
        lambda: services.grant_approve(
            child=child, amount_pence=amount, reason=request.POST.get("reason", ""), actor=request.user
        ),
        f"Grant of {format_pence(amount)} from general funds approved; the waterfall is recomputed.",
    )


@login_required
@require_POST
def request_create(request: HttpRequest, child_id: int) -> HttpResponse:
    child = _child_for(request, child_id)
    url = reverse("funding-child", args=[child.pk])
    programme = Programme.objects.filter(pk=_int(request.POST.get("programme"))).first()
    plan = CarePlan.objects.filter(child=child, pk=_int(request.POST.get("care_plan"))).first()
    if programme is None or plan is None:
        messages.error(request, "Choose a programme and one of the child's care plans.")
        return _back(request, url)
    return _act(
        request,
        url,
        lambda: services.funding_request_create(programme=programme, care_plan=plan, actor=request.user),
        f"Asked {programme} to fund the plan.",
    )


@login_required
@require_POST
def recompute(request: HttpRequest, child_id: int) -> HttpResponse:
    child = _child_for(request, child_id)
    url = reverse("funding-child", args=[child.pk])
    return _act(
        request, url, lambda: services.waterfall_recompute_requested(child=child, actor=request.user), "Recomputed."
    )


@login_required
@require_POST
def request_decide(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(FundingRequest, pk=pk)
    decision = request.POST.get("decision")
    url = reverse("funding-programme", args=[req.programme_id])
    if decision not in ("approve", "decline"):
        # Never read a missing or mistyped decision as a refusal: a child's NHS funding would be declined by accident.
        messages.error(request, "Choose Approve or Decline.")
        return _back(request, url)
    approve = decision == "approve"
    return _act(
        request,
        url,
        lambda: services.funding_request_decide(
            request=req, approve=approve, reason=request.POST.get("reason", ""), actor=request.user
        ),
        "Approved." if approve else "Declined.",
    )


@login_required
@require_POST
def request_wait(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(FundingRequest, pk=pk)
    url = reverse("funding-programme", args=[req.programme_id])
    return _act(
        request, url, lambda: services.funding_request_wait(request=req, actor=request.user), "On the waiting list."
    )


@login_required
def programme_list(request: HttpRequest) -> HttpResponse:
    try:
        programmes = selectors.programmes_for_user(user=request.user)
    except PermissionDeniedError:
        raise Http404("No such page.") from None
    return render(request, "web/funding/programmes.html", {"programmes": programmes})


@login_required
def programme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        overview = selectors.programme_overview_for_user(user=request.user, programme_id=pk)
    except NotFoundError:
        raise Http404("No such programme.") from None
    return render(
        request,
        "web/funding/programme.html",
        {"o": overview, "can_decide": request.user.has_perm("funding.decide_fundingrequest"),
         "can_manage": request.user.has_perm("funding.manage_allocation")},
    )  # fmt: skip


# Larger numbers than any id or count carefund keeps; anything bigger is bad input, not a database overflow.
_MAX_INT = 2**31 - 1


def _int(value: str | None) -> int:
    """A whole number from a form field: 0 when empty, -1 (refused downstream) when not a sensible number."""
    try:
        number = int((value or "0").strip())
    except ValueError:
        return -1
    return number if -_MAX_INT <= number <= _MAX_INT else -1


@login_required
@require_POST
def allocation_change(request: HttpRequest, pk: int) -> HttpResponse:
    allocation = get_object_or_404(Allocation, pk=pk)
    url = reverse("funding-programme", args=[allocation.programme_id])
    kind = request.POST.get("kind")
    procedures = _int(request.POST.get("procedures"))
    try:
        budget = parse_pounds(request.POST["budget"], field="budget") if request.POST.get("budget") else 0
    except DomainError as exc:
        messages.error(request, in_words(exc, LABELS))
        return _back(request, url)
    reason = request.POST.get("reason", "")
    if kind == "move":
        target = Allocation.objects.filter(pk=_int(request.POST.get("target"))).first()
        if target is None:
            messages.error(request, "Centre to move to: choose the centre to move the allocation to.")
            return _back(request, url)
        return _act(
            request,
            url,
            lambda: services.allocation_move(
                source=allocation, target=target, procedures=procedures, budget_pence=budget, reason=reason,
                actor=request.user,
            ),
            "Allocation moved.",
        )  # fmt: skip
    service = services.allocation_cut if kind == "cut" else services.allocation_add
    return _act(
        request,
        url,
        lambda: service(
            allocation=allocation, procedures=procedures, budget_pence=budget, reason=reason, actor=request.user
        ),
        "Allocation changed.",
    )


@login_required
@require_POST
def invoice_enter(request: HttpRequest, child_id: int) -> HttpResponse:
    child = _child_for(request, child_id)
    url = reverse("funding-child", args=[child.pk])
    lines = []
    try:
        for item in CarePlanItem.objects.filter(plan__child=child, state="delivered").select_related(
            "plan__provider", "provider"
        ):
            text = request.POST.get(f"item_{item.pk}", "").strip()
            if text:
                lines.append((item, parse_pounds(text, field=f"amount for {item.description}")))
        issued_on = dt.date.fromisoformat(request.POST.get("issued_on", ""))
    except DomainError as exc:
        messages.error(request, in_words(exc, LABELS))
        return _back(request, url)
    except ValueError:
        messages.error(request, "Date: give the date on the invoice, for example 2026-03-31.")
        return _back(request, url)
    if not lines:
        messages.error(request, "Amounts: enter an amount in pounds for at least one delivered item.")
        return _back(request, url)
    first = lines[0][0]
    plan = first.plan
    if request.POST.get("provider"):
        from carefund.care.models import Provider

        provider = get_object_or_404(Provider, pk=_int(request.POST.get("provider")))
    else:
        provider = first.provider or plan.provider  # the provider that delivered the items bills for them
    return _act(
        request,
        url,
        lambda: services.invoice_enter(
            provider=provider, care_plan=plan, number=request.POST.get("number", ""), issued_on=issued_on, lines=lines,
            actor=request.user,
        ),
        "Invoice entered; another finance officer must approve it.",
    )  # fmt: skip


@login_required
@require_POST
def invoice_approve(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    url = reverse("funding-child", args=[invoice.care_plan.child_id])
    return _act(
        request, url, lambda: services.invoice_approve(invoice=invoice, actor=request.user), "Approval recorded."
    )


@login_required
@require_POST
def invoice_pay(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    url = reverse("funding-child", args=[invoice.care_plan.child_id])
    return _act(request, url, lambda: services.invoice_pay(invoice=invoice, actor=request.user), "Invoice paid.")


@login_required
def surplus_preview(request: HttpRequest) -> HttpResponse:
    """Caseworkers preview the ranking and propose; finance officers and trustees see the proposals (each with the
    ranking and reasons as they were when proposed) and approve them here."""
    user = request.user
    can_propose = user.has_perm("funding.add_surplustransfer")
    can_approve = user.has_perm("funding.approve_surplustransfer")
    if not (can_propose or can_approve):
        raise Http404("No such page.")
    ranking = selectors.urgency_preview_for_user(user=user) if can_propose else None
    children = restrict_children(Child.objects.all(), request.user)
    transfers = SurplusTransfer.objects.select_related("source_child").prefetch_related("lines__recipient", "approvals")
    return render(
        request,
        "web/funding/surplus.html",
        {
            "ranking": ranking,
            "children": children,
            "transfers": transfers,
            "policy_text": selectors.surplus_policy_text(),
            "can_propose": can_propose,
            "approvable_transfers": {t.pk for t in selectors.transfers_to_approve_for_user(user=user)},
        },
    )


@login_required
@require_POST
def surplus_propose(request: HttpRequest) -> HttpResponse:
    url = reverse("funding-surplus")
    child = (
        restrict_children(Child.objects.all(), request.user).filter(pk=_int(request.POST.get("source_child"))).first()
    )
    if child is None:
        messages.error(request, "Choose the child whose fund has money left over.")
        return _back(request, url)
    return _act(
        request,
        url,
        lambda: surplus.surplus_transfer_propose(
            source_child=child, actor=request.user, reason=request.POST.get("reason", "")
        ),
        "Transfer proposed; two other people must approve it.",
    )


@login_required
@require_POST
def surplus_approve(request: HttpRequest, pk: int) -> HttpResponse:
    transfer = get_object_or_404(SurplusTransfer, pk=pk)
    url = reverse("funding-surplus")
    return _act(
        request,
        url,
        lambda: surplus.surplus_transfer_approve(transfer=transfer, actor=request.user),
        "Approval recorded.",
    )
