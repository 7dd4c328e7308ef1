"""Money going back: a refund (in part or whole) or a dispute of a confirmed gift, a dispute the charity won, and the
provider's dispute fees. Each sends `signals.donation_reversed` inside its transaction (giftaid repays Gift Aid)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F

from carefund.campaigns import rules
from carefund.campaigns.models import Campaign, Donation, DonationStatus
from carefund.campaigns.services._base import fee_postings as _fee_postings
from carefund.campaigns.services._base import note_fund_changed as _note_fund_changed
from carefund.campaigns.services.campaigns import sync_target_state as _sync_target_state
from carefund.campaigns.signals import donation_reversed
from carefund.core import clock
from carefund.core.errors import ConflictError, NotFoundError, ValidationError
from carefund.core.money import format_pence
from carefund.core.services import audit_record
from carefund.ledger import chart
from carefund.ledger.errors import FundOverdrawnError
from carefund.ledger.models import TransactionKind
from carefund.ledger.services import PostingSpec, ledger_post, ledger_reverse


@transaction.atomic
def donation_reverse(*, donation_id: int, reason: str, to_status: str, actor: Any = None) -> Donation:
    """Refund or dispute a confirmed gift: a ledger reversal of its gift transaction (the fee stays an expense), or,
    after a dispute the charity won, of the money the provider gave back (`_reverse_reinstated`)."""
    donation = Donation.objects.select_for_update().select_related("campaign").filter(pk=donation_id).first()
    if donation is None:
        raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
    if donation.status in (DonationStatus.REFUNDED, DonationStatus.DISPUTED):
        return donation
    if donation.status != DonationStatus.SUCCEEDED or donation.ledger_transaction is None:
        raise ConflictError(
            f"donation: gift #{donation_id} is not confirmed yet, so it cannot be {to_status}; try again once the "
            "payment is confirmed.",
            field="donation",
        )
    kind = TransactionKind.REFUND if to_status == DonationStatus.REFUNDED else TransactionKind.REVERSAL
    # after a dispute won, the provider's fee was charged once and stays an expense (the money given back holds no
    # fee line, and the dispute's reversal had its fee posted again already)
    fee_in_gift = 0 if donation.reinstated_transaction_id is not None else _fee_in_gift_transaction(donation)
    if donation.reinstated_transaction is not None:
        # its dispute was won and the money posted again: what stands now is that money, so that is what goes out
        reversal = _reverse_reinstated(donation=donation, kind=kind, reason=reason, actor=actor)
    elif donation.refunded_pence:
        # part of it was refunded already (donation_partial_refund): what is left, not a mirror of the gift
        reversal = _reverse_rest_of_gift(donation=donation, kind=kind, reason=reason, actor=actor)
    else:
        try:
            reversal = ledger_reverse(
                transaction=donation.ledger_transaction,
                memo=f"{reason} of gift #{donation.pk}",
                on_date=clock.today(),
                idempotency_key=f"donation-reversal-{donation.pk}",
                actor=actor,
                kind=kind,
            )
        except FundOverdrawnError:
            # The provider has already returned the money, so the refund must be booked whatever the fund holds.
            reversal = _reverse_rest_of_gift(donation=donation, kind=kind, reason=reason, actor=actor)
    fee_kept = None
    if fee_in_gift:
        # The provider keeps its fee on a refund or dispute, and the reversal of the gift's transaction took the fee
        # posted in it back off the expenses: post it again. A fee posted later on its own (donation_fee_record)
        # was not reversed, and stays as it is.
        fee_kept = ledger_post(
            kind=TransactionKind.FEE,
            postings=_fee_postings(donation.gateway, fee_in_gift),
            memo=f"Payment fee kept by the provider on {reason.lower()} of gift #{donation.pk}",
            on_date=clock.today(),
            idempotency_key=f"donation-fee-kept-{donation.pk}",
            group_id=f"donation-{donation.pk}",
            actor=actor,
        )
    donation.status = to_status
    # the transaction that took the money out last (after a dispute won, the dispute's own reversal stays linked
    # from the money given back: its metadata `after`)
    donation.reversal_transaction = reversal
    update = ["status", "reversal_transaction"]
    if fee_kept is not None:
        donation.fee_kept_transaction = fee_kept
        update.append("fee_kept_transaction")
    donation.save(update_fields=update)
    audit_record(actor=actor, action=f"donation.{to_status}", target=donation, summary=reason)
    donation_reversed.send(
        sender=Donation,
        donation=donation,
        # what the donor had not been given back before: the whole gift, less any earlier partial refund
        reversed_pence=donation.total_pence - donation.refunded_pence,
        kind="refund" if to_status == DonationStatus.REFUNDED else "dispute",
        actor=actor,
    )
    _note_fund_changed(donation.campaign.child_id, str(to_status))
    campaign = Campaign.objects.select_for_update().select_related("child").get(pk=donation.campaign_id)
    _sync_target_state(campaign, actor=actor)
    return donation


def _fund_share(*, donation: Donation, lines: dict[str, int], reason: str, actor: Any) -> int:
    """Take what `lines` would give back from the child's fund out of what the fund still holds; the rest is put on
    the general (unrestricted) fund, never on another child's fund, and audited for a finance officer to review.
    Returns what the general fund bears."""
    from carefund.ledger.selectors import fund_balance_pence

    fund_account = chart.child_fund(donation.campaign.child_id)
    owed_by_fund = lines.pop(fund_account, 0)  # positive: what the fund would give back
    from_fund = max(0, min(owed_by_fund, fund_balance_pence(child_id=donation.campaign.child_id)))
    from_general = owed_by_fund - from_fund
    if from_fund:
        lines[fund_account] = from_fund
    if from_general:
        lines[chart.GENERAL_FUND] = lines.get(chart.GENERAL_FUND, 0) + from_general
        audit_record(
            actor=actor,
            action="donation.refund_shortfall",
            target=donation,
            summary=f"{reason} of a gift already spent: the child's fund gave back {from_fund} pence and general "
            f"funds bore {from_general} pence; a finance officer should review it.",
            details={"from_fund_pence": from_fund, "from_general_fund_pence": from_general},
        )
    return from_general


def _partial_refunds_posted(donation: Donation) -> list[Any]:
    from carefund.ledger.models import Transaction

    return list(
        Transaction.objects.filter(
            group_id=f"donation-{donation.pk}",
            kind=TransactionKind.REFUND,
            idempotency_key__startswith=f"donation-partial-refund-{donation.pk}-",
            is_posted=True,
        ).order_by("pk")
    )


def _fee_in_gift_transaction(donation: Donation) -> int:
    """The provider's fee posted in the gift's own transaction (known when the gift was confirmed); 0 when it was
    not known then (none yet, or posted later in a transaction of its own)."""
    from carefund.ledger.selectors import postings_of

    assert donation.ledger_transaction is not None
    return sum(amount for account, amount in postings_of(donation.ledger_transaction) if account == chart.PAYMENT_FEES)


def _reverse_rest_of_gift(*, donation: Donation, kind: str, reason: str, actor: Any) -> Any:
    """Book the refund or dispute of what is left of a gift: the gift's postings reversed, less what its partial
    refunds gave back already; the child's fund gives back what it still holds of that and general funds bear the
    rest (`_fund_share`). The transaction is not an exact reversal, so it is linked to the gift by `refund_of`
    metadata (the fund's first-in-first-out trace settles it against the gift first, docs/ledger.md)."""
    from carefund.ledger.selectors import postings_of

    original = donation.ledger_transaction
    assert original is not None
    lines: dict[str, int] = {}
    for account, amount in postings_of(original):
        lines[account] = lines.get(account, 0) - amount
    for partial in _partial_refunds_posted(donation):
        for account, amount in postings_of(partial):
            lines[account] = lines.get(account, 0) - amount
    memo = f"{reason} of gift #{donation.pk}" + (
        f" (less {format_pence(donation.refunded_pence)} refunded before)" if donation.refunded_pence else ""
    )
    return _post_given_back(
        donation=donation,
        lines=lines,
        kind=kind,
        reason=reason,
        memo=memo,
        key=f"donation-reversal-{donation.pk}",
        refund_of=original.pk,
        actor=actor,
    )


def _post_given_back(
    *,
    donation: Donation,
    lines: dict[str, int],
    kind: str,
    reason: str,
    memo: str,
    key: str,
    refund_of: int,
    actor: Any,
) -> Any:
    """Post `lines` (what goes back to the donor) with the child's fund giving back only what it still holds and
    general funds bearing the rest (`_fund_share`), linked by `refund_of` metadata to the transaction they undo."""
    from_general = _fund_share(donation=donation, lines=lines, reason=reason, actor=actor)
    return ledger_post(
        kind=kind,
        postings=[PostingSpec(account=a, amount_pence=v) for a, v in sorted(lines.items()) if v],
        memo=memo + (f" (already spent: {format_pence(from_general)} borne by general funds)" if from_general else ""),
        on_date=clock.today(),
        idempotency_key=key,
        group_id=f"donation-{donation.pk}",
        actor=actor,
        metadata={"refund_of": refund_of, "borne_by_general_fund_pence": from_general},
    )


def _reverse_reinstated(*, donation: Donation, kind: str, reason: str, actor: Any) -> Any:
    """Book the refund or a second dispute of a gift whose first dispute was won: the exact reversal of the money the
    provider gave back (`donation_dispute_won`), or, where the child's fund has spent it, the same lines with
    general funds bearing what the fund no longer holds (`_fund_share`)."""
    from carefund.ledger.selectors import postings_of

    reinstated = donation.reinstated_transaction
    assert reinstated is not None
    memo = f"{reason} of gift #{donation.pk} after its dispute was won"
    key = f"donation-reversal-after-dispute-{donation.pk}"
    try:
        return ledger_reverse(
            transaction=reinstated, memo=memo, on_date=clock.today(), idempotency_key=key, actor=actor, kind=kind
        )
    except FundOverdrawnError:
        pass  # the provider has returned the money: book it whatever the fund holds
    lines: dict[str, int] = {}
    for account, amount in postings_of(reinstated):
        lines[account] = lines.get(account, 0) - amount
    return _post_given_back(
        donation=donation,
        lines=lines,
        kind=kind,
        reason=reason,
        memo=memo,
        key=key,
        refund_of=reinstated.pk,
        actor=actor,
    )


def donation_dispute_won(*, donation_id: int, actor: Any = None) -> tuple[Donation, bool]:
    """The charity won a dispute of a gift and the provider gave the money back (Stripe:
    `charge.dispute.funds_reinstated`): post back what the dispute took, to where it came from (the dispute's
    reversal the other way round: the child's fund, and the general fund for the costs contribution or for what it
    bore of money already spent), except the provider's fee, which it charged once and which stays an expense; the
    gift stands again (the money raised, Gift Aid and the reconciliation count it). Once: (gift, True) when posted
    now, (gift, False) when it was already. A gift that is not disputed is a ConflictError (the provider retries: its
    dispute may not have arrived yet). The provider's own dispute fee is not modelled."""
    from carefund.ledger.selectors import postings_of

    with transaction.atomic():
        # (not joined to its nullable reversal: PostgreSQL cannot lock the nullable side of an outer join)
        donation = Donation.objects.select_for_update().select_related("campaign").filter(pk=donation_id).first()
        if donation is None:
            raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
        if donation.reinstated_transaction_id is not None:
            return donation, False
        if donation.status != DonationStatus.DISPUTED or donation.reversal_transaction is None:
            raise ConflictError(
                f"donation: gift #{donation_id} is not disputed, so no dispute of it can have been won yet; retry "
                "once its dispute has arrived.",
                field="donation",
            )
        lines: dict[str, int] = {}
        for account, amount in postings_of(donation.reversal_transaction):
            lines[account] = lines.get(account, 0) - amount
        clearing = chart.clearing_account(donation.gateway)
        lines[clearing] = lines.get(clearing, 0) + lines.pop(chart.PAYMENT_FEES, 0)
        reinstated = ledger_post(
            kind=TransactionKind.DONATION,
            postings=[PostingSpec(account=a, amount_pence=v) for a, v in sorted(lines.items()) if v],
            memo=f"Dispute of gift #{donation.pk} won: the money the provider gave back",
            on_date=clock.today(),
            idempotency_key=f"donation-reinstated-{donation.pk}",
            group_id=f"donation-{donation.pk}",
            actor=actor,
            metadata={"reinstates": donation.ledger_transaction_id, "after": donation.reversal_transaction.pk},
        )
        donation.status, donation.reinstated_transaction = DonationStatus.SUCCEEDED, reinstated
        donation.save(update_fields=["status", "reinstated_transaction"])
        audit_record(
            actor=actor, action="donation.dispute_won", target=donation, summary=f"{lines[clearing]} pence back"
        )
        _note_fund_changed(donation.campaign.child_id, "reinstated after a dispute")
        campaign = Campaign.objects.select_for_update().select_related("child").get(pk=donation.campaign_id)
        _sync_target_state(campaign, actor=actor)
    return donation, True


def donation_dispute_fees_record(
    *, donation_id: int, fees: Sequence[tuple[str, int]], gateway: str, actor: Any = None
) -> int:
    """Post the provider's dispute fees of a gift, each once, keyed by its balance transaction: Dr payment fees /
    Cr the gateway's clearing account (a fee given back, negative: the other way), as the provider takes them from
    its balance whatever the dispute's outcome. Returns the pence posted now (0: all posted already). The gift
    notes the net total, which the reconciliation counts."""
    from carefund.ledger.models import Transaction as LedgerTransaction

    with transaction.atomic():
        donation = Donation.objects.select_for_update().filter(pk=donation_id).first()
        if donation is None:
            raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
        posted = 0
        for bt_id, fee in fees:
            key = f"dispute-fee-{gateway}-{bt_id}"[:200]
            if fee == 0 or LedgerTransaction.objects.filter(idempotency_key=key).exists():
                continue
            ledger_post(
                kind=TransactionKind.FEE,
                postings=_fee_postings(gateway, fee),
                memo=f"Dispute fee of {format_pence(abs(fee))} {'given back' if fee < 0 else 'charged'} by {gateway} "
                f"on gift #{donation.pk} ({bt_id})",
                on_date=clock.today(),
                idempotency_key=key,
                group_id=f"donation-{donation.pk}",
                actor=actor,
                metadata={"balance_transaction": bt_id, "dispute_fee_pence": fee},
            )
            posted += fee
        if posted:
            Donation.objects.filter(pk=donation.pk).update(dispute_fees_pence=F("dispute_fees_pence") + posted)
            audit_record(actor=actor, action="donation.dispute_fee", target=donation, summary=f"{posted} pence")
    return posted


@dataclass(frozen=True)
class PartialRefund:
    donation: Donation
    posted_pence: int  # posted by this call: 0 when the provider's running total was posted already
    from_gift_pence: int  # of that, out of the gift to the child (the rest out of the contribution to costs)


def donation_partial_refund(*, donation_id: int, refunded_pence: int, actor: Any = None) -> PartialRefund:
    """The provider refunded part of a confirmed gift: `refunded_pence` is its running total for the charge (Stripe's
    `amount_refunded`), less than the gift's total (a refund of all of it is `donation_reverse`). Posts what is new
    since the total last posted, once: Dr the child's fund and the general fund, shared as the donor shared the gift
    (rules.refund_from_gift_pence) / Cr the gateway's clearing account; the provider keeps its fee. A total already
    posted, or smaller (an older event arriving late), posts nothing. If the child's fund has spent the money,
    general funds bear the rest (audited). The money raised, the Gift Aid due and the reconciliation then count what
    the donor kept."""
    if isinstance(refunded_pence, bool) or not isinstance(refunded_pence, int) or refunded_pence <= 0:
        raise ValidationError(
            f"amount_refunded: expected a whole number of pence above zero, got {refunded_pence!r}.",
            field="amount_refunded",
        )
    with transaction.atomic():
        donation = Donation.objects.select_for_update().select_related("campaign").filter(pk=donation_id).first()
        if donation is None:
            raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
        if donation.status in (DonationStatus.REFUNDED, DonationStatus.DISPUTED):
            return PartialRefund(donation, 0, 0)
        if donation.status != DonationStatus.SUCCEEDED or donation.ledger_transaction is None:
            raise ConflictError(
                f"donation: gift #{donation_id} is not confirmed yet, so it cannot be refunded; try again once the "
                "payment is confirmed.",
                field="donation",
            )
        if refunded_pence > donation.total_pence:
            raise ValidationError(
                f"amount_refunded: {format_pence(refunded_pence)} is more than gift #{donation.pk} took "
                f"({format_pence(donation.total_pence)}); a refund cannot exceed what was charged.",
                field="amount_refunded",
            )
        if refunded_pence == donation.total_pence:
            raise ValidationError(
                f"amount_refunded: {refunded_pence} pence is all of gift #{donation.pk}; that is a full refund.",
                field="amount_refunded",
            )
        if refunded_pence <= donation.refunded_pence:
            return PartialRefund(donation, 0, 0)
        gift_before = donation.refunded_gift_pence
        gift_after = rules.refund_from_gift_pence(
            amount_pence=donation.amount_pence,
            costs_contribution_pence=donation.costs_contribution_pence,
            refunded_pence=refunded_pence,
        )
        posted = refunded_pence - donation.refunded_pence
        from_gift = gift_after - gift_before
        reason = f"Partial refund of gift #{donation.pk}"
        lines = {
            chart.child_fund(donation.campaign.child_id): from_gift,
            chart.GENERAL_FUND: posted - from_gift,
            chart.clearing_account(donation.gateway) if donation.gateway else chart.BANK: -posted,
        }
        from_general = _fund_share(donation=donation, lines=lines, reason=reason, actor=actor)
        ledger_post(
            kind=TransactionKind.REFUND,
            postings=[PostingSpec(account=a, amount_pence=v) for a, v in sorted(lines.items()) if v],
            # memos are read by donors ("what my gift paid for") and finance officers: in pounds
            memo=f"{reason}: {format_pence(posted)} ({format_pence(refunded_pence)} of "
            f"{format_pence(donation.total_pence)} refunded so far)"
            + (f" (already spent: {format_pence(from_general)} borne by general funds)" if from_general else ""),
            on_date=clock.today(),
            idempotency_key=f"donation-partial-refund-{donation.pk}-{refunded_pence}",
            group_id=f"donation-{donation.pk}",
            actor=actor,
            metadata={
                "refund_of": donation.ledger_transaction_id,
                "refunded_so_far_pence": refunded_pence,
                "borne_by_general_fund_pence": from_general,
            },
        )
        donation.refunded_pence, donation.refunded_gift_pence = refunded_pence, gift_after
        donation.save(update_fields=["refunded_pence", "refunded_gift_pence"])
        audit_record(
            actor=actor,
            action="donation.partially_refunded",
            target=donation,
            summary=f"{posted} pence ({refunded_pence} of {donation.total_pence} pence refunded so far)",
        )
        donation_reversed.send(
            sender=Donation, donation=donation, reversed_pence=posted, kind="partial_refund", actor=actor
        )
        _note_fund_changed(donation.campaign.child_id, "partly refunded")
        campaign = Campaign.objects.select_for_update().select_related("child").get(pk=donation.campaign_id)
        _sync_target_state(campaign, actor=actor)
    return PartialRefund(donation, posted, from_gift)


# --- Webhooks ---------------------------------------------------------------------------------------------------
