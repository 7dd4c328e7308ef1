"""Gift Aid claim pages for finance officers and trustees: the claims and the deadlines to watch, a claim with what
it left out and why, its schedule to download, and filing, payment and rejection (each by a second person). Thin
views over `giftaid.claim_selectors`, `giftaid.claims` and `giftaid.schedule`."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from carefund.core import clock
from carefund.core.errors import DomainError, FourEyesError, NotFoundError, PermissionDeniedError, ValidationError
from carefund.core.money import format_pence, parse_pounds
from carefund.giftaid import claim_selectors, schedule
from carefund.giftaid import claims as claim_services
from carefund.giftaid.models import Claim

LEFT_OUT_SHOWN = 500


def _claim(request: HttpRequest, pk: int) -> Claim:
    try:
        return claim_selectors.claim_get_for_user(user=request.user, claim_id=pk)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except NotFoundError:
        raise Http404("No such claim.") from None


def _date(text: str, label: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{label}: '{text}' is not a date; use the form 2027-04-05.", field=label) from None


@login_required
def claims(request: HttpRequest) -> HttpResponse:
    """GET: the claims, newest first, the gifts whose claim deadline is near, and the form to make a claim; POST:
    make it."""
    try:
        rows = list(claim_selectors.claims_for_user(user=request.user)[:100])
        warnings = claim_selectors.deadlines_near_for_user(user=request.user)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    error = ""
    period_end = request.POST.get("period_end", "") if request.method == "POST" else clock.today().isoformat()
    if request.method == "POST":
        try:
            claim = claim_services.claim_create(period_end=_date(period_end, "Period end"), actor=request.user)
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, f"Claim {claim.pk} made: {claim.gifts_count} gifts. Check it, then download it.")
            return redirect("giftaid:claim", pk=claim.pk)
    return render(
        request,
        "web/giftaid/claims.html",
        {
            "claims": [{"claim": c, "expected": format_pence(c.expected_pence)} for c in rows],
            "warnings": [{"w": w, "gift_aid": format_pence(w.gift_aid_pence)} for w in warnings],
            "period_end": period_end,
            "error": error,
            "can_create": request.user.has_perm("giftaid.add_claim"),
        },
        status=400 if error else 200,
    )


def _money(claim: Claim) -> dict[str, str]:
    return {
        "amount": format_pence(claim.amount_pence),
        "gift_aid": format_pence(claim.gift_aid_pence),
        "overclaimed": format_pence(claim.overclaimed_pence),
        "gasds_donations": format_pence(claim.gasds_donations_pence),
        "gasds": format_pence(claim.gasds_pence),
        "expected": format_pence(claim.expected_pence),
        "paid": format_pence(claim.paid_pence) if claim.paid_pence is not None else "",
    }


@login_required
def claim_detail(request: HttpRequest, pk: int, *, error: str = "", form: dict[str, str] | None = None) -> HttpResponse:
    claim = _claim(request, pk)
    user: Any = request.user
    second_person = claim.created_by_id != user.pk
    return render(
        request,
        "web/giftaid/claim.html",
        {
            "claim": claim,
            "money": _money(claim),
            "left_out": claim_selectors.left_out_of(claim, limit=LEFT_OUT_SHOWN),
            "left_out_count": claim_selectors.left_out_count(claim),
            "files": max(1, -(-claim.lines_count // 1_000)),
            "can_submit": claim.state == "draft" and second_person and user.has_perm("giftaid.submit_claim"),
            "can_pay": claim.state == "submitted" and second_person and user.has_perm("giftaid.record_claim_outcome"),
            "can_reject": user.has_perm("giftaid.record_claim_outcome")
            and (claim.state == "draft" or (claim.state == "submitted" and second_person)),
            "made_it": not second_person,
            "error": error,
            "form": form or {"paid_on": clock.today().isoformat()},
        },
        status=400 if error else 200,
    )


@login_required
def claim_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponseBase:
    """The claim's schedule: one .ods, a .zip of the numbered .ods files when it has more than 1,000 rows, or the
    rows as CSV."""
    claim = _claim(request, pk)
    if fmt not in ("ods", "csv"):
        raise Http404("Choose ods or csv.")
    writer = schedule.export_ods if fmt == "ods" else schedule.export_csv
    with tempfile.TemporaryDirectory() as folder:
        try:
            paths = writer(claim=claim, out_dir=Path(folder), today=clock.today(), actor=request.user)
        except DomainError as exc:
            messages.error(request, f"The schedule was not written: {exc.message}")
            return redirect("giftaid:claim", pk=claim.pk)
        if len(paths) == 1:
            data, name = paths[0].read_bytes(), paths[0].name
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in paths:
                    archive.write(path, arcname=path.name)
            data, name = buffer.getvalue(), f"giftaid-claim-{claim.pk}.zip"
    return FileResponse(io.BytesIO(data), as_attachment=True, filename=name)


def _act(request: HttpRequest, pk: int, action: Any, done: str) -> HttpResponse:
    try:
        action()
    except FourEyesError as exc:  # a finance officer who may act, but not on their own claim: say so on the page
        return claim_detail(request, pk, error=exc.message)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except NotFoundError:
        raise Http404("No such claim.") from None
    except DomainError as exc:
        return claim_detail(request, pk, error=exc.message, form={k: str(v) for k, v in request.POST.items()})
    messages.success(request, done)
    return redirect("giftaid:claim", pk=pk)


@login_required
@require_POST
def claim_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda: claim_services.claim_submit(
            claim_id=pk, hmrc_reference=request.POST.get("hmrc_reference", ""), actor=request.user
        ),
        "Filing confirmed: the Gift Aid is now in each child's fund, waiting for HMRC to pay.",
    )


@login_required
@require_POST
def claim_paid(request: HttpRequest, pk: int) -> HttpResponse:
    def record() -> None:
        claim_services.claim_record_paid(
            claim_id=pk,
            paid_pence=parse_pounds(request.POST.get("paid", ""), field="Amount paid"),
            paid_on=_date(request.POST.get("paid_on", ""), "Date paid"),
            difference_reason=request.POST.get("difference_reason", ""),
            actor=request.user,
        )

    return _act(request, pk, record, "Payment recorded: the Gift Aid has reached the bank.")


@login_required
@require_POST
def claim_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda: claim_services.claim_reject(claim_id=pk, reason=request.POST.get("reason", ""), actor=request.user),
        "Rejection recorded: the claim's gifts can go into a new claim.",
    )
