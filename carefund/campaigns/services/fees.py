"""The payment provider's fees: posted with the gift when the event states it (the test gateway), otherwise learnt
from the provider's balance transactions of each payout (Stripe: one listing per payout), or recorded by hand by a
finance officer from the provider's own records when the provider never gives it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from carefund.campaigns import selectors
from carefund.campaigns.gateways import active_gateway
from carefund.campaigns.gateways.base import PaymentGateway
from carefund.campaigns.models import Donation
from carefund.campaigns.rules import is_whole
from carefund.campaigns.services._base import fee_postings, require_perm
from carefund.core import clock
from carefund.core.errors import ConflictError, NotFoundError, ValidationError
from carefund.core.services import audit_record
from carefund.ledger.models import TransactionKind
from carefund.ledger.services import ledger_post


def donation_fee_record(*, donation_id: int, fee_pence: int, actor: Any = None, source: str = "") -> bool:
    """Post the provider's fee of a gift confirmed before its fee was known (Dr payment fees / Cr the gateway's
    clearing account) and note it on the gift; once: a gift that has its fee, or was never confirmed, is left as it
    is (False). A gift refunded or disputed since has its fee posted too: the provider keeps it. `source`: where a
    fee recorded by hand was read (`donation_fee_record_by_hand`); empty when the provider gave it."""
    if not is_whole(fee_pence) or fee_pence < 0:
        raise ValidationError(f"fee: a fee is a whole number of pence, zero or more; got {fee_pence!r}.", field="fee")
    with transaction.atomic():
        donation = Donation.objects.select_for_update().filter(pk=donation_id).first()
        if donation is None:
            raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
        if (
            donation.ledger_transaction_id is None
            or donation.status not in selectors.FEE_STATUSES
            or donation.fee_pence is not None
        ):
            return False
        if fee_pence > donation.total_pence:
            raise ValidationError(
                f"fee: {fee_pence} pence is more than gift #{donation.pk} ({donation.total_pence} pence).", field="fee"
            )
        if fee_pence:
            ledger_post(
                kind=TransactionKind.FEE,
                postings=fee_postings(donation.gateway, fee_pence),
                memo=(
                    f"Payment fee of gift #{donation.pk}, recorded by hand from {source}"[:300]
                    if source
                    else f"Payment fee of gift #{donation.pk}, known after it was confirmed"
                ),
                on_date=clock.today(),
                idempotency_key=f"donation-fee-late-{donation.pk}",
                group_id=f"donation-{donation.pk}",
                actor=actor,
            )
        Donation.objects.filter(pk=donation.pk).update(fee_pence=fee_pence)
        audit_record(
            actor=actor,
            action="donation.fee_recorded_by_hand" if source else "donation.fee_recorded",
            target=donation,
            summary=f"{fee_pence} pence, from {source}"[:300] if source else f"{fee_pence} pence",
        )
    return True


FEE_SOURCE_MAX = 200


@transaction.atomic
def donation_fee_record_by_hand(*, donation_id: int, fee_pence: int, source: str, actor: Any) -> None:
    """A finance officer records the fee of an online gift that the provider never gave carefund (its payouts'
    listings, `payout_fees_record`, did not, and the reconciliation page warns of it), read from the provider's own
    records: `source` says where (its dashboard, a payout report), and is kept in the ledger memo and
    the audit. Posted as a late fee is (Dr payment fees / Cr the gateway's clearing account), once: a fee known
    already, from the provider or by hand, is a conflict, and so is a gift not confirmed, not paid online, or
    confirmed less than `selectors.FEE_OVERDUE` ago (the provider's own figure may still come). A fee mistyped here
    is corrected like any posted entry, by a journal entry (ledger's two-person adjustments)."""
    require_perm(actor, "campaigns.record_fee", "record payment fees")
    source = " ".join(str(source).split())
    if not source:
        raise ValidationError(
            "source: say where the fee comes from, for example the provider's payout report and its date.",
            field="source",
        )
    if len(source) > FEE_SOURCE_MAX:
        raise ValidationError(f"source: at most {FEE_SOURCE_MAX} characters, got {len(source)}.", field="source")
    donation = Donation.objects.filter(pk=donation_id).first()
    if donation is None:
        raise NotFoundError(f"donation: no gift #{donation_id}.", field="donation")
    if donation.ledger_transaction_id is None or donation.status not in selectors.FEE_STATUSES:
        raise ConflictError(f"gift #{donation.pk} is not confirmed: a fee is recorded only for a gift received.")
    if not donation.payment_intent_id:
        raise ConflictError(f"gift #{donation.pk} was not paid online: it has no payment provider's fee.")
    overdue_from = (donation.succeeded_at or clock.now()) + selectors.FEE_OVERDUE
    if overdue_from > clock.now():
        # before then carefund is still asking the provider, whose figure is the one to book
        raise ConflictError(
            f"gift #{donation.pk}'s fee is still being asked from the provider; record it by hand only if it is "
            f"still unknown after {timezone.localtime(overdue_from):%d %B %Y %H:%M}."
        )
    if not donation_fee_record(donation_id=donation.pk, fee_pence=fee_pence, actor=actor, source=source):
        raise ConflictError(f"gift #{donation.pk} already has its fee. Reload the page to see the gifts still without.")


@dataclass(frozen=True)
class PayoutFees:
    listed: int  # charges the provider listed in the payout
    recorded: int  # fees of carefund's gifts posted now
    recorded_pence: int


def payout_fees_record(*, payout_id: str, gateway: PaymentGateway | None = None) -> PayoutFees:
    """Post the fees of the gifts a payout paid out, as the provider lists them (Stripe: the payout's balance
    transactions, one listing call, `StripeGateway.payout_fees`), each once (`donation_fee_record`: a gift that has
    its fee is left as it is; a charge that is not one of carefund's gifts is skipped). Asked outside any database
    transaction: the provider may be slow."""
    gw = gateway or active_gateway()
    listed = gw.payout_fees(payout_id)
    by_intent = dict(
        Donation.objects.filter(gateway=gw.name, payment_intent_id__in=[f.payment_intent_id for f in listed])
        .exclude(payment_intent_id="")
        .values_list("payment_intent_id", "pk")
    )
    recorded = recorded_pence = 0
    for fee in listed:
        donation_id = by_intent.get(fee.payment_intent_id)
        if donation_id is not None and donation_fee_record(donation_id=donation_id, fee_pence=fee.fee_pence):
            recorded += 1
            recorded_pence += fee.fee_pence
    return PayoutFees(listed=len(listed), recorded=recorded, recorded_pence=recorded_pence)
