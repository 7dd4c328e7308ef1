"""Gift Aid claim services: create a claim for a period, confirm it was filed with HMRC (a second person, with
HMRC's reference), record HMRC's payment or rejection, and give back the Gift Aid on a claimed gift that is refunded
or disputed. Money moves only through `ledger_post` (docs/giftaid.md "Money"):

| event | postings |
|---|---|
| claim submitted | Gift Aid receivable +expected, owed to HMRC +overclaimed carried, each child's fund -its Gift Aid |
| HMRC pays | bank +paid, receivable -expected, general fund -(paid - expected) when they differ |
| HMRC rejects a submitted claim | the submission undone, less what was given back already |
| a claimed gift refunded or disputed | the child's fund (or general funds where spent) +repay, owed to HMRC -repay |
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from carefund.campaigns.cache import campaign_public_cache_invalidate
from carefund.campaigns.models import Donation, DonationKind, DonationStatus
from carefund.core import clock
from carefund.core.errors import (
    ConflictError,
    FourEyesError,
    NotFoundError,
    PermissionDeniedError,
    StateTransitionError,
    ValidationError,
)
from carefund.core.money import format_pence
from carefund.core.services import audit_record
from carefund.giftaid import claim_rules
from carefund.giftaid.claim_selectors import ClaimSettings, assess_gifts, unclaimed_gifts
from carefund.giftaid.models import Claim, ClaimGift, ClaimState, LeftOutGift, Repayment, Scheme
from carefund.giftaid.rules import gift_aid_due_pence
from carefund.ledger import chart
from carefund.ledger.selectors import fund_balance_pence
from carefund.ledger.services import PostingSpec, account_open, ledger_post

# What the charity owes HMRC: Gift Aid claimed on gifts later refunded or disputed, until a claim carries it.
OVERCLAIMED = "Liabilities:Payable:HMRC-GiftAid-Overclaimed"
REFERENCE_MAX_LENGTH = 40
REASON_MAX_LENGTH = 300


def _require(actor: Any, perm: str, what: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_perm(perm):
        raise PermissionDeniedError(f"you may not {what}; it needs the permission {perm}.", field="actor")


def _locked(claim_id: int) -> Claim:
    claim = Claim.objects.select_for_update().filter(pk=claim_id).first()
    if claim is None:
        raise NotFoundError(f"claim: there is no Gift Aid claim {claim_id}.", field="claim")
    return claim


def _reason(text: str, *, field: str, what: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise ValidationError(f"{what} is required.", field=field)
    if len(text) > REASON_MAX_LENGTH:
        raise ValidationError(f"{what} must be at most {REASON_MAX_LENGTH} characters, not {len(text)}.", field=field)
    return text


def _overclaimed_account() -> str:
    account_open(name=OVERCLAIMED, description="Gift Aid to repay to HMRC on gifts refunded after they were claimed.")
    return OVERCLAIMED


def _take_back(child_amounts: dict[int, int]) -> tuple[list[PostingSpec], int]:
    """Debit lines taking `child_amounts` back from each child's fund, as far as the fund holds it; general funds
    bear the rest (a restricted fund never goes below zero). Returns the lines and what general funds bore."""
    lines: list[PostingSpec] = []
    general = 0
    for child_id, amount in sorted(child_amounts.items()):
        if amount <= 0:
            continue
        from_fund = min(amount, max(0, fund_balance_pence(child_id=child_id)))
        if from_fund:
            lines.append(PostingSpec(chart.child_fund(child_id), from_fund))
        general += amount - from_fund
    if general:
        lines.append(PostingSpec(chart.GENERAL_FUND, general))
    return lines, general


# --- create ---------------------------------------------------------------------------------------------------


@transaction.atomic
def claim_create(*, period_end: dt.date, actor: Any) -> Claim:
    """A draft claim of every gift received by `period_end`, in no claim yet, covered by a valid declaration,
    eligible, not refunded or disputed and within its deadline; small gifts from donors whose details would not pass
    HMRC's schedule aggregated; sponsored-event gifts marked; GASDS collections as their own section; earlier
    overclaims carried. What it leaves out is listed with the reason. Refused, writing nothing, if there is nothing
    to claim."""
    _require(actor, "giftaid.add_claim", "create a Gift Aid claim")
    today = clock.today()
    if period_end > today:
        raise ValidationError(
            f"Period end: {period_end:%d %B %Y} is in the future; choose today or an earlier date.", field="period_end"
        )
    config = ClaimSettings.current()
    claim = Claim.objects.create(period_end=period_end, created_by=actor, created_at=clock.now())
    line = 0
    small: list[claim_rules.SmallGift] = []
    small_rows: dict[int, list[Any]] = {}
    left_out: list[tuple[Any, ...]] = []
    rows: list[tuple[Any, ...]] = []
    for a in assess_gifts(unclaimed_gifts(received_by=period_end), today=today, config=config):
        placement = a.decision.placement
        if placement is None:
            assert a.decision.reason is not None
            left_out.append((claim.pk, a.donation_id, a.decision.reason.value))
        else:
            # the columns of GIFT_COLUMNS, the line (index 8) and aggregated (9) set below
            row = [
                claim.pk,
                a.donation_id,
                Scheme.GIFT_AID.value,
                a.child_id,
                a.declaration_id,
                a.amount_pence,
                gift_aid_due_pence(a.amount_pence),
                connection.ops.adapt_datefield_value(a.received_on),
                None,
                False,
                a.sponsored,
                0,
                True,
            ]
            if placement is claim_rules.Placement.ROW:
                line += 1
                row[8] = line
                rows.append(tuple(row))
            else:
                row[9] = True
                small_rows[a.donation_id] = row
                small.append(
                    claim_rules.SmallGift(
                        a.donation_id, a.amount_pence, a.received_on, config.period_end(a.received_on)
                    )
                )
        if len(rows) >= 5_000:
            _save_rows(rows)
            rows = []
        if len(left_out) >= 5_000:
            _insert(LeftOutGift, LEFT_OUT_COLUMNS, left_out)
            left_out = []
    lines = claim_rules.aggregate(small)
    for aggregated in lines:
        line += 1
        for key in aggregated.keys:
            small_rows[key][8] = line
            rows.append(tuple(small_rows[key]))
    _save_rows(rows)
    _insert(LeftOutGift, LEFT_OUT_COLUMNS, left_out)
    totals = ClaimGift.objects.filter(claim=claim).aggregate(
        n=Count("id"), amount=Sum("amount_pence"), gift_aid=Sum("gift_aid_pence")
    )
    claim.gifts_count = int(totals["n"] or 0)
    claim.amount_pence = int(totals["amount"] or 0)
    claim.gift_aid_pence = int(totals["gift_aid"] or 0)
    claim.lines_count = line
    claim.aggregated_lines = len(lines)
    if line > claim_rules.MAX_CLAIM_RECORDS:
        raise ValidationError(
            f"Period end: the claim would have {line:,} lines, more than HMRC's {claim_rules.MAX_CLAIM_RECORDS:,}; "
            "choose an earlier period end and claim the rest in a second claim.",
            field="period_end",
        )
    if claim.gifts_count:
        first = ClaimGift.objects.filter(claim=claim).order_by("received_on").values_list("received_on", flat=True)
        claim.earliest_donation_date = first.first()
        _gasds(claim, today=today)
        _carry_overclaims(claim)
    if not claim.gifts_count:
        reasons = LeftOutGift.objects.filter(claim=claim).values_list("reason", flat=True)
        counted: dict[str, int] = defaultdict(int)
        for reason in reasons:
            counted[reason] += 1
        why = "; ".join(
            f"{n} left out because {claim_rules.LEFT_OUT_WORDS[claim_rules.LeftOutReason(r)]}"
            for r, n in sorted(counted.items())
        )
        raise ValidationError(
            f"Nothing to claim: no gift received by {period_end:%d %B %Y} and not claimed before can carry Gift Aid"
            + (f" ({why})." if why else "."),
            field="period_end",
        )
    claim.save()
    audit_record(
        actor=actor,
        action="giftaid.claim_create",
        target=claim,
        summary=f"Gift Aid claim to {period_end.isoformat()}: {claim.gifts_count} gifts, "
        f"{format_pence(claim.gift_aid_pence)} Gift Aid",
        details={"gifts": claim.gifts_count, "gift_aid_pence": claim.gift_aid_pence, "lines": claim.lines_count},
    )
    return claim


GIFT_COLUMNS = (
    "claim",
    "donation",
    "scheme",
    "child_id",
    "declaration",
    "amount_pence",
    "gift_aid_pence",
    "received_on",
    "line",
    "aggregated",
    "sponsored",
    "repaid_pence",
    "active",
)
LEFT_OUT_COLUMNS = ("claim", "donation", "reason")


def _insert(model: type[models.Model], fields: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Plain rows (values for the model's `fields`, every column given) written without a model instance each.

    Raw SQL because the ORM cannot write rows without a model instance each: at 10,000 gifts, `bulk_create`'s
    instances and its value-by-value preparation were half the CPU of making a claim (docs/benchmarks.md "Gift Aid
    claims"). On PostgreSQL the rows are streamed with COPY (psycopg's `copy`): at 100,000 gifts one INSERT per row,
    even pipelined, kept the claim waiting 22 s on the database, COPY a fraction of that; elsewhere (SQLite) one
    parameterised INSERT run for them all (`executemany`). The table and columns are the model's own, every value a
    parameter; the database's constraints (a gift in one standing claim only) hold for both."""
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(getattr(meta.get_field(name), "column", name))) for name in fields)
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg's own cursor, so its errors are turned into Django's (IntegrityError) as the wrapper's are
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        values = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({values})", rows)  # noqa: S608


