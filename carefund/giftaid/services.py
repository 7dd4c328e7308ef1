"""Gift Aid services: record a declaration made with a gift, and cancel one (never retrospectively)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from carefund.campaigns.cache import campaign_public_cache_invalidate
from carefund.campaigns.models import Donation, DonationStatus
from carefund.core import clock
from carefund.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StateTransitionError,
    ValidationError,
)
from carefund.core.money import format_pence
from carefund.core.services import audit_record
from carefund.giftaid import rules
from carefund.giftaid.models import Declaration, donor_key_for
from carefund.giftaid.rules import Scope
from carefund.giftaid.selectors import NOT_ONE_DONORS_OWN_MONEY_KINDS, declaration_made_with

CANCELLATION_REASON_MAX_LENGTH = 200


def donation_email(donation: Donation) -> str:
    """The donor's email on a gift ("" when the gift has none, e.g. cash in a bucket)."""
    return (donation.donor_email or "").strip()


@transaction.atomic
def declaration_record(
    *,
    donation: Donation,
    title: str,
    first_name: str,
    last_name: str,
    house_name_or_number: str,
    address: str,
    postcode: str,
    scope: Scope | str,
    declared_on: dt.date,
    actor: Any = None,
) -> Declaration:
    """Record the Gift Aid declaration a donor made with `donation` (sources.md: Gift Aid: declarations).

    Names, house and postcode are normalised and checked against HMRC's schedule rules (sources.md: Gift Aid claims);
    the
    donor's email is taken from the gift and links their later gifts (see models). Refusals write nothing."""
    details = rules.DonorDetails.normalised(
        title=title,
        first_name=first_name,
        last_name=last_name,
        house_name_or_number=house_name_or_number,
        address=address,
        postcode=postcode,
    )
    problems = rules.donor_details_problems(details)
    if problems:
        first = problems[0]
        raise ValidationError(f"Gift Aid declaration refused: {first.message}.", field=first.field)
    try:
        scope = Scope(scope)
    except ValueError:
        allowed = ", ".join(s.value for s in Scope)
        raise ValidationError(f"scope must be one of {allowed}, not {scope!r}", field="scope") from None
    if declared_on > clock.today():
        raise ValidationError(
            f"declared_on must be today or earlier, not {declared_on.isoformat()} (a future date)",
            field="declared_on",
        )
    if donation is None or getattr(donation, "pk", None) is None:
        raise ValidationError("donation must be a saved gift: a declaration is made with a gift", field="donation")
    if donation.kind in NOT_ONE_DONORS_OWN_MONEY_KINDS:
        raise ValidationError(
            "Gift Aid: event takings and bucket collections are not one donor's own gift, so they carry no Gift Aid "
            "(HMRC's rules); record the donor's own gift on its own to declare with it.",
            field="kind",
        )
    received_on = getattr(donation, "received_on", None)
    if received_on is not None and received_on < rules.years_before(declared_on, rules.PAST_YEARS_COVERED):
        raise ValidationError(
            f"declared_on: a declaration covers a gift only within {rules.PAST_YEARS_COVERED} years of it "
            f"(HMRC's rules); this gift was received on {received_on:%d %B %Y}, more than "
            f"{rules.PAST_YEARS_COVERED} years before {declared_on:%d %B %Y}.",
            field="declared_on",
        )
    if Declaration.objects.filter(donation_id=donation.pk).exists():
        raise ConflictError(
            f"gift {donation.pk} already has a Gift Aid declaration; cancel it before recording another",
            field="donation",
        )
    email = donation_email(donation)
    try:
        with transaction.atomic():
            declaration = Declaration.objects.create(
                title=details.title,
                first_name=details.first_name,
                last_name=details.last_name,
                house_name_or_number=details.house_name_or_number,
                address=details.address,
                postcode=details.postcode,
                email=email,
                donor_key=donor_key_for(email),
                scope=scope.value,
                declared_on=declared_on,
                wording=rules.declaration_wording(
                    charity_name=settings.CHARITY_NAME, amount=format_pence(int(donation.amount_pence)), scope=scope
                ),
                covers_from=None
                if scope is Scope.THIS_GIFT
                else rules.earliest_covered_date(
                    rules.DeclarationTerms(scope=scope, declared_on=declared_on, donation_id=donation.pk)
                ),
                donation=donation,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
                created_at=clock.now(),
            )
    except IntegrityError as exc:  # a concurrent declaration for the same gift won the race
        raise ConflictError(f"gift {donation.pk} already has a Gift Aid declaration", field="donation") from exc
    if donation.status != DonationStatus.PENDING:
        # A declaration added to a gift already received changes the campaign page's Gift Aid to come at once. One
        # made while giving (the gift still pending) counts when the gift is confirmed: the page shows it, and the
        # donor's other gifts it covers, within CAMPAIGN_PAGE_CACHE_SECONDS (docs/campaigns.md), so a burst of
        # gifts does not empty the page's cache at every gift.
        campaign_public_cache_invalidate(campaign_id=donation.campaign_id)  # now and again on commit
    audit_record(
        actor=actor,
        action="giftaid.declaration_record",
        target=declaration,
        summary=f"Gift Aid declaration ({scope.value}) with gift {donation.pk}",
        details={"donation_id": donation.pk, "scope": scope.value, "declared_on": declared_on.isoformat()},
    )
    return declaration


