"""The public data of a petition (its page, its JSON and its widget), computed at most once per
`PETITION_PAGE_CACHE_SECONDS` per petition and server process: the count it shows is then at most that much older
than the batch counter's (docs/adr/0050-petition-counting.md). The public answers themselves (the page as a
visitor who is not signed in sees it, the JSON, the count and the widget) are kept as long, whole
(`response_cached`): under a signing burst a read then costs a cache lookup, not a query and a template. The
JSON follows UK Parliament e-petitions' shape where they overlap (`data.attributes.signature_count`,
`signatures_by_constituency`, `signatures_by_country`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import reverse

from carefund.petitions import conf, selectors
from carefund.petitions.models import AreaKind, Petition, PetitionState

KEY = "carefund:petition-public:{}"
RESPONSE_KEY = "carefund:petition-response:{}:{}"  # (what, slug)
RESPONSES = ("page", "json", "count", "widget")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def list_attributes(petition: Petition) -> dict[str, Any]:
    return {
        "action": petition.action,
        "background": petition.background,
        "state": petition.state,
        "target": petition.target,
        "target_name": petition.target_name,
        "signature_count": petition.signature_count,
        "created_at": _iso(petition.created_at),
        "opened_at": _iso(petition.opened_at),
        "closed_at": _iso(petition.closed_at),
        "closing_at": _iso(petition.closes_at),
        "response_threshold_reached_at": _iso(petition.response_threshold_reached_at),
        "debate_threshold_reached_at": _iso(petition.debate_threshold_reached_at),
        "updated_at": _iso(petition.count_updated_at),
    }


def _rows(rows: tuple[selectors.AreaRow, ...], *, code_key: str, with_mp: bool = False) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        item: dict[str, Any] = {"name": r.name, code_key: r.code or None}
        if with_mp:
            item["mp"] = r.mp or None
        item["signature_count"] = r.signature_count
        out.append(item)
    return out


def petition_public_data(petition: Petition) -> dict[str, Any]:
    """The petition's public JSON (and what its page shows): no signer's name, email or postcode."""
    counts = selectors.petition_counts(petition=petition)
    by = counts.by_kind
    path = reverse("petitions:json", kwargs={"slug": petition.slug})
    attributes = {
        **list_attributes(petition),
        "additional_details": petition.additional_details,
        "creator_name": petition.creator_name if petition.state == PetitionState.OPEN else None,
        "response_threshold": petition.response_threshold,
        "debate_threshold": petition.debate_threshold,
        "paper_signature_count": counts.paper_count,
        "next_threshold": counts.progress.next_threshold,
        "rejection": (
            {"code": petition.rejection_code, "details": petition.rejection_details}
            if petition.state == PetitionState.REJECTED
            else None
        ),
        "response": (
            {
                "responded_by": petition.responded_by,
                "summary": petition.response_summary,
                "details": petition.response_details,
                "responded_on": petition.responded_at.date().isoformat(),
            }
            if petition.responded_at
            else None
        ),
        "campaign": (
            _site(reverse("campaigns:page", kwargs={"slug": petition.campaign.slug})) if petition.campaign else None
        ),
        "signatures_by_country": _rows(by[AreaKind.COUNTRY], code_key="code"),
        "signatures_by_constituency": _rows(by[AreaKind.CONSTITUENCY], code_key="ons_code", with_mp=True),
        "signatures_by_icb": _rows(by[AreaKind.ICB], code_key="ons_code"),
        "signatures_by_region": _rows(by[AreaKind.REGION], code_key="ons_code"),
    }
    return {
        "links": {"self": _site(path)},
        "data": {
            "type": "petition",
            "id": petition.pk,
            "slug": petition.slug,
            "links": {"self": _site(path), "page": _site(reverse("petitions:page", kwargs={"slug": petition.slug}))},
            "attributes": attributes,
        },
    }


def petition_public_cached(petition: Petition) -> dict[str, Any]:
    seconds = conf.page_cache_seconds()
    if seconds <= 0:
        return petition_public_data(petition)
    key = KEY.format(petition.pk)
    data = cache.get(key)
    if data is None:
        data = petition_public_data(petition)
        cache.set(key, data, seconds)
    return data  # type: ignore[no-any-return]


def response_cached(what: str, slug: str, build: Callable[[], HttpResponse]) -> HttpResponse:
    """A public answer about one petition, built at most once per `PETITION_PAGE_CACHE_SECONDS` per server process
    (only a 200 is kept: a missing or removed petition is looked up each time). The caller adds its headers."""
    seconds = conf.page_cache_seconds()
    key = RESPONSE_KEY.format(what, slug)
    if seconds > 0:
        hit = cache.get(key)
        if hit is not None:
            content, content_type = hit
            return HttpResponse(content, content_type=content_type)
    response = build()
    if seconds > 0 and response.status_code == 200:
        cache.set(key, (response.content, response["Content-Type"]), seconds)
    return response


def forget(petition: Petition) -> None:
    """A moderator's change shows at once in the process that made it (in the others within the cache's time)."""
    from carefund.petitions.signing import forget_signable

    cache.delete(KEY.format(petition.pk))
    cache.delete_many([RESPONSE_KEY.format(what, petition.slug) for what in RESPONSES])
    forget_signable(petition.slug)
