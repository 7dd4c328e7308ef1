"""Money going back: a refund (in part or whole) or a dispute of a confirmed gift, a dispute the charity won, and the
provider's dispute fees. Each sends `signals.donation_reversed` inside its transaction (giftaid repays Gift Aid)."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F

from carefund.campaigns import rules
from carefund.campaigns.models import Campaign, Donation, DonationStatus
from carefund.campaigns.services._base import fee_postings, note_fund_changed
from carefund.campaigns.services.campaigns import sync_target_state
from carefund.campaigns.signals import donation_reversed
from carefund.core import clock
from carefund.core.errors import ConflictError, NotFoundError, ValidationError
from carefund.core.money import format_pence
from carefund.core.services import audit_record
from carefund.ledger import chart
from carefund.ledger.errors import FundOverdrawnError
from carefund.ledger.models import Transaction, TransactionKind
from carefund.ledger.selectors import fund_balance_pence, postings_of
from carefund.ledger.services import PostingSpec, ledger_post, ledger_reverse


def _locked_gift(donation_id: int) -> Donation:
    donation = Donation.objects.select_for_update().select_related("campaign").filter(pk=donation_id).first()
    if donation is None:
        raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
    return donation


def _confirmed_or_retry(donation: Donation, what: str) -> None:
    if donation.status != DonationStatus.SUCCEEDED or donation.ledger_transaction is None:
        raise ConflictError(
            f"donation: gift #{donation.pk} is not confirmed yet, so it cannot be {what}; try again once the "
            "payment is confirmed.",
            field="donation",
        )


def _fund_changed(donation: Donation, change: str, actor: Any) -> None:
    """Tell the apps above that the child's fund moved, and move the campaign in or out of "target reached"."""
    note_fund_changed(donation.campaign.child_id, change)
    sync_target_state(
        Campaign.objects.select_for_update().select_related("child").get(pk=donation.campaign_id), actor=actor
    )


def _negated(*transactions: Transaction) -> dict[str, int]:
    lines: dict[str, int] = defaultdict(int)
    for txn in transactions:
        for account, amount in postings_of(txn):
            lines[account] -= amount
    return lines


def _specs(lines: dict[str, int]) -> list[PostingSpec]:
    return [PostingSpec(account=a, amount_pence=v) for a, v in sorted(lines.items()) if v]


@transaction.atomic
def donation_reverse(*, donation_id: int, reason: str, to_status: str, actor: Any = None) -> Donation:
    """Refund or dispute a confirmed gift: a ledger reversal of its gift transaction (the fee stays an expense), or,
    after a dispute the charity won, of the money the provider gave back."""
    donation = _locked_gift(donation_id)
    if donation.status in (DonationStatus.REFUNDED, DonationStatus.DISPUTED):
        return donation
    _confirmed_or_retry(donation, to_status)
    assert donation.ledger_transaction is not None
    kind = TransactionKind.REFUND if to_status == DonationStatus.REFUNDED else TransactionKind.REVERSAL
    # after a dispute won what stands is the money the provider gave back, so that is what goes out; its fee was
    # charged once and stays an expense (the money given back holds no fee line)
    reinstated = donation.reinstated_transaction
    undone = reinstated or donation.ledger_transaction
    fee_in_gift = 0 if reinstated else sum(a for acc, a in postings_of(undone) if acc == chart.PAYMENT_FEES)
    key = f"donation-reversal-after-dispute-{donation.pk}" if reinstated else f"donation-reversal-{donation.pk}"
    memo = f"{reason} of gift #{donation.pk}" + (" after its dispute was won" if reinstated else "")
    reversal = None
    if reinstated or not donation.refunded_pence:
        # FundOverdrawnError: the provider has already returned the money, so it is booked whatever the fund holds
        with contextlib.suppress(FundOverdrawnError):
            reversal = ledger_reverse(
                transaction=undone, memo=memo, on_date=clock.today(), idempotency_key=key, actor=actor, kind=kind
            )
    if reversal is None:
        # not an exact reversal: what is left of it (less the partial refunds posted before), with the child's fund
        # giving back what it still holds; linked by `refund_of` (the fund's first-in-first-out trace settles it
        # against the gift first, docs/ledger.md)
        partials = [] if reinstated else _partial_refunds_posted(donation)
        if partials:
            memo += f" (less {format_pence(donation.refunded_pence)} refunded before)"
        reversal = _post_given_back(
            donation,
            _negated(undone, *partials),
            kind=kind,
            reason=reason,
            memo=memo,
            key=key,
            refund_of=undone.pk,
            actor=actor,
        )
    donation.status = to_status
    # the transaction that took the money out last (after a dispute won, the dispute's own reversal stays linked
    # from the money given back: its metadata `after`)
    donation.reversal_transaction = reversal
    update = ["status", "reversal_transaction"]
    if fee_in_gift:
        # The provider keeps its fee on a refund or dispute, and the reversal of the gift's transaction took the fee
        # posted in it back off the expenses: post it again. A fee posted later on its own (donation_fee_record)
        # was not reversed, and stays as it is.
        donation.fee_kept_transaction = ledger_post(
            kind=TransactionKind.FEE,
            postings=fee_postings(donation.gateway, fee_in_gift),
            memo=f"Payment fee kept by the provider on {reason.lower()} of gift #{donation.pk}",
            on_date=clock.today(),
            idempotency_key=f"donation-fee-kept-{donation.pk}",
            group_id=f"donation-{donation.pk}",
            actor=actor,
        )
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
    _fund_changed(donation, str(to_status), actor)
    return donation


