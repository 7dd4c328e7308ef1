"""Public petition pages, signing and confirming, the creator's page, the widget and the JSON.
Thin: parse, call one service or selector, render. A signer who signed already, or is over a rate limit, sees the
same pages as anyone else."""

from __future__ import annotations

import csv
from typing import Any
from urllib.parse import urlencode

from csp.decorators import csp_replace
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from carefund.core.errors import DomainError, NotFoundError
from carefund.petitions import selectors
from carefund.petitions.errors import PetitionRemovedError
from carefund.petitions.models import AreaKind, Petition, PetitionState
from carefund.petitions.services import PetitionInput, petition_create
from carefund.petitions.signing import SignatureInput, signature_confirm, signature_sign
from carefund.web.petitions.data import list_attributes, petition_public_cached, response_cached
from carefund.web.petitions.forms import PetitionForm, SignatureForm

PAGE_SIZE = 20


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from (REMOTE_ADDR: a proxy in front must set it; X-Forwarded-For is not
    trusted on its word)."""
    return request.META.get("REMOTE_ADDR") or None


def _public(slug: str) -> Petition:
    try:
        return selectors.petition_get_public(slug=slug)
    except PetitionRemovedError:
        raise Gone() from None
    except NotFoundError:
        raise Http404("No such petition.") from None


class Gone(Exception):
    """Answered 410 by the views that can meet a removed petition."""


def _gone(request: HttpRequest) -> HttpResponse:
    return render(request, "web/petitions/gone.html", status=410)


def petition_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "open")
    state = state if state in selectors.LIST_STATES else "open"
    query = request.GET.get("q", "").strip()[:100]
    page = Paginator(selectors.petitions_list_public(state=state, query=query), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "web/petitions/list.html",
        {"page": page, "state": state, "query": query, "states": ["open", "closed", "rejected", "all"]},
    )


def _signature_input(data: dict[str, Any]) -> SignatureInput:
    return SignatureInput(
        name=data["name"],
        email=data["email"],
        email_confirmation=data["email_confirmation"],
        postcode=data.get("postcode") or "",
        location_code=data["location"],
        uk_citizen_or_resident=bool(data["uk_citizen_or_resident"]),
        notify_by_email=bool(data["notify_by_email"]),
    )


def _public_for_seconds(response: HttpResponse) -> HttpResponse:
    """A public answer the same for everyone not signed in may be kept by a cache in front of the site (a CDN) for
    as long as this process keeps it, `PETITION_PAGE_CACHE_SECONDS` (5): the count it shows is then still at most
    about 10 s old. Django's session middleware adds `Vary: Cookie`, so a signed-in person's page (no-store) is
    never served from such a cache."""
    if response.status_code == 200:
        response["Cache-Control"] = "public, max-age=5"
    return response


def petition_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The petition's page: the same for every visitor who is not signed in, so kept whole for a few seconds."""
    if request.user.is_authenticated:  # the menus name the person
        return _petition_page(request, slug)
    return _public_for_seconds(response_cached("page", slug, lambda: _petition_page(request, slug)))