def _conflict(exc: IntegrityError) -> ConflictError:
    return ConflictError(
        "Another Gift Aid claim was being made at the same time and took some of these gifts; try again.",
        field="period_end",
    )


def _save_rows(rows: list[tuple[Any, ...]]) -> None:
    try:
        with transaction.atomic():
            _insert(ClaimGift, GIFT_COLUMNS, rows)
    except IntegrityError as exc:  # another claim took some of these gifts at the same moment
        raise _conflict(exc) from exc


def _save(rows: list[ClaimGift]) -> None:
    try:
        with transaction.atomic():
            ClaimGift.objects.bulk_create(rows, batch_size=1_000)
    except IntegrityError as exc:  # another claim took some of these gifts at the same moment
        raise _conflict(exc) from exc


def _gasds(claim: Claim, *, today: dt.date) -> None:
    """Bucket collections of the claim's tax years, under the Small Donations Scheme, as far as its limits allow:
    £8,000 a tax year and ten times the Gift Aid donations claimed in it; within two years of the tax year's end."""
    collections = (
        Donation.objects.filter(
            kind=DonationKind.BUCKET_COLLECTION,
            status=DonationStatus.SUCCEEDED,
            received_on__isnull=False,
            received_on__lte=claim.period_end,
        )
        .exclude(pk__in=ClaimGift.objects.filter(active=True).values("donation_id"))
        .select_related("campaign")
        .order_by("received_on", "id")
    )
    by_year: dict[dt.date, list[Donation]] = defaultdict(list)
    for gift in collections:
        assert gift.received_on is not None
        year_end = claim_rules.period_end_for(gift.received_on)
        if today <= claim_rules.add_years(year_end, claim_rules.GASDS_DEADLINE_YEARS):
            by_year[year_end].append(gift)
    rows: list[ClaimGift] = []
    for year_end, gifts in sorted(by_year.items()):
        year_start = claim_rules.add_years(year_end, -1) + dt.timedelta(days=1)
        in_year = ClaimGift.objects.filter(active=True, received_on__gte=year_start, received_on__lte=year_end)
        gift_aid = int(in_year.filter(scheme=Scheme.GIFT_AID).aggregate(t=Sum("amount_pence"))["t"] or 0)
        already = int(in_year.filter(scheme=Scheme.GASDS).aggregate(t=Sum("amount_pence"))["t"] or 0)
        room = claim_rules.gasds_claimable_pence(
            small_donations_pence=sum(int(g.amount_pence) for g in gifts),
            gift_aid_donations_pence=gift_aid,
            already_claimed_pence=already,
        )
        for gift in gifts:
            take = min(room, int(gift.amount_pence) - int(gift.refunded_gift_pence))
            if take <= 0:
                break
            assert gift.received_on is not None
            rows.append(
                ClaimGift(
                    claim=claim,
                    donation=gift,
                    scheme=Scheme.GASDS,
                    child_id=gift.campaign.child_id,
                    amount_pence=take,
                    gift_aid_pence=gift_aid_due_pence(take),
                    received_on=gift.received_on,
                )
            )
            room -= take
    _save(rows)
    claim.gasds_donations_pence = sum(r.amount_pence for r in rows)
    claim.gasds_pence = sum(r.gift_aid_pence for r in rows)


