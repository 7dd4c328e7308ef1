"""Signing and confirming: the busiest writers of petitions, so each does one INSERT or one UPDATE and queues the
email; the counts follow in batches (`counting`).

A signer who signed already, a third person from one email address, or a signer over a rate limit sees exactly
the page a new signer sees: what differs is only the email that follows (or whether the signature is counted)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q

from carefund.core import clock
from carefund.core.errors import NotFoundError, StateTransitionError
from carefund.core.errors import ValidationError as DomainValidationError
from carefund.petitions import conf, rules
from carefund.petitions.counting import petition_count_refresh_soon
from carefund.petitions.models import Petition, PetitionState, Signature, SignatureState
from carefund.petitions.postcodes import areas_for_postcode

# A petition takes signatures while it collects sponsors and while it is open (creators and sponsors sign first).
SIGNABLE_STATES = (PetitionState.PENDING, PetitionState.VALIDATED, PetitionState.SPONSORED, PetitionState.OPEN)


@dataclass(frozen=True)
class SignatureInput:
    name: str
    email: str
    postcode: str
    location_code: str
    uk_citizen_or_resident: bool
    notify_by_email: bool = False
    email_confirmation: str | None = None  # the web form asks twice; the JSON API once


@dataclass(frozen=True)
class CleanSignature:
    name: str
    email: str
    canonical_email: str
    email_domain: str
    postcode: str
    location_code: str
    notify_by_email: bool


@dataclass(frozen=True)
class SigningResult:
    outcome: rules.SigningOutcome
    signature_id: int | None  # the new signature, or the signer's earlier one for a duplicate


def signature_clean(data: SignatureInput) -> CleanSignature:
    """Every field checked, with a message naming what to fix (raises DomainValidationError with the field)."""
    try:
        if not data.uk_citizen_or_resident:
            raise rules.FieldError(
                "uk_citizen_or_resident", "Only British citizens or UK residents can sign: tick the box if you are one."
            )
        name = rules.clean_name(data.name)
        email = rules.clean_email(data.email, data.email_confirmation)
        location = rules.clean_location(data.location_code or "GB")
        postcode = rules.clean_postcode(data.postcode, location_code=location)
    except rules.FieldError as exc:
        raise DomainValidationError(exc.message, field=exc.field) from None
    canonical = rules.canonical_email(email)
    return CleanSignature(
        name=name,
        email=email,
        canonical_email=canonical,
        email_domain=canonical.rpartition("@")[2],
        postcode=postcode,
        location_code=location,
        notify_by_email=data.notify_by_email,
    )


def _recent(*, petition_id: int, ip: str | None, domain: str, now: dt.datetime) -> rules.RecentSigning:
    limits = conf.rate_limits()
    allowed = domain in conf.allowed_domains()
    burst = sustained = domain_recent = 1  # this signature
    if limits.enabled and ip:
        found = Signature.objects.filter(
            petition_id=petition_id,
            ip_address=ip,
            created_at__gt=now - dt.timedelta(seconds=limits.sustained_seconds),
        ).aggregate(
            sustained=Count("id"),
            burst=Count("id", filter=Q(created_at__gt=now - dt.timedelta(seconds=limits.burst_seconds))),
        )
        burst += found["burst"]
        sustained += found["sustained"]
    if limits.enabled and not allowed:
        domain_recent += Signature.objects.filter(
            petition_id=petition_id,
            email_domain=domain,
            created_at__gt=now - dt.timedelta(seconds=limits.domain_seconds),
        ).count()
    return rules.RecentSigning(
        ip_burst=burst, ip_sustained=sustained, domain_recent=domain_recent, domain_allowed=allowed
    )


def signable_petition(*, slug: str) -> Petition:
    petition = Petition.objects.filter(slug=slug).first()
    if petition is None or petition.state not in (PetitionState.OPEN,):
        if petition is not None and petition.state == PetitionState.CLOSED:
            raise StateTransitionError("This petition has closed: it no longer takes signatures.")
        raise NotFoundError("There is no open petition at this address.")
    return petition


@transaction.atomic
def signature_sign(
    *,
    petition: Petition,
    data: SignatureInput,
    ip: str | None,
    is_creator: bool = False,
    is_sponsor: bool = False,
) -> SigningResult:
    """Take a signature (pending until its email is confirmed) and queue the confirmation email; or, for a signer
    who signed already, queue a reminder instead and write nothing. Bad input raises DomainValidationError."""
    if petition.state not in SIGNABLE_STATES:
        raise StateTransitionError("This petition is not taking signatures.")
    clean = signature_clean(data)
    earlier = tuple(
        rules.EarlierSignature(name=n, postcode=p, household_slot=s)
        for n, p, s in Signature.objects.filter(
            petition=petition, canonical_email=clean.canonical_email, anonymised_at__isnull=True
        ).values_list("name", "postcode", "household_slot")[:3]
    )
    decision = rules.household_decide(name=clean.name, postcode=clean.postcode, earlier=earlier)
    if decision.outcome is not rules.SigningOutcome.NEW:
        return _remind(petition=petition, clean=clean, decision=decision)
    now = clock.now()
    areas = areas_for_postcode(clean.postcode)
    suspect = rules.is_suspect(
        recent=_recent(petition_id=petition.pk, ip=ip, domain=clean.email_domain, now=now), limits=conf.rate_limits()
    )
    try:
        with transaction.atomic():  # a savepoint: a racing twin of this signer hits the unique constraints
            signature = Signature.objects.create(
                petition=petition,
                name=clean.name,
                email=clean.email,
                canonical_email=clean.canonical_email,
                email_domain=clean.email_domain,
                household_slot=decision.household_slot,
                postcode=clean.postcode,
                location_code=clean.location_code,
                uk_citizen_or_resident=True,
                notify_by_email=clean.notify_by_email,
                ip_address=ip or None,
                is_creator=is_creator,
                is_sponsor=is_sponsor,
                suspect=suspect,
                token=secrets.token_urlsafe(32),
                created_at=now,
                constituency_code=areas.constituency_code,
                icb_code=areas.icb_code,
                region_code=areas.region_code,
            )
    except IntegrityError:
        return SigningResult(rules.SigningOutcome.DUPLICATE, None)
    from carefund.petitions.tasks import signature_confirmation_send

    signature_id = signature.pk
    transaction.on_commit(lambda: signature_confirmation_send.enqueue(signature_id=signature_id), robust=True)
    return SigningResult(rules.SigningOutcome.NEW, signature.pk)


def _remind(*, petition: Petition, clean: CleanSignature, decision: rules.SigningDecision) -> SigningResult:
    """A repeat signer gets an email (at most 5 per signature, as e-petitions), and the page says nothing."""
    from carefund.petitions.tasks import signature_duplicate_send

    first = (
        Signature.objects.filter(petition=petition, canonical_email=clean.canonical_email, anonymised_at__isnull=True)
        .order_by("id")
        .first()
    )
    if first is None:
        return SigningResult(decision.outcome, None)
    if decision.earlier is not None:
        first = (
            Signature.objects.filter(
                petition=petition, canonical_email=clean.canonical_email, household_slot=decision.earlier.household_slot
            ).first()
            or first
        )
    sent = Signature.objects.filter(pk=first.pk, email_count__lt=5).update(email_count=F("email_count") + 1)
    if sent:
        signature_id, to = first.pk, clean.email
        transaction.on_commit(lambda: signature_duplicate_send.enqueue(signature_id=signature_id, to=to), robust=True)
    return SigningResult(decision.outcome, first.pk)


@transaction.atomic
def signature_confirm(*, token: str) -> Signature:
    """Confirm a signature by its emailed token. Idempotent: a second confirmation (a double click, two tabs, a
    mail scanner that submits the form) changes nothing and answers the same. Only the first counts: the UPDATE
    matches a pending signature once, however many requests race."""
    signature = Signature.objects.select_related("petition").filter(token=token).first()
    if signature is None or signature.anonymised_at is not None:
        raise NotFoundError("This confirmation link is not valid. Copy the whole link from the email.")
    if signature.state != SignatureState.PENDING:
        return signature
    petition = signature.petition
    if petition.state not in SIGNABLE_STATES:
        raise StateTransitionError("This petition closed before you confirmed, so your signature was not added.")
    now = clock.now()
    state = SignatureState.HELD if signature.suspect else SignatureState.VALIDATED
    changed = Signature.objects.filter(pk=signature.pk, state=SignatureState.PENDING).update(
        state=state, validated_at=now
    )
    if changed:
        signature.state, signature.validated_at = state, now
        if signature.is_creator or signature.is_sponsor:
            from carefund.petitions.services import petition_check_sponsors

            petition_check_sponsors(petition_id=petition.pk)
        if state == SignatureState.VALIDATED:
            petition_count_refresh_soon(petition_id=petition.pk)
    return signature
