"""Petition signers and creators in a subject-access export or an erasure, found by email (answers
`core.privacy.subject_export` and `subject_erase`), and the petitions about a child's campaign (`child_export`).
Their retention schedule is the petitions' own (petitions.retention, run daily by `carefund daily`).

A signer is found by the address they gave or by its canonical form (the mailbox it reaches: rules.canonical_email).
Erasure anonymises their signatures as the retention schedule does after a petition ends (name, email, postcode and
IP address go; the area codes stay, so counts by constituency and region still add up); a signature not yet confirmed
is also invalidated, so it can never be counted. A creator's name, email and address go from their petitions; the
petition's wording stays (it is public, and a moderator may hide it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from carefund.core import clock
from carefund.petitions import rules
from carefund.petitions.models import Petition, Signature, SignatureState


def _signatures(email: str) -> QuerySet[Signature]:
    return Signature.objects.filter(Q(email__iexact=email) | Q(canonical_email=rules.canonical_email(email)))


def _created(email: str) -> QuerySet[Petition]:
    return Petition.objects.filter(creator_email__iexact=email)


def signer_export(*, email: str, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = [
        {
            "record": "signature",
            "petition": s.petition_id,
            "petition_action": s.petition.action,
            "name": s.name,
            "email": s.email,
            "postcode": s.postcode,
            "ip_address": s.ip_address,
            "state": s.state,
            "signed_at": s.created_at.isoformat(),
            "confirmed_at": s.validated_at.isoformat() if s.validated_at else None,
            "notify_by_email": s.notify_by_email,
            "constituency_code": s.constituency_code,
        }
        for s in _signatures(email).select_related("petition").order_by("pk")
    ]
    records += [
        {
            "record": "petition_created",
            "petition": p.pk,
            "action": p.action,
            "creator_name": p.creator_name,
            "creator_email": p.creator_email,
            "creator_ip": p.creator_ip,
            "created_at": p.created_at.isoformat(),
            "state": p.state,
        }
        for p in _created(email).order_by("pk")
    ]
    return "petitions", records


def signer_erase(*, email: str, today: dt.date, **kwargs: Any) -> tuple[str, int, list[str]]:
    now = clock.now()
    signatures = _signatures(email).filter(anonymised_at__isnull=True)
    signatures.filter(state=SignatureState.PENDING).update(state=SignatureState.INVALIDATED)
    count = signatures.update(
        name="", email="", canonical_email="", email_domain="", postcode="", ip_address=None, anonymised_at=now
    )
    count += _created(email).update(creator_name="", creator_email="", creator_ip=None)
    return "petitions", count, []


def child_petitions_export(*, child_id: int, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    petitions = Petition.objects.filter(campaign__child_id=child_id).order_by("pk")
    return "petitions", [
        {"petition": p.pk, "action": p.action, "background": p.background, "state": p.state} for p in petitions
    ]


def child_petitions_erase(*, child_id: int, **kwargs: Any) -> tuple[str, int, list[str]]:
    ids = list(Petition.objects.filter(campaign__child_id=child_id).values_list("pk", flat=True))
    kept = [
        f"petition #{pk}: its wording is its creator's and public; a moderator may hide it if it names the child"
        for pk in ids
    ]
    return "petitions", 0, kept