def _carry_overclaims(claim: Claim) -> None:
    pending = list(
        Repayment.objects.filter(carried_into__isnull=True, released=False)
        .order_by("id")
        .values_list("id", "amount_pence")
    )
    carried = claim_rules.overclaims_to_carry(pending, gift_aid_pence=claim.gift_aid_pence)
    if carried:
        Repayment.objects.filter(pk__in=carried).update(carried_into=claim)
        claim.overclaimed_pence = sum(p for k, p in pending if k in set(carried))


# --- submit, paid, rejected ---------------------------------------------------------------------------------------


def _stale_gifts(claim: Claim) -> list[int]:
    """Gift Aid gifts of the claim refunded or disputed (in full or part) since it was made."""
    return list(
        ClaimGift.objects.filter(claim=claim, active=True, scheme=Scheme.GIFT_AID)
        .exclude(
            donation__status=DonationStatus.SUCCEEDED,
            amount_pence=F("donation__amount_pence") - F("donation__refunded_gift_pence"),
        )
        .order_by("donation_id")
        .values_list("donation_id", flat=True)[:10]
    )


@transaction.atomic
def claim_submit(*, claim_id: int, hmrc_reference: str, actor: Any) -> Claim:
    """A second person confirms the claim was filed with HMRC and records HMRC's reference: its gifts are locked and
    each child's fund receives the Gift Aid on its gifts, from Gift Aid receivable."""
    _require(actor, "giftaid.submit_claim", "confirm a Gift Aid claim was filed")
    claim = _locked(claim_id)
    if claim.state != ClaimState.DRAFT:
        raise StateTransitionError(
            f"claim {claim.pk} is {claim.get_state_display().lower()}, not a draft; only a draft can be submitted.",
            field="claim",
        )
    if claim.created_by_id == actor.pk:
        raise FourEyesError(
            "A second person must confirm the filing: you made this claim, so another finance officer or a trustee "
            "confirms it.",
            field="actor",
        )
    reference = " ".join((hmrc_reference or "").split())
    if not reference:
        raise ValidationError(
            "HMRC reference is required: the reference Charities Online gave the claim.", field="hmrc_reference"
        )
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise ValidationError(
            f"HMRC reference must be at most {REFERENCE_MAX_LENGTH} characters, not {len(reference)}.",
            field="hmrc_reference",
        )
    stale = _stale_gifts(claim)
    if stale:
        raise ConflictError(
            "Gifts " + ", ".join(f"#{pk}" for pk in stale) + " were refunded or disputed after this claim was made; "
            "reject this draft and create the claim again.",
            field="claim",
        )
    per_child = (
        ClaimGift.objects.filter(claim=claim, active=True).values("child_id").annotate(total=Sum("gift_aid_pence"))
    )
    postings = [PostingSpec(chart.child_fund(int(r["child_id"])), -int(r["total"])) for r in per_child if r["total"]]
    postings.append(PostingSpec(chart.GIFT_AID_RECEIVABLE, claim.expected_pence))
    if claim.overclaimed_pence:
        postings.append(PostingSpec(_overclaimed_account(), claim.overclaimed_pence))
    txn = ledger_post(
        kind="gift_aid",
        postings=postings,
        memo=f"Gift Aid claim {claim.pk} filed with HMRC (reference {reference})",
        on_date=clock.today(),
        idempotency_key=f"giftaid-claim-{claim.pk}-submitted",
        group_id=f"giftaid-claim-{claim.pk}",
        actor=actor,
        metadata={"claim_id": claim.pk, "hmrc_reference": reference},
    )
    claim.state = ClaimState.SUBMITTED
    claim.submitted_by = actor
    claim.submitted_at = clock.now()
    claim.hmrc_reference = reference
    claim.submission_transaction = txn
    claim.save(update_fields=["state", "submitted_by", "submitted_at", "hmrc_reference", "submission_transaction"])
    campaign_public_cache_invalidate(campaign_id=None)
    audit_record(
        actor=actor,
        action="giftaid.claim_submit",
        target=claim,
        summary=f"filed with HMRC, reference {reference}",
        details={"hmrc_reference": reference, "transaction_id": txn.pk},
    )
    return claim