def _partial_refunds_posted(donation: Donation) -> list[Transaction]:
    return list(
        Transaction.objects.filter(
            group_id=f"donation-{donation.pk}",
            kind=TransactionKind.REFUND,
            idempotency_key__startswith=f"donation-partial-refund-{donation.pk}-",
            is_posted=True,
        ).order_by("pk")
    )


def _post_given_back(
    donation: Donation,
    lines: dict[str, int],
    *,
    kind: str,
    reason: str,
    memo: str,
    key: str,
    refund_of: int | None,
    actor: Any,
    **metadata: int,
) -> Transaction:
    """Post `lines` (what goes back to the donor), linked by `refund_of` metadata to the transaction they undo. The
    child's fund gives back only what it still holds; the rest is put on the general (unrestricted) fund, never on
    another child's fund, and audited for a finance officer to review."""
    fund_account = chart.child_fund(donation.campaign.child_id)
    owed_by_fund = lines.pop(fund_account, 0)  # positive: what the fund would give back
    from_fund = max(0, min(owed_by_fund, fund_balance_pence(child_id=donation.campaign.child_id)))
    from_general = owed_by_fund - from_fund
    lines[fund_account] = from_fund
    if from_general:
        lines[chart.GENERAL_FUND] = lines.get(chart.GENERAL_FUND, 0) + from_general
        memo += f" (already spent: {format_pence(from_general)} borne by general funds)"
        audit_record(
            actor=actor,
            action="donation.refund_shortfall",
            target=donation,
            summary=f"{reason} of a gift already spent: the child's fund gave back {from_fund} pence and general "
            f"funds bore {from_general} pence; a finance officer should review it.",
            details={"from_fund_pence": from_fund, "from_general_fund_pence": from_general},
        )
    return ledger_post(
        kind=kind,
        postings=_specs(lines),
        memo=memo,
        on_date=clock.today(),
        idempotency_key=key,
        group_id=f"donation-{donation.pk}",
        actor=actor,
        metadata={"refund_of": refund_of, **metadata, "borne_by_general_fund_pence": from_general},
    )


