"""Petition writers: creating, sponsoring, moderating (with edit locks), closing, responses and paper signatures.
Each is keyword-only, atomic and audited; signing and counting live in `signing` and `counting`."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from carefund.core import clock
from carefund.core.errors import ConflictError, StateTransitionError
from carefund.core.errors import ValidationError as DomainValidationError
from carefund.core.permissions import roles_of
from carefund.core.roles import Role
from carefund.core.services import audit_record
from carefund.petitions import conf, rules
from carefund.petitions.access import require_perm
from carefund.petitions.models import (
    HIDDEN_REJECTION_CODES,
    PaperSignatureBatch,
    Petition,
    PetitionState,
    PetitionTarget,
    RejectionCode,
    Signature,
    SignatureState,
)
from carefund.petitions.signing import SignatureInput, signature_clean, signature_sign

# Staff who start a petition for a campaign they run need no sponsors (the charity vouches for it).
_NO_SPONSOR_ROLES = {Role.CASEWORKER, Role.TRUSTEE, Role.MODERATOR}


@dataclass(frozen=True)
class PetitionInput:
    action: str
    background: str
    additional_details: str
    target: str
    target_name: str
    creator: SignatureInput


def _unique_slug(action: str) -> str:
    base = slugify(action)[:70].strip("-") or "petition"
    if not Petition.objects.filter(slug=base).exists():
        return base
    return f"{base}-{secrets.token_hex(3)}"


@transaction.atomic
def petition_create(
    *, data: PetitionInput, actor: Any, ip: str | None, campaign: Any = None, now: dt.datetime | None = None
) -> Petition:
    """Start a petition (pending until the creator confirms their email) with the creator's own signature, and
    email the creator the confirmation link. A creator over the rate limit (2 per IP, and 2 per email domain not
    on the allowed list, per 5 minutes) is refused."""
    try:
        text = rules.clean_petition_text(
            action=data.action, background=data.background, additional_details=data.additional_details
        )
    except rules.FieldError as exc:
        raise DomainValidationError(exc.message, field=exc.field) from None
    if data.target not in PetitionTarget.values:
        raise DomainValidationError("Choose who the petition asks.", field="target")
    if data.target in (PetitionTarget.ICB, PetitionTarget.TRUST) and not data.target_name.strip():
        raise DomainValidationError("Name the ICB or trust the petition asks.", field="target_name")
    creator = signature_clean(data.creator)
    now = now or clock.now()
    limits = conf.rate_limits()
    recent = Petition.objects.filter(created_at__gt=now - dt.timedelta(seconds=limits.creator_seconds))
    if ip and rules.creator_over_limit(created_recently=recent.filter(creator_ip=ip).count(), limits=limits):
        raise ConflictError("Too many petitions have been started from your connection just now: wait 5 minutes.")
    # The same rate per email domain, except the big webmail providers (GDS after 2016: limit unknown domains).
    if creator.email_domain not in conf.allowed_domains() and rules.creator_over_limit(
        created_recently=recent.filter(creator_email__iendswith=f"@{creator.email_domain}").count(), limits=limits
    ):
        raise ConflictError(
            f"Too many petitions have been started from email addresses at {creator.email_domain} just now: "
            "wait 5 minutes."
        )
    staff = bool(roles_of(actor) & _NO_SPONSOR_ROLES) and campaign is not None
    response, debate = conf.thresholds_for(data.target)
    petition = Petition.objects.create(
        slug=_unique_slug(text.action),
        action=text.action,
        background=text.background,
        additional_details=text.additional_details,
        target=data.target,
        target_name=data.target_name.strip()[:120],
        campaign=campaign,
        created_at=now,
        creator=actor if getattr(actor, "is_authenticated", False) else None,
        creator_name=creator.name,
        creator_email=creator.email,
        creator_ip=ip or None,
        creator_token=secrets.token_urlsafe(32),
        sponsor_token=secrets.token_urlsafe(16),
        sponsors_required=0 if staff else conf.sponsors_required(),
        duration_days=conf.duration_days(),
        response_threshold=response,
        debate_threshold=debate,
    )
    signature_sign(petition=petition, data=data.creator, ip=ip, is_creator=True)
    audit_record(actor=actor, action="petition.created", target=petition, summary=petition.action)
    return petition


def petition_check_sponsors(*, petition_id: int) -> None:
    """After a creator or sponsor confirms, or a moderator releases held signatures: the creator's confirmation
    validates the petition, and enough confirmed sponsors send it to moderation. A signature held for review (a
    burst that tripped the rate limits) counts here only once a moderator releases it, as it does in the count.
    Called inside the confirming (or releasing) transaction."""
    petition = Petition.objects.select_for_update().get(pk=petition_id)
    if petition.state not in (PetitionState.PENDING, PetitionState.VALIDATED):
        return
    confirmed = Signature.objects.filter(petition=petition, state=SignatureState.VALIDATED).exclude(validated_at=None)
    if not confirmed.filter(is_creator=True).exists():
        return
    sponsors = confirmed.filter(is_sponsor=True).count()
    state = PetitionState.SPONSORED if sponsors >= petition.sponsors_required else PetitionState.VALIDATED
    if state != petition.state:
        petition.state = state
        petition.save(update_fields=["state"])
        audit_record(
            actor=None,
            action=f"petition.{state}",
            target=petition,
            summary=f"{sponsors} of {petition.sponsors_required} sponsors confirmed",
        )


def _locked_for(petition_id: int, actor: Any) -> Petition:
    petition = Petition.objects.select_for_update().get(pk=petition_id)
    if rules.is_locked_by_other(
        locked_by_id=petition.locked_by_id,
        locked_at=petition.locked_at,
        user_id=actor.pk,
        now=clock.now(),
        lock_seconds=conf.lock_seconds(),
    ):
        raise ConflictError(
            f"{petition.locked_by} is moderating this petition: wait for them to finish, or for the lock to lapse."
        )
    return petition


@transaction.atomic
def petition_lock(*, actor: Any, petition_id: int) -> Petition:
    """Take (or renew) the edit lock, so two moderators do not act on one petition at once."""
    require_perm(actor, "petitions.moderate_petition")
    petition = _locked_for(petition_id, actor)
    petition.locked_by, petition.locked_at = actor, clock.now()
    petition.save(update_fields=["locked_by", "locked_at"])
    return petition


def _moderated(petition: Petition, actor: Any, fields: list[str]) -> None:
    petition.moderated_by, petition.moderated_at = actor, clock.now()
    petition.locked_by, petition.locked_at = None, None
    petition.save(update_fields=[*fields, "moderated_by", "moderated_at", "locked_by", "locked_at"])


@transaction.atomic
def petition_approve(*, actor: Any, petition_id: int) -> Petition:
    require_perm(actor, "petitions.moderate_petition")
    petition = _locked_for(petition_id, actor)
    if petition.state != PetitionState.SPONSORED:
        raise StateTransitionError("Only a petition waiting for moderation (its sponsors confirmed) can be opened.")
    now = clock.now()
    petition.state, petition.opened_at = PetitionState.OPEN, now
    petition.closes_at = rules.closes_at(opened_at=now, duration_days=petition.duration_days)
    petition.flagged = False
    _moderated(petition, actor, ["state", "opened_at", "closes_at", "flagged"])
    audit_record(actor=actor, action="petition.opened", target=petition, summary=petition.action)
    return petition


@transaction.atomic
def petition_reject(
    *, actor: Any, petition_id: int, code: str, details: str = "", hide: bool = False, duplicate_of_slug: str = ""
) -> Petition:
    """Reject with a coded reason, published unless the code (libellous, offensive, personal) or the moderator
    hides it; a duplicate names the petition it repeats."""
    require_perm(actor, "petitions.moderate_petition")
    if code not in RejectionCode.values:
        raise DomainValidationError("Choose a reason for rejecting.", field="code")
    petition = _locked_for(petition_id, actor)
    if petition.state not in (PetitionState.VALIDATED, PetitionState.SPONSORED, PetitionState.PENDING):
        raise StateTransitionError("Only a petition not yet opened can be rejected; close or remove an open one.")
    if code == RejectionCode.DUPLICATE:
        original = Petition.objects.filter(slug=duplicate_of_slug.strip()).exclude(pk=petition.pk).first()
        if original is None:
            raise DomainValidationError(
                "Give the address name (slug) of the petition it duplicates.", field="duplicate_of"
            )
        petition.duplicate_of = original
    hidden = hide or code in HIDDEN_REJECTION_CODES
    petition.state = PetitionState.HIDDEN if hidden else PetitionState.REJECTED
    petition.rejection_code, petition.rejection_details = code, details.strip()
    _moderated(petition, actor, ["state", "rejection_code", "rejection_details", "duplicate_of"])
    audit_record(actor=actor, action=f"petition.{petition.state}", target=petition, summary=code)
    return petition


@transaction.atomic
def petition_flag(*, actor: Any, petition_id: int, note: str) -> Petition:
    """Escalate a petition for a second opinion (it stays in the queue, marked)."""
    require_perm(actor, "petitions.moderate_petition")
    petition = _locked_for(petition_id, actor)
    petition.flagged = True
    _moderated(petition, actor, ["flagged"])
    audit_record(actor=actor, action="petition.flagged", target=petition, summary=note[:300])
    return petition


@transaction.atomic
def petition_remove(*, actor: Any, petition_id: int, reason: str) -> Petition:
    """Take a petition down (its address then answers 410 Gone)."""
    require_perm(actor, "petitions.moderate_petition")
    petition = _locked_for(petition_id, actor)
    if not reason.strip():
        raise DomainValidationError("Say why the petition is removed.", field="reason")
    petition.state = PetitionState.REMOVED
    petition.closed_at = petition.closed_at or clock.now()
    _moderated(petition, actor, ["state", "closed_at"])
    audit_record(actor=actor, action="petition.removed", target=petition, summary=reason[:300])
    return petition


@transaction.atomic
def petitions_close_expired(*, now: dt.datetime | None = None) -> int:
    """Close every open petition whose time is up; returns how many."""
    now = now or clock.now()
    closing = list(
        Petition.objects.select_for_update()
        .filter(state=PetitionState.OPEN, closes_at__lte=now)
        .values_list("pk", flat=True)
    )
    for pk in closing:
        Petition.objects.filter(pk=pk).update(state=PetitionState.CLOSED, closed_at=now)
        audit_record(actor=None, action="petition.closed", target=Petition(pk=pk), summary="its time ran out")
    return len(closing)


@transaction.atomic
def petition_response_record(
    *, actor: Any, petition_id: int, responded_by: str, summary: str, details: str
) -> Petition:
    """Record the target's response, shown on the page; every confirmed signer who asked to hear is emailed once
    (a background task, in batches)."""
    require_perm(actor, "petitions.moderate_petition")
    petition = _locked_for(petition_id, actor)
    if petition.state not in (PetitionState.OPEN, PetitionState.CLOSED):
        raise StateTransitionError("A response can be recorded only for an open or closed petition.")
    if petition.responded_at is not None:
        raise ConflictError("A response is already recorded for this petition.")
    if not summary.strip():
        raise DomainValidationError("Enter a summary of the response.", field="summary")
    if not responded_by.strip():
        raise DomainValidationError("Say who responded (for example NHS England).", field="responded_by")
    petition.responded_by = responded_by.strip()[:120]
    petition.response_summary = summary.strip()[:500]
    petition.response_details = details.strip()
    petition.responded_at = clock.now()
    _moderated(petition, actor, ["responded_by", "response_summary", "response_details", "responded_at"])
    audit_record(actor=actor, action="petition.response_recorded", target=petition, summary=petition.responded_by)
    from carefund.petitions.tasks import petition_response_email_batch

    petition_id = petition.pk
    transaction.on_commit(lambda: petition_response_email_batch.enqueue(petition_id=petition_id), robust=True)
    return petition


@transaction.atomic
def paper_signatures_record(
    *, actor: Any, petition_id: int, signature_count: int, collected_on: dt.date, place: str, held_by: str
) -> PaperSignatureBatch:
    """A batch of paper signatures: counted apart from online ones and never in the counts by area."""
    require_perm(actor, "petitions.record_paper_signatures")
    petition = Petition.objects.select_for_update().get(pk=petition_id)
    if petition.state not in (PetitionState.OPEN, PetitionState.CLOSED):
        raise StateTransitionError("Paper signatures can be added only to an open or closed petition.")
    if signature_count <= 0:
        raise DomainValidationError("Enter how many signatures the sheets hold (1 or more).", field="signature_count")
    if signature_count > 100_000:
        raise DomainValidationError("Enter one batch of sheets at a time (100,000 at most).", field="signature_count")
    if collected_on > clock.today():
        raise DomainValidationError("The date collected cannot be in the future.", field="collected_on")
    if not place.strip() or not held_by.strip():
        field = "place" if not place.strip() else "held_by"
        raise DomainValidationError("Say where they were collected and who holds the sheets.", field=field)
    try:
        batch = PaperSignatureBatch.objects.create(
            petition=petition,
            signature_count=signature_count,
            collected_on=collected_on,
            place=place.strip()[:200],
            held_by=held_by.strip()[:200],
            recorded_by=actor,
            recorded_at=clock.now(),
        )
    except IntegrityError as exc:  # pragma: no cover - the checks above run first
        raise DomainValidationError(str(exc)) from exc
    audit_record(
        actor=actor,
        action="petition.paper_recorded",
        target=petition,
        summary=f"{signature_count} paper signatures collected {collected_on:%d %B %Y} at {batch.place}",
        details={"batch": batch.pk, "count": signature_count},
    )
    return batch