@transaction.atomic
def claim_record_paid(
    *, claim_id: int, paid_pence: int, paid_on: dt.date, actor: Any, difference_reason: str = ""
) -> Claim:
    """HMRC paid the claim: the amount and the date it reached the bank. A difference from what the claim asked for
    needs its reason, and general funds take it (HMRC's letter explains it). Not by the person who made the claim."""
    _require(actor, "giftaid.record_claim_outcome", "record HMRC's payment of a Gift Aid claim")
    claim = _locked(claim_id)
    if claim.state != ClaimState.SUBMITTED:
        raise StateTransitionError(
            f"claim {claim.pk} is {claim.get_state_display().lower()}; only a submitted claim can be paid.",
            field="claim",
        )
    if claim.created_by_id == actor.pk:
        raise FourEyesError("You made this claim, so another finance officer or a trustee records its payment.")
    if isinstance(paid_pence, bool) or not isinstance(paid_pence, int) or paid_pence <= 0:
        raise ValidationError(
            "Amount paid must be more than £0.00 (if HMRC paid nothing, record a rejection).", field="paid"
        )
    assert claim.submitted_at is not None
    filed_on = timezone.localdate(claim.submitted_at)
    if paid_on > clock.today() or paid_on < filed_on:
        raise ValidationError(
            f"Date paid must be between the day the claim was filed ({filed_on:%d %B %Y}) and today.",
            field="paid_on",
        )
    difference = claim_rules.payment_difference(expected_pence=claim.expected_pence, paid_pence=paid_pence)
    reason = ""
    if difference:
        reason = _reason(
            difference_reason,
            field="difference_reason",
            what=f"Reason for the difference (HMRC paid {format_pence(paid_pence)}, the claim asked for "
            f"{format_pence(claim.expected_pence)})",
        )
    postings = [PostingSpec(chart.BANK, paid_pence), PostingSpec(chart.GIFT_AID_RECEIVABLE, -claim.expected_pence)]
    if difference:
        postings.append(PostingSpec(chart.GENERAL_FUND, -difference))
    txn = ledger_post(
        kind="gift_aid",
        postings=postings,
        memo=f"Gift Aid claim {claim.pk} paid by HMRC" + (f" ({reason})" if reason else ""),
        on_date=paid_on,
        idempotency_key=f"giftaid-claim-{claim.pk}-paid",
        group_id=f"giftaid-claim-{claim.pk}",
        actor=actor,
        metadata={"claim_id": claim.pk, "difference_pence": difference},
    )
    claim.state = ClaimState.PAID
    claim.paid_pence, claim.paid_on, claim.paid_by = paid_pence, paid_on, actor
    claim.difference_reason = reason
    claim.payment_transaction = txn
    claim.save(update_fields=["state", "paid_pence", "paid_on", "paid_by", "difference_reason", "payment_transaction"])
    campaign_public_cache_invalidate(campaign_id=None)
    audit_record(
        actor=actor,
        action="giftaid.claim_paid",
        target=claim,
        summary=f"paid {format_pence(paid_pence)} on {paid_on.isoformat()}",
        details={"paid_pence": paid_pence, "difference_pence": difference, "reason": reason},
    )
    return claim


