"""Signing and confirming: the busiest writers of petitions, so each does one INSERT or one UPDATE and queues the
email; the counts follow in batches (`counting`).

A signer who signed already, a third person from one email address, or a signer over a rate limit sees exactly
the page a new signer sees: what differs is only the email that follows (or whether the signature is counted)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django_tasks_db.backend import DatabaseBackend

from carefund.core import clock
from carefund.core.errors import NotFoundError, StateTransitionError
from carefund.core.errors import ValidationError as DomainValidationError
from carefund.petitions import conf, rules
from carefund.petitions.counting import petition_count_refresh_soon
from carefund.petitions.models import Petition, PetitionState, Postcode, Signature, SignatureState
from carefund.petitions.postcodes import areas_for_postcode

logger = logging.getLogger(__name__)

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


def _sql(text: str) -> str:
    """Raw SQL with this app's table names ({sig}, {pc}, {pet}) filled in."""
    return text.format(sig=Signature._meta.db_table, pc=Postcode._meta.db_table, pet=Petition._meta.db_table)


def _execute_hot(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    """Run one of the busiest statements (signing's INSERT and rate-limit read, confirming's UPDATE); its one row.
    On PostgreSQL it goes through psycopg's own cursor with the values bound on the server, so the statement is
    prepared once per connection: planning it cost twice as much as running it (docs/benchmarks.md)."""
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        # psycopg.Cursor, not the connection's own (Django's client-side binding cursor, which cannot prepare)
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]


def _recent(*, petition_id: int, ip: str | None, domain: str, now: dt.datetime) -> rules.RecentSigning:
    """How many signatures came lately from the signer's IP address and email domain (one statement; none when the
    limits are off). The rule that judges them is `rules.is_suspect`."""
    limits = conf.rate_limits()
    allowed = domain in conf.allowed_domains()
    counts = [0, 0, 0]
    check_ip, check_domain = bool(limits.enabled and ip), limits.enabled and not allowed
    if check_ip or check_domain:
        adapt = connection.ops.adapt_datetimefield_value
        by_ip = "SELECT COUNT(*) FROM {sig} WHERE petition_id = %s AND ip_address = %s AND created_at > %s"
        by_domain = "SELECT COUNT(*) FROM {sig} WHERE petition_id = %s AND email_domain = %s AND created_at > %s"
        params: list[Any] = []
        parts = []
        for wanted, query, key, seconds in (
            (check_ip, by_ip, ip, limits.sustained_seconds),
            (check_ip, by_ip, ip, limits.burst_seconds),
            (check_domain, by_domain, domain, limits.domain_seconds),
        ):
            if wanted:
                parts.append(f"({query})")
                params += [petition_id, key, adapt(now - dt.timedelta(seconds=seconds))]
            else:
                parts.append("0")
        counts = list(_execute_hot(_sql("SELECT " + ", ".join(parts)), params) or (0, 0, 0))
    sustained, burst, domain_recent = (n + 1 for n in counts)  # and this signature
    return rules.RecentSigning(
        ip_burst=burst, ip_sustained=sustained, domain_recent=domain_recent, domain_allowed=allowed
    )


def _signable_key(slug: str) -> str:
    return f"carefund:petition-signable:{slug}"


@dataclass(frozen=True)
class SignablePetition:
    """What signing needs of a petition (the signing API reads it from the cache, not as a model)."""

    pk: int
    slug: str
    state: str


def signable_petition(*, slug: str) -> SignablePetition:
    """The open petition at `slug` (its id, slug and state only), for the signing API. Read from the cache: its
    state is at most `PETITION_PAGE_CACHE_SECONDS` old in other server processes (a moderator's change is
    forgotten at once in the process that made it, `forget_signable`); a signature taken in those seconds after a
    petition closed cannot be confirmed (`signature_confirm` reads the state itself)."""
    key = _signable_key(slug)
    found = cache.get(key)
    if found is None:
        found = Petition.objects.filter(slug=slug).order_by().values_list("id", "state").first() or (0, "")
        cache.set(key, found, conf.page_cache_seconds())
    petition_id, state = found
    if state != PetitionState.OPEN:
        if state == PetitionState.CLOSED:
            raise StateTransitionError("This petition has closed: it no longer takes signatures.")
        raise NotFoundError("There is no open petition at this address.")
    return SignablePetition(pk=petition_id, slug=slug, state=state)


def forget_signable(slug: str) -> None:
    cache.delete(_signable_key(slug))


# The common case in one statement: a signer with no earlier signature from this canonical email takes household
# slot 1, with the areas of their postcode looked up in the same statement. Any earlier signature (a repeat, a
# second person of the household) or a racing twin leaves nothing inserted (NOT EXISTS, ON CONFLICT DO NOTHING),
# and the household rule then decides in Python (`_sign_again`).
_INSERT_FIRST = """
INSERT INTO {sig} (petition_id, name, email, canonical_email, email_domain, household_slot, postcode, location_code,
    uk_citizen_or_resident, notify_by_email, ip_address, is_creator, is_sponsor, state, suspect, token, created_at,
    counted, constituency_code, icb_code, region_code, email_count, confirmation_due)
SELECT %s, %s, %s, %s, %s, 1, %s, %s, %s, %s, {ip}, %s, %s, %s, %s, %s, %s, %s,
    COALESCE(pc.constituency_code, ''), COALESCE(pc.icb_code, ''), COALESCE(pc.region_code, ''), 1, %s
FROM (SELECT 1 AS one) AS one LEFT JOIN {pc} pc ON pc.postcode = %s
WHERE NOT EXISTS (
    SELECT 1 FROM {sig} s WHERE s.petition_id = %s AND s.canonical_email = %s AND s.anonymised_at IS NULL
)
ON CONFLICT DO NOTHING
RETURNING id
"""


