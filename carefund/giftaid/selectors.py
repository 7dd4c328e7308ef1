"""Gift Aid reads: what a gift or a campaign will bring, and a donor's declarations.

`gift_aid_due_for_donation` and `gift_aid_due_for_campaign` return amounts only (no personal data), so the public
campaign page may show them. `declarations_for_donor` returns personal data: call it only for finance staff
(`giftaid.view_declaration`) or for the donor's own page reached through their unguessable link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import (
    BigIntegerField,
    CharField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Concat, Length, Lower, Replace, Right, Trim, TruncDate
from django.db.models.lookups import Exact
from django.utils import timezone

from carefund.campaigns.models import Donation, DonationKind, DonationStatus
from carefund.giftaid import rules
from carefund.giftaid.models import Declaration, donor_key_for
from carefund.giftaid.rules import DeclarationTerms, GiftFacts, Scope

# How a campaigns.Donation tells us about eligibility (sources.md: Gift Aid: eligible gifts). Event takings and bucket
# collections are
# money collected from many people (and event takings may include tickets), so no one donor's declaration can cover
# them; their Gift Aid route is the Small Donations Scheme (GASDS, sources.md: Gift Aid claims), a later issue.
# Donation has no
# "for goods" or "from a company" flag yet: the giving page takes gifts only, from individuals. When campaigns adds
# such flags, set them in `gift_facts_for_donation`; `rules.gift_eligibility` already refuses them.
NOT_ONE_DONORS_OWN_MONEY_KINDS = frozenset({DonationKind.EVENT_TAKINGS.value, DonationKind.BUCKET_COLLECTION.value})
SUCCEEDED = DonationStatus.SUCCEEDED.value


def gift_received_on(donation: Donation) -> dt.date:
    """The date a gift was received: `received_on` (set for offline gifts and on confirmation of online ones),
    else the day it succeeded, else the day it was created."""
    if donation.received_on is not None:
        return donation.received_on
    moment = donation.succeeded_at or donation.created_at
    return timezone.localdate(moment) if timezone.is_aware(moment) else moment.date()


def gift_facts_for_donation(donation: Donation) -> GiftFacts:
    """The facts Gift Aid eligibility needs, read from a campaigns.Donation."""
    return GiftFacts(
        amount_pence=int(donation.amount_pence) - int(donation.refunded_gift_pence),  # what the donor kept given
        received_on=gift_received_on(donation),
        on_behalf_of_others=donation.kind in NOT_ONE_DONORS_OWN_MONEY_KINDS,
    )


def _terms(declaration: Declaration) -> DeclarationTerms:
    return DeclarationTerms(
        scope=Scope(declaration.scope),
        declared_on=declaration.declared_on,
        donation_id=declaration.donation_id,
        cancelled_on=declaration.cancelled_on,
        donor_key=declaration.donor_key,
        last_name=declaration.last_name,
    )


def _donation_email(donation: Donation) -> str:
    return (donation.donor_email or "").strip()


def _covering(donation: Donation, facts: GiftFacts, declarations: Iterable[Declaration]) -> Declaration | None:
    """The first of `declarations` that covers the gift (by scope, dates and donor), or None."""
    for declaration in declarations:
        if rules.declaration_covers(
            _terms(declaration),
            donation_id=donation.pk,
            received_on=facts.received_on,
            donor_email=donation.donor_email or "",
            donor_name=donation.donor_name or "",
        ):
            return declaration
    return None


def _due(donation: Donation, declarations: Iterable[Declaration]) -> int:
    if donation.status != SUCCEEDED:
        return 0
    facts = gift_facts_for_donation(donation)
    if not rules.gift_eligibility(facts).eligible or _covering(donation, facts, declarations) is None:
        return 0
    return rules.gift_aid_due_pence(facts.amount_pence)


def _declarations_touching(donations: list[Donation]) -> QuerySet[Declaration]:
    keys = {donor_key_for(_donation_email(d)) for d in donations} - {""}
    ids = [d.pk for d in donations]
    return Declaration.objects.filter(Q(donor_key__in=keys) | Q(donation_id__in=ids)).order_by("id")


def declaration_made_with(*, donation: Donation) -> Declaration | None:
    """The declaration made with this very gift, cancelled or not (the gift's page shows it, and its donor may cancel
    it there); None if the gift has none of its own (another gift's declaration may still cover it)."""
    return Declaration.objects.filter(donation_id=donation.pk).first()


def declarations_covering(*, donations: list[Donation]) -> list[tuple[Declaration | None, int]]:
    """For each gift, in order: the first uncancelled declaration (by scope, dates and donor) that covers it if it is
    eligible, else None; and the Gift Aid it brings (as `gift_aid_due_for_donation`). The declarations of all the
    gifts are read in one query (a batch of receipts, `receipt.receipt_gift_aid_lines`)."""
    declarations = list(_declarations_touching(donations))
    out: list[tuple[Declaration | None, int]] = []
    for donation in donations:
        facts = gift_facts_for_donation(donation)
        covering = _covering(donation, facts, declarations) if rules.gift_eligibility(facts).eligible else None
        due = rules.gift_aid_due_pence(facts.amount_pence) if covering and donation.status == SUCCEEDED else 0
        out.append((covering, due))
    return out


def gift_aid_due_for_donation(*, donation: Donation) -> int:
    """Gift Aid (pence) this gift will bring: 0 unless it succeeded, is eligible, and an uncancelled declaration (by
    scope and dates) covers it; otherwise 25p per £1 rounded down (sources.md: Gift Aid: the rate)."""
    if donation.status != SUCCEEDED:
        return 0
    return _due(donation, _declarations_touching([donation]))


class _AsciiLower(Func):
    """A-Z folded to a-z and nothing else, as `rules.name_key`: SQLite's LOWER folds ASCII letters only;
    PostgreSQL's LOWER folds other letters too (by locale), so there it is TRANSLATE over A-Z."""

    function = "LOWER"
    arity = 1
    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            function="TRANSLATE",
            template="%(function)s(%(expressions)s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
            **extra_context,
        )