def donation_dispute_won(*, donation_id: int, actor: Any = None) -> tuple[Donation, bool]:
    """The charity won a dispute of a gift and the provider gave the money back (Stripe:
    `charge.dispute.funds_reinstated`): post back what the dispute took, to where it came from (the dispute's
    reversal the other way round: the child's fund, and the general fund for the costs contribution or for what it
    bore of money already spent), except the provider's fee, which it charged once and which stays an expense; the
    gift stands again (the money raised, Gift Aid and the reconciliation count it). Once: (gift, True) when posted
    now, (gift, False) when it was already. A gift that is not disputed is a ConflictError (the provider retries: its
    dispute may not have arrived yet). The provider's own dispute fee is not modelled."""
    with transaction.atomic():
        donation = _locked_gift(donation_id)
        if donation.reinstated_transaction_id is not None:
            return donation, False
        if donation.status != DonationStatus.DISPUTED or donation.reversal_transaction is None:
            raise ConflictError(
                f"donation: gift #{donation_id} is not disputed, so no dispute of it can have been won yet; retry "
                "once its dispute has arrived.",
                field="donation",
            )
        lines = _negated(donation.reversal_transaction)
        clearing = chart.clearing_account(donation.gateway)
        lines[clearing] += lines.pop(chart.PAYMENT_FEES, 0)
        reinstated = ledger_post(
            kind=TransactionKind.DONATION,
            postings=_specs(lines),
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
        _fund_changed(donation, "reinstated after a dispute", actor)
    return donation, True


def donation_dispute_fees_record(
    *, donation_id: int, fees: Sequence[tuple[str, int]], gateway: str, actor: Any = None
) -> int:
    """Post the provider's dispute fees of a gift, each once, keyed by its balance transaction: Dr payment fees /
    Cr the gateway's clearing account (a fee given back, negative: the other way), as the provider takes them from
    its balance whatever the dispute's outcome. Returns the pence posted now (0: all posted already). The gift
    notes the net total, which the reconciliation counts."""
    with transaction.atomic():
        donation = _locked_gift(donation_id)
        posted = 0
        for bt_id, fee in fees:
            key = f"dispute-fee-{gateway}-{bt_id}"[:200]
            if fee == 0 or Transaction.objects.filter(idempotency_key=key).exists():
                continue
            ledger_post(
                kind=TransactionKind.FEE,
                postings=fee_postings(gateway, fee),
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


def donation_partial_refund(*, donation_id: int, refunded_pence: int, actor: Any = None) -> PartialRefund:
    """The provider refunded part of a confirmed gift: `refunded_pence` is its running total for the charge (Stripe's
    `amount_refunded`), less than the gift's total (a refund of all of it is `donation_reverse`). Posts what is new
    since the total last posted, once: Dr the child's fund and the general fund, shared as the donor shared the gift
    (rules.refund_from_gift_pence) / Cr the gateway's clearing account; the provider keeps its fee. A total already
    posted, or smaller (an older event arriving late), posts nothing. If the child's fund has spent the money,
    general funds bear the rest (audited). The money raised, the Gift Aid due and the reconciliation then count what
    the donor kept."""
    if not rules.is_whole(refunded_pence) or refunded_pence <= 0:
        raise ValidationError(
            f"amount_refunded: expected a whole number of pence above zero, got {refunded_pence!r}.",
            field="amount_refunded",
        )
    with transaction.atomic():
        donation = _locked_gift(donation_id)
        if donation.status in (DonationStatus.REFUNDED, DonationStatus.DISPUTED):
            return PartialRefund(donation, 0)
        _confirmed_or_retry(donation, "refunded")
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
            return PartialRefund(donation, 0)
        gift_after = rules.refund_from_gift_pence(
            amount_pence=donation.amount_pence,
            costs_contribution_pence=donation.costs_contribution_pence,
            refunded_pence=refunded_pence,
        )
        posted = refunded_pence - donation.refunded_pence
        from_gift = gift_after - donation.refunded_gift_pence
        lines = {
            chart.child_fund(donation.campaign.child_id): from_gift,
            chart.GENERAL_FUND: posted - from_gift,
            chart.clearing_account(donation.gateway) if donation.gateway else chart.BANK: -posted,
        }
        reason = f"Partial refund of gift #{donation.pk}"
        _post_given_back(
            donation,
            lines,
            kind=TransactionKind.REFUND,
            reason=reason,
            # memos are read by donors ("what my gift paid for") and finance officers: in pounds
            memo=f"{reason}: {format_pence(posted)} ({format_pence(refunded_pence)} of "
            f"{format_pence(donation.total_pence)} refunded so far)",
            key=f"donation-partial-refund-{donation.pk}-{refunded_pence}",
            refund_of=donation.ledger_transaction_id,
            actor=actor,
            refunded_so_far_pence=refunded_pence,
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
        _fund_changed(donation, "partly refunded", actor)
    return PartialRefund(donation, posted)