def _petition_page(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        petition = _public(slug)
    except Gone:
        return _gone(request)
    data = petition_public_cached(petition)
    attributes = data["data"]["attributes"]
    page_url = request.build_absolute_uri(reverse("petitions:page", kwargs={"slug": petition.slug}))
    regions = attributes["signatures_by_region"]
    top_region = max((r["signature_count"] for r in regions), default=0)
    return render(
        request,
        "web/petitions/page.html",
        {
            "petition": petition,
            "a": attributes,
            "count": petition.signature_count,
            "top_constituencies": attributes["signatures_by_constituency"][:10],
            "icbs": attributes["signatures_by_icb"][:10],
            "regions": regions,
            "top_region": top_region,
            "share_url": page_url,
            "widget_url": request.build_absolute_uri(reverse("petitions:widget", kwargs={"slug": petition.slug})),
            "count_url": reverse("petitions:count", kwargs={"slug": petition.slug}),
            "is_open": petition.state == PetitionState.OPEN,
        },
    )


def petition_count(request: HttpRequest, slug: str) -> HttpResponse:
    """The small count the page polls every 10 s (kept a few seconds, and cacheable by a CDN for 5 s)."""

    def build() -> HttpResponse:
        found = (
            Petition.objects.filter(slug=slug, state__in=[PetitionState.OPEN, PetitionState.CLOSED])
            .values_list("signature_count", "count_updated_at")
            .first()
        )
        if found is None:
            return JsonResponse({"error": "No such petition."}, status=404)
        count, updated_at = found
        return JsonResponse({"signature_count": count, "updated_at": updated_at.isoformat() if updated_at else None})

    return _public_for_seconds(response_cached("count", slug, build))


def _sign(request: HttpRequest, petition: Petition, *, sponsor: bool) -> HttpResponse:
    form = SignatureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            signature_sign(
                petition=petition, data=_signature_input(form.cleaned_data), ip=client_ip(request), is_sponsor=sponsor
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields or exc.field == "location" else None, exc.message)
        else:
            return redirect("petitions:check_email", slug=petition.slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "web/petitions/sign.html", {"petition": petition, "form": form, "sponsor": sponsor}, status=status
    )


def petition_sign(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        petition = _public(slug)
    except Gone:
        return _gone(request)
    if petition.state != PetitionState.OPEN:
        return render(request, "web/petitions/not_open.html", {"petition": petition}, status=409)
    return _sign(request, petition, sponsor=False)


def petition_sponsor(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    petition = Petition.objects.filter(slug=slug, sponsor_token=token).first()
    if petition is None:
        raise Http404("No such petition.")
    if petition.state not in (PetitionState.PENDING, PetitionState.VALIDATED, PetitionState.SPONSORED):
        return redirect("petitions:page", slug=slug)
    return _sign(request, petition, sponsor=True)


def check_email(request: HttpRequest, slug: str) -> HttpResponse:
    petition = Petition.objects.filter(slug=slug).first()
    if petition is None:
        raise Http404("No such petition.")
    return render(request, "web/petitions/check_email.html", {"petition": petition})


@csrf_exempt  # the token in the address is the signer's secret; a forged request cannot know it
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button and changes nothing (so a mail scanner that opens the link cannot use it up); POST
    confirms, as often as it is sent."""
    if request.method != "POST":
        return render(request, "web/petitions/confirm.html", {"token": token})
    try:
        confirmation = signature_confirm(token=token)
    except NotFoundError as exc:
        return render(request, "web/petitions/confirm.html", {"token": token, "error": exc.message}, status=404)
    except DomainError as exc:
        return render(request, "web/petitions/confirm.html", {"token": token, "error": exc.message}, status=409)
    return redirect("petitions:signed", slug=confirmation.petition_slug)


def signed(request: HttpRequest, slug: str) -> HttpResponse:
    petition = Petition.objects.filter(slug=slug).first()
    if petition is None:
        raise Http404("No such petition.")
    share_url = request.build_absolute_uri(reverse("petitions:page", kwargs={"slug": slug}))
    return render(request, "web/petitions/signed.html", {"petition": petition, "share_url": share_url})


def petition_new(request: HttpRequest) -> HttpResponse:
    form = PetitionForm(request.POST or None, initial={"location": "GB"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            petition = petition_create(
                data=PetitionInput(
                    action=data["action"],
                    background=data["background"],
                    additional_details=data["additional_details"],
                    target=data["target"],
                    target_name=data["target_name"],
                    creator=_signature_input(data),
                ),
                actor=request.user,
                ip=client_ip(request),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("petitions:check_email", slug=petition.slug)
    status = 400 if request.method == "POST" else 200
    return render(request, "web/petitions/new.html", {"form": form}, status=status)


def _creator_petition(slug: str, token: str) -> Petition:
    try:
        return selectors.petition_get_for_creator(slug=slug, token=token)
    except NotFoundError:
        raise Http404("No such petition.") from None


def creator_page(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    petition = _creator_petition(slug, token)
    counts = selectors.petition_counts(petition=petition)
    sponsor_url = request.build_absolute_uri(
        reverse("petitions:sponsor", kwargs={"slug": slug, "token": petition.sponsor_token})
    )
    return render(
        request,
        "web/petitions/creator.html",
        {"petition": petition, "counts": counts, "sponsor_url": sponsor_url, "token": token},
    )


def creator_csv(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """Counts by area for the creator to hand in (no signer's personal data)."""
    petition = _creator_petition(slug, token)
    counts = selectors.petition_counts(petition=petition)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{petition.slug}-signatures-by-area.csv"'
    writer = csv.writer(response)
    writer.writerow(["area type", "ons code", "name", "confirmed online signatures"])
    for kind in (AreaKind.CONSTITUENCY, AreaKind.ICB, AreaKind.REGION, AreaKind.COUNTRY):
        for row in counts.by_kind[kind]:
            writer.writerow([kind.label, row.code or "unknown", _cell(row.name), row.signature_count])
    writer.writerow(["paper", "", "signatures on paper (not by area)", counts.paper_count])
    return response


def _cell(text: str) -> str:
    """No cell a spreadsheet would run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@xframe_options_exempt
@csp_replace({"frame-ancestors": ["'self'", "https:"]})  # type: ignore[arg-type]  # (its stub: views of 1 arg)
def widget(request: HttpRequest, slug: str) -> HttpResponse:
    """A small page a newspaper can embed in an iframe on its own (HTTPS) site: the count and a link to sign (kept a
    few seconds). It holds nothing personal, so any HTTPS page may frame it; every other page refuses framing."""

    def build() -> HttpResponse:
        try:
            petition = _public(slug)
        except Gone:
            return _gone(request)
        return render(request, "web/petitions/widget.html", {"petition": petition})

    if request.user.is_authenticated:
        return build()
    return _public_for_seconds(response_cached("widget", slug, build))


def _json(payload: dict[str, Any], status: int = 200) -> HttpResponse:
    return _json_headers(JsonResponse(payload, status=status))


def _json_headers(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    return _public_for_seconds(response)


def petitions_json(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "all")
    if state not in selectors.LIST_STATES:
        return _json({"error": f"state must be one of {', '.join(selectors.LIST_STATES)}"}, status=400)
    query = request.GET.get("q", "").strip()[:100]
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        return _json({"error": "page must be a whole number"}, status=400)
    paginator = Paginator(selectors.petitions_list_public(state=state, query=query), 50)
    page = paginator.get_page(number)
    base = request.build_absolute_uri(reverse("petitions:list_json"))

    def link(n: int | None) -> str | None:
        params = {"state": state, "page": n, **({"q": query} if query else {})}
        return None if n is None else f"{base}?{urlencode(params)}"

    return _json(
        {
            "links": {
                "self": link(page.number),
                "first": link(1),
                "last": link(paginator.num_pages),
                "next": link(page.next_page_number() if page.has_next() else None),
                "prev": link(page.previous_page_number() if page.has_previous() else None),
            },
            "data": [
                {
                    "type": "petition",
                    "id": p.pk,
                    "slug": p.slug,
                    "links": {"self": request.build_absolute_uri(reverse("petitions:json", kwargs={"slug": p.slug}))},
                    "attributes": list_attributes(p),
                }
                for p in page.object_list
            ],
        }
    )


def petition_json(request: HttpRequest, slug: str) -> HttpResponse:
    """The petition's public JSON, kept whole for a few seconds."""

    def build() -> HttpResponse:
        try:
            petition = selectors.petition_get_public(slug=slug)
        except PetitionRemovedError:
            return JsonResponse({"error": "This petition was removed."}, status=410)
        except NotFoundError:
            return JsonResponse({"error": "No such petition."}, status=404)
        return JsonResponse(petition_public_cached(petition))

    return _json_headers(response_cached("json", slug, build))
