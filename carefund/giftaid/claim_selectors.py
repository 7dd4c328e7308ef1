"""Gift Aid claim reads: which gifts a claim would take (and why it leaves others out), the claims a finance
officer may see, the deadlines to warn of, and the Gift Aid claimed and paid per campaign and per child.

`assess_gifts` is the one place that turns gifts into `claim_rules.Decision`s; `claims.claim_create` and the
deadline warnings both use it, a chunk of gifts at a time so that memory stays flat however many gifts there are."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum

from carefund.campaigns.models import Donation, DonationStatus
from carefund.core import clock
from carefund.core.errors import NotFoundError, PermissionDeniedError
from carefund.giftaid import claim_rules, rules
from carefund.giftaid.models import Claim, ClaimGift, ClaimState, Declaration, LeftOutGift, Scheme
from carefund.giftaid.rules import DeclarationTerms, GiftFacts
from carefund.giftaid.selectors import NOT_ONE_DONORS_OWN_MONEY_KINDS

CHUNK = 2_000
REVERSED = (DonationStatus.REFUNDED.value, DonationStatus.DISPUTED.value)
STANDING = (ClaimState.DRAFT.value, ClaimState.SUBMITTED.value, ClaimState.PAID.value)


@dataclass(frozen=True)
class ClaimSettings:
    """The settings a claim follows (config/settings.py, docs/giftaid.md "Settings")."""

    aggregation_max_pence: int
    period_end_month: int
    period_end_day: int
    deadline_years: int

    @classmethod
    def current(cls) -> ClaimSettings:
        month, day = (int(p) for p in settings.GIFTAID_PERIOD_END.split("-"))
        return cls(
            aggregation_max_pence=int(settings.GIFTAID_AGGREGATION_MAX_PENCE),
            period_end_month=month,
            period_end_day=day,
            deadline_years=int(settings.GIFTAID_DEADLINE_YEARS),
        )

    def period_end(self, day: dt.date) -> dt.date:
        return claim_rules.period_end_for(day, month=self.period_end_month, day_of_month=self.period_end_day)

    def deadline(self, day: dt.date) -> dt.date:
        return claim_rules.claim_deadline(
            day, month=self.period_end_month, day_of_month=self.period_end_day, years=self.deadline_years
        )


@dataclass(frozen=True)
class Assessed:
    """One gift as a claim sees it."""

    donation_id: int
    child_id: int
    amount_pence: int
    received_on: dt.date
    decision: claim_rules.Decision
    declaration_id: int | None
    sponsored: bool
    deadline: dt.date


def is_sponsored(reference: str, batch_description: str) -> bool:
    """A gift given for a sponsored event: its reference or its offline batch names one (e.g. "Sponsored walk")."""
    return "sponsor" in f"{reference or ''} {batch_description or ''}".lower()


def unclaimed_gifts(*, received_by: dt.date, received_from: dt.date | None = None) -> QuerySet[Donation]:
    """Confirmed gifts (or confirmed then refunded or disputed) received by `received_by` that are in no standing
    claim, one donor's own gifts only (collections go to GASDS), in id order."""
    in_claim = ClaimGift.objects.filter(donation_id=OuterRef("pk"), active=True)
    qs = (
        Donation.objects.filter(
            status__in=[DonationStatus.SUCCEEDED.value, *REVERSED],
            received_on__isnull=False,
            received_on__lte=received_by,
        )
        .exclude(kind__in=NOT_ONE_DONORS_OWN_MONEY_KINDS)
        .filter(~Exists(in_claim))
        .order_by("id")
    )
    if received_from is not None:
        qs = qs.filter(received_on__gte=received_from)
    return qs


# What a claim reads of each gift and declaration: plain rows, not model instances (a claim may hold 100,000 gifts).
GIFT_FIELDS = (
    "id",
    "campaign__child_id",
    "amount_pence",
    "refunded_gift_pence",
    "status",
    "donor_email",
    "donor_name",
    "received_on",
    "reference",
    "batch__description",
)
DECLARATION_FIELDS = (
    "id",
    "donation_id",
    "donor_key",
    "scope",
    "declared_on",
    "cancelled_on",
    "title",
    "first_name",
    "last_name",
    "house_name_or_number",
    "postcode",
)