def _insert_first(
    *, petition_id: int, clean: CleanSignature, ip: str | None, is_creator: bool, is_sponsor: bool, suspect: bool
) -> int | None:
    ip_sql = "CAST(%s AS inet)" if connection.vendor == "postgresql" else "%s"
    ip_value = Signature._meta.get_field("ip_address").get_prep_value(ip or None)
    params = [
        petition_id,
        clean.name,
        clean.email,
        clean.canonical_email,
        clean.email_domain,
        clean.postcode,
        clean.location_code,
        True,
        clean.notify_by_email,
        ip_value,
        is_creator,
        is_sponsor,
        SignatureState.PENDING.value,
        suspect,
        secrets.token_urlsafe(32),
        connection.ops.adapt_datetimefield_value(clock.now()),
        False,
        True,
        clean.postcode,
        petition_id,
        clean.canonical_email,
    ]
    row = _execute_hot(_sql(_INSERT_FIRST.replace("{ip}", ip_sql)), params)
    return int(row[0]) if row else None


def signature_sign(
    *,
    petition: Petition | SignablePetition,
    data: SignatureInput,
    ip: str | None,
    is_creator: bool = False,
    is_sponsor: bool = False,
) -> SigningResult:
    """Take a signature (pending until its email is confirmed; the email goes out with the next batch) or, for a
    signer who signed already, queue a reminder instead and write nothing. Bad input raises DomainValidationError.

    A first signature from an email address is one INSERT (with its postcode's areas, in autocommit or the
    caller's transaction); the rate-limit counts are one more read when the limits are on."""
    if petition.state not in SIGNABLE_STATES:
        raise StateTransitionError("This petition is not taking signatures.")
    clean = signature_clean(data)
    suspect = rules.is_suspect(
        recent=_recent(petition_id=petition.pk, ip=ip, domain=clean.email_domain, now=clock.now()),
        limits=conf.rate_limits(),
    )
    signature_id = _insert_first(
        petition_id=petition.pk, clean=clean, ip=ip, is_creator=is_creator, is_sponsor=is_sponsor, suspect=suspect
    )
    if signature_id is None:
        return _sign_again(
            petition=petition, clean=clean, ip=ip, is_creator=is_creator, is_sponsor=is_sponsor, suspect=suspect
        )
    _send_confirmations_soon()
    return SigningResult(rules.SigningOutcome.NEW, signature_id)


@transaction.atomic
def _sign_again(
    *,
    petition: Petition | SignablePetition,
    clean: CleanSignature,
    ip: str | None,
    is_creator: bool,
    is_sponsor: bool,
    suspect: bool,
) -> SigningResult:
    """The email address has signed this petition before: a repeat (a reminder), the household's second person
    (slot 2), or a third (refused, with a notice)."""
    earlier = tuple(
        rules.EarlierSignature(name=n, postcode=p, household_slot=s)
        for n, p, s in Signature.objects.filter(
            petition_id=petition.pk, canonical_email=clean.canonical_email, anonymised_at__isnull=True
        )
        .order_by()
        .values_list("name", "postcode", "household_slot")[:3]
    )
    decision = rules.household_decide(name=clean.name, postcode=clean.postcode, earlier=earlier)
    if decision.outcome is not rules.SigningOutcome.NEW:
        return _remind(petition=petition, clean=clean, decision=decision)
    areas = areas_for_postcode(clean.postcode)
    try:
        with transaction.atomic():  # a savepoint: a racing twin of this signer hits the unique constraints
            signature = Signature.objects.create(
                petition_id=petition.pk,
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
                created_at=clock.now(),
                constituency_code=areas.constituency_code,
                icb_code=areas.icb_code,
                region_code=areas.region_code,
                confirmation_due=True,
            )
    except IntegrityError:
        return SigningResult(rules.SigningOutcome.DUPLICATE, None)
    _send_confirmations_soon()
    return SigningResult(rules.SigningOutcome.NEW, signature.pk)


def _send_confirmations_soon() -> None:
    """After the signature commits, make sure a batch of confirmation emails goes out within the second."""
    from carefund.petitions.schedule import enqueue_once_per_interval
    from carefund.petitions.tasks import signature_confirmations_send

    def schedule() -> None:
        interval = conf.email_interval_seconds()
        enqueue_once_per_interval(signature_confirmations_send, key="confirmations", interval=interval)

    if connection.in_atomic_block:
        transaction.on_commit(schedule, robust=True)
    else:  # the signature is committed already (autocommit: the API's and the form's case)
        try:
            schedule()
        except Exception:  # as on_commit(robust=True): the signature stands; the next signature's batch sends it
            logger.exception("Could not queue the confirmation emails")


