"""Abuse controls moderators use: bulk invalidation by rule (with a dry run) and releasing held signatures.
The rate limits that hold signatures are applied when signing (`signing`, `rules.is_suspect`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from carefund.core import clock
from carefund.core.errors import ValidationError as DomainValidationError
from carefund.core.services import audit_record
from carefund.petitions.access import require_perm
from carefund.petitions.counting import petition_count_refresh_soon, uncount
from carefund.petitions.models import Invalidation, Petition, Signature, SignatureState
from carefund.petitions.rules import canonical_email
from carefund.petitions.services import petition_check_sponsors


@dataclass(frozen=True)
class InvalidationRule:
    petition_id: int | None = None
    ip_address: str = ""
    email_domain: str = ""
    signed_from: dt.datetime | None = None
    signed_until: dt.datetime | None = None


@dataclass(frozen=True)
class InvalidationResult:
    matched: int  # signatures the rule matches (pending, confirmed and held)
    uncounted: int  # of them, confirmed ones taken out of the public count
    petitions: int
    invalidation_id: int | None  # None for a dry run


def _matching(rule: InvalidationRule) -> QuerySet[Signature]:
    if not (rule.ip_address or rule.email_domain):
        raise DomainValidationError("Give an IP address or an email domain: a rule must name who to invalidate.")
    if rule.signed_from and rule.signed_until and rule.signed_until <= rule.signed_from:
        raise DomainValidationError("The end of the time window must be after its start.", field="signed_until")
    q = Q(state__in=[SignatureState.PENDING, SignatureState.VALIDATED, SignatureState.HELD], is_creator=False)
    if rule.petition_id:
        q &= Q(petition_id=rule.petition_id)
    if rule.ip_address:
        q &= Q(ip_address=rule.ip_address)
    if rule.email_domain:
        q &= Q(email_domain=canonical_email(f"x@{rule.email_domain.strip().lstrip('@')}").rpartition("@")[2])
    if rule.signed_from:
        q &= Q(created_at__gte=rule.signed_from)
    if rule.signed_until:
        q &= Q(created_at__lt=rule.signed_until)
    return Signature.objects.filter(q)


@transaction.atomic
def signatures_invalidate(*, actor: Any, rule: InvalidationRule, reason: str, dry_run: bool) -> InvalidationResult:
    """Invalidate every signature a rule matches (pending ones too, so none can be stored up). A dry run only
    counts them. The counts by area and the petition's count (and its thresholds) follow at once."""
    require_perm(actor, "petitions.invalidate_signatures")
    matching = _matching(rule)
    if dry_run:
        return InvalidationResult(
            matched=matching.count(),
            uncounted=matching.filter(counted=True).count(),
            petitions=matching.values("petition_id").distinct().count(),
            invalidation_id=None,
        )
    if not reason.strip():
        raise DomainValidationError("Say why these signatures are invalidated.", field="reason")
    petition_ids = sorted(set(matching.values_list("petition_id", flat=True)))
    now = clock.now()
    invalidation = Invalidation.objects.create(
        petition_id=rule.petition_id,
        ip_address=rule.ip_address or None,
        email_domain=rule.email_domain.strip().lstrip("@").lower(),
        signed_from=rule.signed_from,
        signed_until=rule.signed_until,
        reason=reason.strip()[:300],
        matched=0,
        created_by=actor,
        created_at=now,
    )
    matched = uncounted = 0
    for petition_id in petition_ids:
        petition = Petition.objects.select_for_update().get(pk=petition_id)  # the counter's lock: one at a time
        ids = list(matching.filter(petition_id=petition_id).values_list("id", flat=True))
        uncounted += uncount(petition=petition, signature_ids=ids)
        matched += Signature.objects.filter(id__in=ids).update(
            state=SignatureState.INVALIDATED, invalidation=invalidation
        )
    invalidation.matched = matched
    invalidation.save(update_fields=["matched"])
    audit_record(
        actor=actor,
        action="signatures.invalidated",
        target=invalidation,
        summary=f"{matched} signatures on {len(petition_ids)} petitions: {invalidation.reason}",
        details={"matched": matched, "uncounted": uncounted, "petitions": petition_ids},
    )
    return InvalidationResult(matched, uncounted, len(petition_ids), invalidation.pk)


@transaction.atomic
def signatures_release(*, actor: Any, petition_id: int, signature_ids: list[int] | None = None) -> int:
    """Release held signatures (all of a petition's, or the ones listed) so they count; returns how many."""
    require_perm(actor, "petitions.moderate_petition")
    held = Signature.objects.filter(petition_id=petition_id, state=SignatureState.HELD)
    if signature_ids is not None:
        held = held.filter(id__in=signature_ids)
    released = held.update(state=SignatureState.VALIDATED, suspect=False)
    if released:
        petition = Petition.objects.get(pk=petition_id)
        audit_record(
            actor=actor, action="signatures.released", target=petition, summary=f"{released} held signatures released"
        )
        petition_count_refresh_soon(petition_id=petition_id)
        petition_check_sponsors(petition_id=petition_id)  # a creator's or sponsors' signatures may be among them
    return released