@transaction.atomic
def claim_reject(*, claim_id: int, reason: str, actor: Any) -> Claim:
    """HMRC rejected the claim (or a draft is withdrawn): its gifts return to the pool, the overclaims it carried wait
    for the next claim, and a submitted claim's Gift Aid leaves the children's funds again (less what was given back
    already; general funds bear what a fund has spent)."""
    _require(actor, "giftaid.record_claim_outcome", "reject a Gift Aid claim")
    claim = _locked(claim_id)
    if claim.state not in (ClaimState.DRAFT, ClaimState.SUBMITTED):
        raise StateTransitionError(
            f"claim {claim.pk} is {claim.get_state_display().lower()}; only a draft or a submitted claim can be "
            "rejected.",
            field="claim",
        )
    if claim.state == ClaimState.SUBMITTED and claim.created_by_id == actor.pk:
        raise FourEyesError("You made this claim, so another finance officer or a trustee records its rejection.")
    text = _reason(reason, field="reason", what="Reason for the rejection")
    gifts = ClaimGift.objects.filter(claim=claim, active=True)
    repayments = Repayment.objects.filter(claim_gift__claim=claim)
    if claim.state == ClaimState.SUBMITTED:
        if repayments.filter(carried_into__isnull=False).exclude(carried_into__state=ClaimState.REJECTED).exists():
            raise ConflictError(
                "Gift Aid given back on this claim's gifts was carried into a later claim already; ask HMRC how to "
                "correct both before recording this rejection.",
                field="claim",
            )
        per_child = gifts.values("child_id").annotate(total=Sum(F("gift_aid_pence") - F("repaid_pence")))
        lines, general = _take_back({int(r["child_id"]): int(r["total"]) for r in per_child})
        repaid = int(repayments.aggregate(t=Sum("amount_pence"))["t"] or 0)
        lines.append(PostingSpec(chart.GIFT_AID_RECEIVABLE, -claim.expected_pence))
        # the Gift Aid given back on its gifts is no longer owed (debit), the overclaims it carried are owed again
        owed = repaid - claim.overclaimed_pence
        if owed:
            lines.append(PostingSpec(_overclaimed_account(), owed))
        txn = ledger_post(
            kind="gift_aid",
            postings=lines,
            memo=f"Gift Aid claim {claim.pk} rejected by HMRC: {text}"
            + (f" (already spent: {format_pence(general)} borne by general funds)" if general else ""),
            on_date=clock.today(),
            idempotency_key=f"giftaid-claim-{claim.pk}-rejected",
            group_id=f"giftaid-claim-{claim.pk}",
            actor=actor,
            metadata={"claim_id": claim.pk, "borne_by_general_fund_pence": general},
        )
        claim.rejection_transaction = txn
        repayments.update(released=True)
    Repayment.objects.filter(carried_into=claim).update(carried_into=None)
    gifts.update(active=False)
    claim.state = ClaimState.REJECTED
    claim.rejected_by, claim.rejected_on, claim.rejection_reason = actor, clock.today(), text
    claim.save(update_fields=["state", "rejected_by", "rejected_on", "rejection_reason", "rejection_transaction"])
    campaign_public_cache_invalidate(campaign_id=None)
    audit_record(actor=actor, action="giftaid.claim_reject", target=claim, summary=text, details={"reason": text})
    return claim