def _name_key_sql(expression: Any) -> Func:
    """`rules.name_key` in SQL, step for step: fold A-Z, collapse runs of spaces with the marker, trim spaces."""
    mark = rules.SPACE_MARK
    collapsed = Replace(
        Replace(
            Replace(_AsciiLower(expression), Value(" "), Value(" " + mark)),
            Value(mark + " "),
            Value(""),
        ),
        Value(mark),
        Value(""),
    )
    return Trim(collapsed)


def gift_aid_due_for_campaign(*, campaign_id: int) -> int:
    """Gift Aid (pence) still to come on a campaign's succeeded gifts, in one query whatever the gift count (the
    public campaign page asks on every view). The same rules as `gift_aid_due_for_donation`, written in SQL: each
    eligible succeeded gift covered by its own declaration, or by a declaration of the same donor (the same email
    key AND a name ending with the declaration's last name as whole words, `rules.same_donor`) whose
    `covers_from <= received_on < cancelled_on`, brings its amount * rate / (100 - rate), rounded down per gift
    (integer division, as `rules.gift_aid_due_pence`); a test checks the two agree."""
    rate = rules.BASIC_RATE_PERCENT
    received_on = Coalesce(
        "received_on",
        TruncDate("succeeded_at", tzinfo=timezone.get_current_timezone()),
        TruncDate("created_at", tzinfo=timezone.get_current_timezone()),
    )
    # The gift's name ends with the declaration's last name: equal, or its last len(surname) + 1 characters are a
    # space and the surname (RIGHT / SUBSTR with a negative start; no LIKE, so no wildcards or case rules to escape).
    surname = F("surname_key")
    gift_name = OuterRef("name_key")
    name_matches = ~Q(surname_key="") & (
        Q(Exact(gift_name, surname))
        | Q(Exact(Right(gift_name, Length(surname) + 1), Concat(Value(" "), surname, output_field=CharField())))
    )
    covering = Declaration.objects.annotate(surname_key=_name_key_sql("last_name")).filter(
        Q(donation_id=OuterRef("pk"))
        | (
            Q(donor_key=OuterRef("email_key"), covers_from__isnull=False, covers_from__lte=OuterRef("gift_date"))
            & ~Q(donor_key="")
            & name_matches
            & (Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=OuterRef("gift_date")))
        )
    )
    total = (
        Donation.objects.filter(campaign_id=campaign_id, status=SUCCEEDED, amount_pence__gt=F("refunded_gift_pence"))
        .exclude(kind__in=NOT_ONE_DONORS_OWN_MONEY_KINDS)
        .annotate(email_key=Lower(Trim("donor_email")), name_key=_name_key_sql("donor_name"), gift_date=received_on)
        .filter(Exists(covering))
        .aggregate(
            due=Sum(
                ExpressionWrapper(
                    (F("amount_pence") - F("refunded_gift_pence")) * rate / (100 - rate), output_field=BigIntegerField()
                ),
                default=0,
            )
        )["due"]
    )
    return int(total)


def declarations_for_donor(*, email: str) -> QuerySet[Declaration]:
    """Every declaration (cancelled ones too) whose donor email matches `email`, newest first."""
    key = donor_key_for(email)
    if not key:
        return Declaration.objects.none()
    return Declaration.objects.filter(donor_key=key).order_by("-declared_on", "-id")
