"""Payouts: money the payment provider moved from its clearing balance into the bank. Posted only when the clearing
account covers it; one it cannot cover is held for a finance officer, never posted blind."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from carefund.campaigns.models import Payout
from carefund.campaigns.rules import is_whole
from carefund.campaigns.services._base import require_perm
from carefund.core import clock
from carefund.core.errors import ConflictError, NotFoundError, ValidationError
from carefund.core.money import format_pence
from carefund.core.services import audit_record
from carefund.ledger import chart
from carefund.ledger.models import Account, TransactionKind
from carefund.ledger.selectors import account_balance_pence
from carefund.ledger.services import PostingSpec, ledger_post


def _clearing_covers(gateway: str, amount_pence: int) -> tuple[bool, int]:
    """Whether the gateway's clearing account holds at least `amount_pence`, read with the account's row locked (so
    two payouts cannot both spend the same balance); and the balance read."""
    name = chart.clearing_account(gateway)
    Account.objects.select_for_update().filter(name=name).first()
    balance = account_balance_pence(name=name)
    return balance >= amount_pence, balance


def _post(payout: Payout, actor: Any) -> Payout:
    payout.ledger_transaction = ledger_post(
        kind=TransactionKind.ADJUSTMENT,
        postings=[
            PostingSpec(account=chart.BANK, amount_pence=payout.amount_pence),
            PostingSpec(account=chart.clearing_account(payout.gateway), amount_pence=-payout.amount_pence),
        ],
        memo=f"Payout {payout.payout_id} from {payout.gateway} to the bank",
        on_date=payout.arrived_on,
        idempotency_key=f"payout-{payout.gateway}-{payout.payout_id}"[:200],
        actor=actor,
        metadata={"payout_id": payout.payout_id},
    )
    return payout


@transaction.atomic
def payout_record(*, payout_id: str, gateway: str, amount_pence: int, arrived_on: dt.date, actor: Any = None) -> Payout:
    """The provider paid money from its clearing balance into the bank: Dr bank / Cr clearing, once per payout. A
    payout larger than the clearing account holds (carefund has not seen gifts it pays out, or the event is wrong)
    is recorded as held (no ledger transaction) and audited, for a finance officer (`payout_release`)."""
    if not is_whole(amount_pence) or amount_pence <= 0:
        raise ValidationError(f"amount: a payout must be more than zero pence, got {amount_pence!r}.", field="amount")
    if not payout_id:
        raise ValidationError("payout: the payout has no id.", field="payout")
    existing = Payout.objects.filter(payout_id=payout_id).first()
    if existing is not None:
        if (existing.gateway, existing.amount_pence) != (gateway, amount_pence):
            raise ValidationError(f"payout: {payout_id} was recorded with a different amount.", field="payout")
        return existing
    payout = Payout(
        payout_id=payout_id[:255],
        gateway=gateway,
        amount_pence=amount_pence,
        arrived_on=arrived_on,
        recorded_at=clock.now(),
    )
    covered, balance = _clearing_covers(gateway, amount_pence)
    if covered:
        _post(payout, actor)
    payout.save()
    audit_record(
        actor=actor,
        action="payout.record" if covered else "payout.held",
        target=payout,
        summary=f"{amount_pence} pence"
        if covered
        else f"held: {format_pence(amount_pence)} is more than the clearing account holds ({format_pence(balance)})",
    )
    return payout


@transaction.atomic
def payout_release(*, payout_id: str, actor: Any) -> Payout:
    """A finance officer posts a held payout once the clearing account covers it (the gifts it paid out are now
    confirmed, for instance by the sweep). Still not covered: a ConflictError saying by how much."""
    require_perm(actor, "campaigns.record_fee", "release a held payout")
    payout = Payout.objects.select_for_update().filter(payout_id=payout_id).first()
    if payout is None:
        raise NotFoundError(f"payout: no payout {payout_id}.", field="payout")
    if payout.ledger_transaction_id is not None:
        raise ConflictError(f"payout {payout_id} is posted already.")
    covered, balance = _clearing_covers(payout.gateway, payout.amount_pence)
    if not covered:
        raise ConflictError(
            f"payout {payout_id} of {format_pence(payout.amount_pence)} is still more than the clearing account holds "
            f"({format_pence(balance)}); find the gifts it paid out first (the provider's payout report), or ask the "
            "provider."
        )
    _post(payout, actor)
    payout.save(update_fields=["ledger_transaction"])
    audit_record(actor=actor, action="payout.release", target=payout, summary=f"{payout.amount_pence} pence")
    return payout