@transaction.atomic
def declaration_cancel(*, declaration: Declaration, on_date: dt.date, reason: str, actor: Any) -> Declaration:
    """Cancel a declaration from `on_date`: gifts received before it stay covered, later ones are not.

    A later date the donor names is allowed (the cancellation takes effect then). Refused for an anonymous actor, an
    empty or over-long reason, a date before the declaration, or a declaration already cancelled. Refusals write
    nothing."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDeniedError("cancelling a Gift Aid declaration needs a signed-in user (actor)", field="actor")
    if not actor.has_perm("giftaid.cancel_declaration"):
        # The service checks, not only the admin action: a cancelled declaration loses the charity its Gift Aid.
        raise PermissionDeniedError(
            "cancelling a Gift Aid declaration needs the permission giftaid.cancel_declaration (finance officers "
            "and trustees)",
            field="actor",
        )
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError(
            "reason is required to cancel a Gift Aid declaration (e.g. donor request)", field="reason"
        )
    if len(reason) > CANCELLATION_REASON_MAX_LENGTH:
        raise ValidationError(
            f"reason must be at most {CANCELLATION_REASON_MAX_LENGTH} characters, not {len(reason)}", field="reason"
        )
    locked = _cancel_locked(
        declaration.pk, on_date=on_date, reason=reason, actor=actor, action="giftaid.declaration_cancel"
    )
    declaration.cancelled_on = locked.cancelled_on
    declaration.cancellation_reason = locked.cancellation_reason
    declaration.cancelled_by = actor
    return declaration


DONOR_CANCELLATION_REASON = "cancelled by the donor on their gift's page"


@transaction.atomic
def declaration_cancel_by_donor(*, donation: Donation) -> Declaration:
    """The donor cancels the declaration they made with `donation`, from today, on the gift's own page (reached
    through the unguessable link in their receipt, which is the authority here, as for the page itself): a donor
    cancels by telling the charity, and this page is one way to tell it. Not retrospective: the gift it was made
    with keeps its Gift Aid (`rules.declaration_covers`), and so do the donor's other gifts received before today;
    gifts received from today on are not covered. Refused: a declaration for that one gift only (nothing later to
    stop: ConflictError), a gift with no declaration of its own, or one cancelled already. Audited with no actor
    (the donor has no account)."""
    declaration = declaration_made_with(donation=donation)
    if declaration is None:
        raise NotFoundError(f"gift {donation.pk} has no Gift Aid declaration of its own to cancel", field="donation")
    if declaration.scope == Scope.THIS_GIFT:
        raise ConflictError(
            f"the declaration made with gift {donation.pk} covers that gift only, which keeps its Gift Aid (it was "
            "given with the declaration), so there are no later gifts for a cancellation to stop; if it should not "
            f"have been made, tell {settings.CHARITY_NAME}",
            field="donation",
        )
    return _cancel_locked(
        declaration.pk,
        on_date=clock.today(),
        reason=DONOR_CANCELLATION_REASON,
        actor=None,
        action="giftaid.declaration_cancel_by_donor",
    )


def _cancel_locked(pk: int, *, on_date: dt.date, reason: str, actor: Any, action: str) -> Declaration:
    """In the caller's transaction: lock the declaration, check it can be cancelled from `on_date`, cancel it,
    refresh every campaign page's Gift Aid to come, and audit."""
    locked = Declaration.objects.select_for_update().get(pk=pk)
    if locked.cancelled_on is not None:
        raise StateTransitionError(
            f"declaration {locked.pk} was already cancelled on {locked.cancelled_on.isoformat()}", field="on_date"
        )
    if on_date < locked.declared_on:
        raise ValidationError(
            f"on_date must be on or after the declaration date {locked.declared_on.isoformat()}, "
            f"not {on_date.isoformat()} (cancellation is not retrospective)",
            field="on_date",
        )
    locked.cancelled_on = on_date
    locked.cancellation_reason = reason
    locked.cancelled_by = actor
    locked.save(update_fields=["cancelled_on", "cancellation_reason", "cancelled_by"])
    # The donor's gifts may be on any campaign: every campaign page recomputes its Gift Aid to come.
    campaign_public_cache_invalidate(campaign_id=None)  # now and again on commit
    audit_record(
        actor=actor,
        action=action,
        target=locked,
        summary=f"Gift Aid declaration cancelled from {on_date.isoformat()}",
        details={"on_date": on_date.isoformat(), "reason": reason},
    )
    return locked