def _enqueue_with_commit(enqueue: Callable[[], object]) -> None:
    """Queue a task so that it exists exactly when what it reports does. The database queue's row is written in
    the transaction itself (one commit, not two); a backend that runs tasks at once (the tests') runs it after the
    commit."""
    from carefund.petitions.tasks import signature_duplicate_send

    if isinstance(signature_duplicate_send.get_backend(), DatabaseBackend):
        enqueue()
    else:
        transaction.on_commit(enqueue, robust=True)


def _remind(
    *, petition: Petition | SignablePetition, clean: CleanSignature, decision: rules.SigningDecision
) -> SigningResult:
    """A repeat signer gets an email (at most 5 per signature, as e-petitions), and the page says nothing."""
    from carefund.petitions.tasks import signature_duplicate_send

    first = (
        Signature.objects.filter(
            petition_id=petition.pk, canonical_email=clean.canonical_email, anonymised_at__isnull=True
        )
        .order_by("id")
        .first()
    )
    if first is None:
        return SigningResult(decision.outcome, None)
    if decision.earlier is not None:
        first = (
            Signature.objects.filter(
                petition_id=petition.pk,
                canonical_email=clean.canonical_email,
                household_slot=decision.earlier.household_slot,
            ).first()
            or first
        )
    sent = Signature.objects.filter(pk=first.pk, email_count__lt=5).update(email_count=F("email_count") + 1)
    if sent:
        signature_id, to = first.pk, clean.email
        _enqueue_with_commit(lambda: signature_duplicate_send.enqueue(signature_id=signature_id, to=to))
    return SigningResult(decision.outcome, first.pk)


@dataclass(frozen=True)
class Confirmation:
    signature_id: int
    state: str  # the signature's state after confirming: validated, or held
    petition_id: int
    petition_slug: str


_CONFIRM_FIELDS = (
    "id",
    "state",
    "suspect",
    "is_creator",
    "is_sponsor",
    "anonymised_at",
    "petition_id",
    "petition__slug",
    "petition__state",
)


# Confirming in one statement: the pending signature of a petition that still takes signatures becomes validated,
# or held if signing tripped a rate limit. Matching `state = 'pending'` makes racing confirmations change it once.
_CONFIRM = """
UPDATE {sig} SET state = CASE WHEN suspect THEN %s ELSE %s END, validated_at = %s
WHERE token = %s AND state = %s AND anonymised_at IS NULL
    AND petition_id IN (SELECT id FROM {pet} WHERE state IN (%s, %s, %s, %s))
RETURNING id, state, petition_id, is_creator, is_sponsor
"""


def _petition_slug(petition_id: int) -> str:
    """A petition's slug (it never changes), from the cache."""
    key = f"carefund:petition-slug:{petition_id}"
    slug = cache.get(key)
    if slug is None:
        slug = Petition.objects.filter(pk=petition_id).values_list("slug", flat=True)[0]
        cache.set(key, slug, 3600)
    return str(slug)


@transaction.atomic
def signature_confirm(*, token: str) -> Confirmation:
    """Confirm a signature by its emailed token. Idempotent: a second confirmation (a double click, two tabs, a
    mail scanner that submits the form) changes nothing and answers the same. Only the first counts: the UPDATE
    matches a pending signature once, however many requests race. The first confirmation is one UPDATE; anything
    else (confirmed already, a closed petition, an unknown token) is explained by `_confirm_explained`."""
    row = _execute_hot(
        _sql(_CONFIRM),
        [
            SignatureState.HELD.value,
            SignatureState.VALIDATED.value,
            connection.ops.adapt_datetimefield_value(clock.now()),
            token,
            SignatureState.PENDING.value,
            *(state.value for state in SIGNABLE_STATES),
        ],
    )
    if row is None:
        return _confirm_explained(token)
    signature_id, state, petition_id, is_creator, is_sponsor = row
    if is_creator or is_sponsor:
        from carefund.petitions.services import petition_check_sponsors

        petition_check_sponsors(petition_id=petition_id)
    if state == SignatureState.VALIDATED:
        petition_count_refresh_soon(petition_id=petition_id)
    return Confirmation(signature_id, state, petition_id, _petition_slug(petition_id))


def _confirm_explained(token: str) -> Confirmation:
    """Why a confirmation changed nothing: the signature was confirmed before (answer as then), its petition no
    longer takes signatures, or the token is unknown."""
    row = Signature.objects.filter(token=token).values_list(*_CONFIRM_FIELDS)[:1]
    found = row[0] if row else None
    if found is None or found[5] is not None:
        raise NotFoundError("This confirmation link is not valid. Copy the whole link from the email.")
    signature_id, state, _, _, _, _, petition_id, slug, petition_state = found
    if state == SignatureState.PENDING and petition_state not in SIGNABLE_STATES:
        raise StateTransitionError("This petition closed before you confirmed, so your signature was not added.")
    return Confirmation(signature_id, state, petition_id, slug)