# --- a claimed gift refunded or disputed ----------------------------------------------------------------------------


def repay_on_reversal(*, donation: Donation, kind: str, actor: Any = None, **_: Any) -> Repayment | None:
    """Receiver of `campaigns.signals.donation_reversed`, inside the refund's or dispute's transaction: for a gift in
    a submitted or paid claim, post the Gift Aid now to give back to HMRC (from the child's fund, or general funds
    where the fund has spent it) and record it, to be carried into the next claim's "previously overclaimed" cell.
    A gift in a draft claim is caught when the draft is submitted; an unclaimed gift needs nothing."""
    claim_gift = (
        ClaimGift.objects.select_for_update()
        .filter(
            donation_id=donation.pk,
            active=True,
            scheme=Scheme.GIFT_AID,
            claim__state__in=[ClaimState.SUBMITTED, ClaimState.PAID],
        )
        .first()
    )
    if claim_gift is None:
        return None
    kept = int(donation.amount_pence) - int(donation.refunded_gift_pence)
    if donation.status != DonationStatus.SUCCEEDED:
        kept = 0
    repay = claim_rules.gift_aid_to_repay(
        claimed_gift_aid_pence=claim_gift.gift_aid_pence, kept_pence=kept, repaid_pence=claim_gift.repaid_pence
    )
    if not repay:
        return None
    lines, general = _take_back({claim_gift.child_id: repay})
    lines.append(PostingSpec(_overclaimed_account(), -repay))
    spent = f" (already spent: {format_pence(general)} borne by general funds)" if general else ""
    repaid_after = claim_gift.repaid_pence + repay
    txn = ledger_post(
        kind="gift_aid",
        postings=lines,
        memo=f"Gift Aid to repay to HMRC on gift #{donation.pk} ({kind.replace('_', ' ')} after claim "
        f"{claim_gift.claim_id}){spent}",
        on_date=clock.today(),
        idempotency_key=f"giftaid-repay-{claim_gift.pk}-{repaid_after}",
        # the claim's group, not the gift's: Gift Aid is HMRC's money, not the donor's, so `ledger check`'s
        # reconciliation of each gift's postings must not count it (the gift is named in the metadata)
        group_id=f"giftaid-claim-{claim_gift.claim_id}",
        actor=actor,
        metadata={"claim_id": claim_gift.claim_id, "donation_id": donation.pk, "borne_by_general_fund_pence": general},
    )
    repayment = Repayment.objects.create(
        claim_gift=claim_gift,
        amount_pence=repay,
        kind=kind,
        borne_by_general_fund=bool(general),
        transaction=txn,
        created_at=clock.now(),
    )
    claim_gift.repaid_pence = repaid_after
    claim_gift.save(update_fields=["repaid_pence"])
    audit_record(
        actor=actor,
        action="giftaid.repayment",
        target=repayment,
        summary=f"{format_pence(repay)} Gift Aid to repay on gift #{donation.pk} ({kind})",
        details={"donation_id": donation.pk, "claim_id": claim_gift.claim_id, "amount_pence": repay},
    )
    return repayment