@dataclass(frozen=True)
class _Declared:
    pk: int
    terms: DeclarationTerms
    details: tuple[str, str, str, str, str]  # title, first name, last name, house, postcode


def _chunks(rows: Iterable[tuple[Any, ...]], size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# the gift's own declaration (made when giving), read with the gift in one LEFT JOIN
OWN_FIELDS = tuple(f"gift_aid_declaration__{name}" for name in DECLARATION_FIELDS)


def _declared(row: tuple[Any, ...]) -> _Declared:
    pk, donation_id, donor_key, scope, declared_on, cancelled_on, *details = row
    return _Declared(
        pk,
        DeclarationTerms(
            scope=rules.Scope(scope),
            declared_on=declared_on,
            donation_id=donation_id,
            cancelled_on=cancelled_on,
            donor_key=donor_key,
            last_name=details[2],
        ),
        (details[0], details[1], details[2], details[3], details[4]),
    )


def assess_gifts(gifts: QuerySet[Donation], *, today: dt.date, config: ClaimSettings) -> Iterator[Assessed]:
    """Each gift with the claim's decision on it, a chunk at a time. A gift's own declaration always covers it
    (`rules.declaration_covers`), so it comes with the gift (a join); the donor's other declarations, by email key,
    are read in one query a chunk for the gifts that have none."""
    passes: dict[tuple[str, str, str, str, str], bool] = {}
    width = len(GIFT_FIELDS)
    for chunk in _chunks(gifts.values_list(*GIFT_FIELDS, *OWN_FIELDS).iterator(chunk_size=CHUNK)):
        own = {row[0]: _declared(row[width:]) for row in chunk if row[width] is not None}
        keys = {rules.email_key(row[5] or "") for row in chunk if row[0] not in own} - {""}
        by_key: dict[str, list[_Declared]] = defaultdict(list)
        if keys:
            rows = Declaration.objects.filter(donor_key__in=keys).order_by("id").values_list(*DECLARATION_FIELDS)
            for row in rows:
                by_key[row[2]].append(_declared(row))
        for row in chunk:
            yield _assess(row[:width], own, by_key, passes, today=today, config=config)


def _assess(
    row: tuple[Any, ...],
    own: dict[int, _Declared],
    by_key: dict[str, list[_Declared]],
    passes: dict[tuple[str, str, str, str, str], bool],
    *,
    today: dt.date,
    config: ClaimSettings,
) -> Assessed:
    pk, child_id, amount, refunded, status, email, name, received_on, reference, batch_description = row
    facts = GiftFacts(amount_pence=int(amount) - int(refunded), received_on=received_on)
    mine = own.get(pk)
    candidates = [mine] if mine is not None else by_key.get(rules.email_key(email or ""), [])
    covering = None
    cancelled = False
    for declared in candidates:
        kwargs: dict[str, Any] = {
            "donation_id": pk,
            "received_on": received_on,
            "donor_email": email or "",
            "donor_name": name or "",
        }
        if rules.declaration_covers(declared.terms, **kwargs):
            covering = declared
            break
        if declared.terms.cancelled_on is not None and rules.declaration_covers(
            replace(declared.terms, cancelled_on=None), **kwargs
        ):
            cancelled = True
    details_pass = False
    if covering is not None:
        if covering.details not in passes:
            title, first, last, house, postcode = covering.details
            passes[covering.details] = claim_rules.donor_details_pass(
                title=title, first_name=first, last_name=last, house=house, postcode=postcode, today=today
            )
        details_pass = passes[covering.details]
    sponsored = is_sponsored(reference, batch_description)
    deadline = config.deadline(received_on)
    candidate = claim_rules.Candidate(
        amount_pence=facts.amount_pence,
        received_on=received_on,
        reversed=status in REVERSED,
        eligible=rules.gift_eligibility(facts).eligible,
        covered=covering is not None,
        cancelled_declaration=cancelled,
        details_pass=details_pass,
        sponsored=sponsored,
    )
    decision = claim_rules.classify(
        candidate, deadline=deadline, today=today, aggregation_max_pence=config.aggregation_max_pence
    )
    return Assessed(
        donation_id=pk,
        child_id=int(child_id),
        amount_pence=facts.amount_pence,
        received_on=received_on,
        decision=decision,
        declaration_id=covering.pk if covering is not None else None,
        sponsored=sponsored,
        deadline=deadline,
    )


# --- what finance officers read ---------------------------------------------------------------------------------


def _require(user: Any, perm: str = "giftaid.view_claim") -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm(perm):
        raise PermissionDeniedError("Gift Aid claims are for finance officers and trustees.")


def claims_for_user(*, user: Any) -> QuerySet[Claim]:
    _require(user)
    return Claim.objects.select_related("created_by", "submitted_by").order_by("-id")


def claim_get_for_user(*, user: Any, claim_id: int) -> Claim:
    _require(user)
    claim = Claim.objects.select_related("created_by", "submitted_by", "paid_by", "rejected_by").filter(pk=claim_id)
    found = claim.first()
    if found is None:
        raise NotFoundError(f"claim: there is no Gift Aid claim {claim_id}.", field="claim")
    return found


def claims_to_act_on_for_user(*, user: Any) -> list[tuple[Claim, str]]:
    """The claims waiting for this person, with what to do: a draft someone else made to confirm as filed, a
    submitted claim someone else made whose payment (or rejection) to record. Empty for anyone without the rights."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm("giftaid.view_claim"):
        return []
    out: list[tuple[Claim, str]] = []
    others = Claim.objects.exclude(created_by_id=user.pk).order_by("id")
    if user.has_perm("giftaid.submit_claim"):
        out += [(c, "submit") for c in others.filter(state=ClaimState.DRAFT)[:20]]
    if user.has_perm("giftaid.record_claim_outcome"):
        out += [(c, "paid") for c in others.filter(state=ClaimState.SUBMITTED)[:20]]
    return out


def left_out_of(claim: Claim, *, limit: int | None = None) -> list[dict[str, Any]]:
    """What the claim left out and why, in gift order: [{"donation", "reason", "words"}] (the first `limit`)."""
    rows = LeftOutGift.objects.filter(claim=claim).order_by("donation_id").values_list("donation_id", "reason")
    if limit is not None:
        rows = rows[:limit]
    return [
        {"donation": pk, "reason": reason, "words": claim_rules.LEFT_OUT_WORDS[claim_rules.LeftOutReason(reason)]}
        for pk, reason in rows
    ]


def left_out_count(claim: Claim) -> int:
    return LeftOutGift.objects.filter(claim=claim).count()


def claim_summary(claim: Claim, *, with_left_out: bool = True) -> dict[str, Any]:
    """The JSON shape of `carefund giftaid claim show N --json`."""
    summary: dict[str, Any] = {
        "claim": claim.pk,
        "state": claim.state,
        "period_end": claim.period_end.isoformat(),
        "gifts": claim.gifts_count,
        "amount_pence": claim.amount_pence,
        "gift_aid_pence": claim.gift_aid_pence,
        "aggregated_lines": claim.aggregated_lines,
        "lines": claim.lines_count,
        "previously_overclaimed_pence": claim.overclaimed_pence,
        "gasds_donations_pence": claim.gasds_donations_pence,
        "gasds_pence": claim.gasds_pence,
        "expected_pence": claim.expected_pence,
        "hmrc_reference": claim.hmrc_reference,
        "paid_pence": claim.paid_pence,
        "paid_on": claim.paid_on.isoformat() if claim.paid_on else None,
    }
    if with_left_out:
        summary["left_out"] = [{"donation": r["donation"], "reason": r["reason"]} for r in left_out_of(claim)]
    return summary


@dataclass(frozen=True)
class DeadlineWarning:
    donation_id: int
    received_on: dt.date
    deadline: dt.date
    gift_aid_pence: int


def deadlines_near_for_user(*, user: Any, today: dt.date | None = None) -> list[DeadlineWarning]:
    """Unclaimed gifts that a claim would take whose claim deadline is within the warning window (90 days)."""
    _require(user)
    today = today or clock.today()
    config = ClaimSettings.current()
    # a deadline in [today, today + window] means a period end in that window moved back deadline_years
    earliest_end = claim_rules.add_years(today, -config.deadline_years)
    window_end = today + dt.timedelta(days=claim_rules.DEADLINE_WARNING_DAYS)
    latest_end = claim_rules.add_years(window_end, -config.deadline_years)
    gifts = unclaimed_gifts(received_by=latest_end, received_from=claim_rules.add_years(earliest_end, -1))
    out = []
    for a in assess_gifts(gifts, today=today, config=config):
        if a.decision.placement is not None and claim_rules.is_deadline_near(a.deadline, today=today):
            out.append(
                DeadlineWarning(a.donation_id, a.received_on, a.deadline, rules.gift_aid_due_pence(a.amount_pence))
            )
    return out


# --- claimed and paid Gift Aid, for the public pages and each child's totals ---------------------------------------


@dataclass(frozen=True)
class GiftAidClaimed:
    """Gift Aid on gifts in claims: `claimed` submitted to HMRC and not yet paid, `paid` received from HMRC (both
    less any Gift Aid given back after a refund)."""

    claimed_pence: int
    paid_pence: int


def _claimed(filter_q: Q) -> GiftAidClaimed:
    rows = (
        ClaimGift.objects.filter(filter_q, active=True, scheme=Scheme.GIFT_AID)
        .filter(claim__state__in=[ClaimState.SUBMITTED, ClaimState.PAID])
        .values("claim__state")
        .annotate(total=Sum(F("gift_aid_pence") - F("repaid_pence")))
    )
    totals = {r["claim__state"]: int(r["total"] or 0) for r in rows}
    return GiftAidClaimed(totals.get(ClaimState.SUBMITTED, 0), totals.get(ClaimState.PAID, 0))


def gift_aid_claimed_for_campaign(*, campaign_id: int) -> GiftAidClaimed:
    return _claimed(Q(donation__campaign_id=campaign_id))


def gift_aid_claimed_for_child(*, child_id: int) -> GiftAidClaimed:
    return _claimed(Q(child_id=child_id))


@dataclass(frozen=True)
class GiftAidSplit:
    """A campaign's Gift Aid as the public page and the JSON API show it, each penny in one part: `to_claim` on
    declared gifts in no submitted claim yet, `claimed` submitted to HMRC and awaiting payment, `paid` received from
    HMRC (both less any Gift Aid given back after a refund)."""

    to_claim_pence: int
    claimed_pence: int
    paid_pence: int

    @property
    def total_pence(self) -> int:
        return self.to_claim_pence + self.claimed_pence + self.paid_pence


def gift_aid_split(*, due_pence: int, claimed: GiftAidClaimed) -> GiftAidSplit:
    """The split of `due_pence`, all the Gift Aid on a campaign's declared gifts (`selectors.
    gift_aid_due_for_campaign`, claimed or not), given what claims hold of it: the rest is still to claim."""
    in_claims = claimed.claimed_pence + claimed.paid_pence
    return GiftAidSplit(max(0, int(due_pence) - in_claims), claimed.claimed_pence, claimed.paid_pence)


def gift_aid_split_for_campaign(*, campaign_id: int) -> GiftAidSplit:
    from carefund.giftaid.selectors import gift_aid_due_for_campaign

    return gift_aid_split(
        due_pence=gift_aid_due_for_campaign(campaign_id=campaign_id),
        claimed=gift_aid_claimed_for_campaign(campaign_id=campaign_id),
    )
