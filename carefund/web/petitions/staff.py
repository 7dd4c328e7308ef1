"""Moderators' and caseworkers' petition pages: the queue, one petition (approve, reject, flag, remove, response,
paper signatures, held signatures) and bulk invalidation with a dry run. Thin: each POST calls one service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from carefund.core.errors import DomainError, NotFoundError, PermissionDeniedError
from carefund.petitions import abuse, selectors, services
from carefund.petitions.models import Petition
from carefund.web.petitions.data import forget
from carefund.web.petitions.forms import InvalidationForm, PaperForm, RejectForm, ResponseForm


def _petition(request: HttpRequest, slug: str) -> Petition:
    try:
        return selectors.petition_get_for_staff(user=request.user, slug=slug)
    except PermissionDeniedError:
        raise PermissionDenied from None
    except NotFoundError:
        raise Http404("No such petition.") from None


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    try:
        petitions = selectors.petitions_for_staff(user=request.user)
    except PermissionDeniedError:
        raise PermissionDenied from None
    can_moderate = request.user.has_perm("petitions.moderate_petition")
    waiting = selectors.moderation_queue(user=request.user) if can_moderate else Petition.objects.none()
    return render(
        request,
        "web/petitions/staff_queue.html",
        {"waiting": waiting, "petitions": petitions[:100], "can_moderate": can_moderate},
    )


def _forms() -> dict[str, Any]:
    return {"reject_form": RejectForm(), "response_form": ResponseForm(), "paper_form": PaperForm()}


@login_required
def petition_detail(request: HttpRequest, slug: str) -> HttpResponse:
    petition = _petition(request, slug)
    can_moderate = request.user.has_perm("petitions.moderate_petition")
    if request.method == "GET" and can_moderate and petition.state in ("sponsored", "validated"):
        try:
            petition = services.petition_lock(actor=request.user, petition_id=petition.pk)
        except DomainError as exc:
            messages.warning(request, exc.message)
    return _render_detail(request, petition, _forms())


def _render_detail(request: HttpRequest, petition: Petition, forms: dict[str, Any], status: int = 200) -> HttpResponse:
    can_moderate = request.user.has_perm("petitions.moderate_petition")
    return render(
        request,
        "web/petitions/staff_petition.html",
        {
            "petition": petition,
            "counts": selectors.petition_counts(petition=petition),
            "held": selectors.held_signatures(user=request.user, petition=petition)[:200] if can_moderate else [],
            "paper": petition.paper_batches.all(),
            "can_moderate": can_moderate,
            "can_record_paper": request.user.has_perm("petitions.record_paper_signatures"),
            **forms,
        },
        status=status,
    )


@login_required
@require_POST
def petition_act(request: HttpRequest, slug: str, act: str) -> HttpResponse:
    """One moderation action on one petition; a bad form re-shows the page with what to fix."""
    petition = _petition(request, slug)
    user, pk = request.user, petition.pk
    form: Any = None
    try:
        if act == "approve":
            services.petition_approve(actor=user, petition_id=pk)
            messages.success(request, "The petition is open.")
        elif act == "flag":
            services.petition_flag(actor=user, petition_id=pk, note=request.POST.get("note", ""))
            messages.success(request, "Flagged for a second opinion.")
        elif act == "remove":
            services.petition_remove(actor=user, petition_id=pk, reason=request.POST.get("reason", ""))
            messages.success(request, "The petition was removed.")
        elif act == "release":
            n = abuse.signatures_release(actor=user, petition_id=pk)
            messages.success(request, f"{n} held signatures released: they count within a few seconds.")
        elif act == "reject":
            form = RejectForm(request.POST)
            if form.is_valid():
                d = form.cleaned_data
                services.petition_reject(
                    actor=user,
                    petition_id=pk,
                    code=d["code"],
                    details=d["details"],
                    hide=d["hide"],
                    duplicate_of_slug=d["duplicate_of"],
                )
                messages.success(request, "The petition was rejected.")
        elif act == "response":
            form = ResponseForm(request.POST)
            if form.is_valid():
                d = form.cleaned_data
                services.petition_response_record(
                    actor=user,
                    petition_id=pk,
                    responded_by=d["responded_by"],
                    summary=d["summary"],
                    details=d["details"],
                )
                messages.success(request, "Response recorded; signers who asked to hear are being emailed.")
        elif act == "paper":
            form = PaperForm(request.POST)
            if form.is_valid():
                d = form.cleaned_data
                services.paper_signatures_record(
                    actor=user,
                    petition_id=pk,
                    signature_count=d["signature_count"],
                    collected_on=d["collected_on"],
                    place=d["place"],
                    held_by=d["held_by"],
                )
                messages.success(request, "Paper signatures recorded.")
        else:
            raise Http404("No such action.")
    except PermissionDeniedError:
        raise PermissionDenied from None
    except DomainError as exc:
        if form is not None:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.error(request, exc.message)
            return redirect("petitions:staff_petition", slug=slug)
    if form is not None and form.errors:
        return _render_detail(request, petition, {**_forms(), f"{act}_form": form}, status=400)
    forget(petition)
    return redirect("petitions:staff_petition", slug=slug)


@login_required
def invalidate(request: HttpRequest) -> HttpResponse:
    """Bulk invalidation: "Count" is the dry run (writes nothing); "Invalidate" runs it, audited."""
    if not request.user.has_perm("petitions.invalidate_signatures"):
        raise PermissionDenied
    form = InvalidationForm(request.POST or None)
    result = None
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        petition = Petition.objects.filter(slug=d["petition"].strip()).first() if d["petition"].strip() else None
        if d["petition"].strip() and petition is None:
            form.add_error("petition", "There is no petition with that address name.")
        else:
            try:
                result = abuse.signatures_invalidate(
                    actor=request.user,
                    rule=abuse.InvalidationRule(
                        petition_id=petition.pk if petition else None,
                        ip_address=d["ip_address"] or "",
                        email_domain=d["email_domain"],
                        signed_from=d["signed_from"],
                        signed_until=d["signed_until"],
                    ),
                    reason=d["reason"],
                    dry_run="run" not in request.POST,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                if petition is not None:
                    forget(petition)
    if form.errors:
        status = 400
    return render(request, "web/petitions/staff_invalidate.html", {"form": form, "result": result}, status=status)
