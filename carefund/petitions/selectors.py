"""Reads of petitions: public ones for anyone (never a signer's personal data), staff ones permission-checked."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet, Sum

from carefund.core.errors import NotFoundError
from carefund.petitions import rules
from carefund.petitions.access import require_perm
from carefund.petitions.errors import PetitionRemovedError
from carefund.petitions.models import (
    PUBLIC_STATES,
    Area,
    AreaCount,
    AreaKind,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
)

UNKNOWN = "Unknown"
COUNTRY_NAMES = {"GB": "United Kingdom"}

LIST_STATES = {
    "open": (PetitionState.OPEN,),
    "closed": (PetitionState.CLOSED,),
    "rejected": (PetitionState.REJECTED,),
    "all": PUBLIC_STATES,
}


def petition_get_public(*, slug: str) -> Petition:
    """An open, closed or rejected petition; removed ones raise PetitionRemovedError (410), the rest NotFound."""
    petition = Petition.objects.select_related("campaign").filter(slug=slug).first()
    if petition is None or petition.state not in (*PUBLIC_STATES, PetitionState.REMOVED):
        raise NotFoundError("There is no petition at this address.")
    if petition.state == PetitionState.REMOVED:
        raise PetitionRemovedError("This petition was removed.")
    return petition


def petitions_list_public(*, state: str = "open", query: str = "") -> QuerySet[Petition]:
    states = LIST_STATES.get(state, LIST_STATES["open"])
    petitions = Petition.objects.filter(state__in=states)
    for word in query.split()[:5]:
        petitions = petitions.filter(Q(action__icontains=word) | Q(background__icontains=word))
    return petitions.order_by("-signature_count", "-opened_at", "-id")


def petition_for_campaign(*, campaign_id: int) -> Petition | None:
    """The campaign's open (or else latest public) petition, for a link from the campaign page."""
    return (
        Petition.objects.filter(campaign_id=campaign_id, state__in=PUBLIC_STATES)
        .order_by("-state", "-opened_at")  # "open" sorts after "closed" and "rejected"
        .first()
    )


@dataclass(frozen=True)
class AreaRow:
    name: str
    code: str  # "" for unknown
    signature_count: int
    mp: str = ""


@dataclass(frozen=True)
class PetitionCounts:
    signature_count: int
    paper_count: int
    progress: rules.Progress
    by_kind: dict[str, tuple[AreaRow, ...]]  # AreaKind value -> rows, most signatures first


def petition_counts(*, petition: Petition) -> PetitionCounts:
    """The public counts: online (batched), paper (apart) and by area with names, most first."""
    counts = list(
        AreaCount.objects.filter(petition=petition, signature_count__gt=0).values_list(
            "kind", "code", "signature_count"
        )
    )
    names = {
        (kind, code): (name, mp)
        for kind, code, name, mp in Area.objects.filter(code__in={c for _, c, _ in counts if c}).values_list(
            "kind", "code", "name", "mp"
        )
    }
    by_kind: dict[str, list[AreaRow]] = {kind.value: [] for kind in AreaKind}
    for kind, code, n in counts:
        if kind == AreaKind.COUNTRY:
            name, mp = COUNTRY_NAMES.get(code, code), ""
        else:
            name, mp = names.get((kind, code), (code or UNKNOWN, ""))
        by_kind[kind].append(AreaRow(name=name if code else UNKNOWN, code=code, signature_count=n, mp=mp))
    paper = paper_count(petition=petition)
    return PetitionCounts(
        signature_count=petition.signature_count,
        paper_count=paper,
        progress=rules.progress(
            count=petition.signature_count, response=petition.response_threshold, debate=petition.debate_threshold
        ),
        by_kind={
            kind: tuple(sorted(rows, key=lambda r: (-r.signature_count, r.code == "", r.name)))
            for kind, rows in by_kind.items()
        },
    )


def paper_count(*, petition: Petition) -> int:
    """Signatures collected on paper (shown apart from the online count)."""
    return int(petition.paper_batches.aggregate(n=Sum("signature_count"))["n"] or 0)


def moderation_queue(*, user: Any) -> QuerySet[Petition]:
    """Petitions waiting for a moderator, flagged ones first, oldest first."""
    require_perm(user, "petitions.moderate_petition", "You may not see this page.")
    return Petition.objects.filter(state=PetitionState.SPONSORED).order_by("-flagged", "created_at")


def petitions_for_staff(*, user: Any) -> QuerySet[Petition]:
    require_perm(user, "petitions.view_petition", "You may not see this page.")
    return Petition.objects.select_related("locked_by").order_by("-created_at")


def petition_get_for_staff(*, user: Any, slug: str) -> Petition:
    require_perm(user, "petitions.view_petition", "You may not see this page.")
    petition = Petition.objects.select_related("locked_by", "campaign").filter(slug=slug).first()
    if petition is None:
        raise NotFoundError("There is no petition at this address.")
    return petition


def held_signatures(*, user: Any, petition: Petition) -> QuerySet[Signature]:
    """Signatures held by the rate limits, for a moderator to release or invalidate."""
    require_perm(user, "petitions.moderate_petition", "You may not see this page.")
    return Signature.objects.filter(petition=petition, state=SignatureState.HELD).order_by("created_at")


def petition_get_for_creator(*, slug: str, token: str) -> Petition:
    """The creator's private view (by the link emailed to them)."""
    petition = Petition.objects.filter(slug=slug).first()
    if petition is None or not token or not secrets.compare_digest(petition.creator_token, token):
        raise NotFoundError("There is no petition at this address.")
    return petition
