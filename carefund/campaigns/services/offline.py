"""Offline gifts: cash, cheques, bank transfers and event takings a caseworker or finance officer received, one at
a time or as a batch whose lines add up to its stated total."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from carefund.campaigns import rules
from carefund.campaigns.models import OFFLINE_KINDS, Campaign, CampaignState, Donation, DonationStatus, OfflineBatch
from carefund.campaigns.services._base import gift_postings, new_token, require_perm
from carefund.campaigns.services.giving import after_success
from carefund.core import clock
from carefund.core.errors import ValidationError
from carefund.core.services import audit_record
from carefund.ledger import chart
from carefund.ledger.models import TransactionKind
from carefund.ledger.services import ledger_post


@dataclass(frozen=True)
class OfflineLine:
    amount_pence: int
    kind: str
    donor_name: str = ""
    donor_email: str = ""
    reference: str = ""


def _check_offline(campaign: Campaign, line: OfflineLine, received_on: dt.date) -> None:
    if line.kind not in OFFLINE_KINDS:
        allowed = ", ".join(sorted(k.value for k in OFFLINE_KINDS))
        raise ValidationError(f"kind: {line.kind!r} is not an offline gift kind; use one of {allowed}.", field="kind")
    if not rules.is_whole(line.amount_pence) or line.amount_pence <= 0:
        raise ValidationError(f"amount: must be more than zero, got {line.amount_pence!r} pence.", field="amount_pence")
    if received_on > clock.today():
        raise ValidationError("received_on: a gift cannot be received in the future.", field="received_on")
    if campaign.state == CampaignState.DRAFT:
        raise ValidationError("campaign: publish the campaign before recording gifts to it.", field="campaign")


def _post_offline(
    *, campaign: Campaign, line: OfflineLine, received_on: dt.date, batch: OfflineBatch | None, actor: Any
) -> Donation:
    donation = Donation.objects.create(
        campaign=campaign,
        amount_pence=line.amount_pence,
        status=DonationStatus.SUCCEEDED,
        kind=line.kind,
        donor_name=line.donor_name.strip()[:200],
        donor_email=line.donor_email.strip(),
        reference=line.reference[:100],
        receipt_token=new_token(),
        created_at=clock.now(),
        succeeded_at=clock.now(),
        received_on=received_on,
        batch=batch,
        entered_by=actor,
    )
    txn = ledger_post(
        kind=TransactionKind.DONATION,
        postings=gift_postings(donation, chart.BANK),
        memo=f"Offline gift #{donation.pk} ({line.kind}) to campaign #{campaign.pk}",
        on_date=received_on,
        idempotency_key=f"donation-{donation.pk}",
        group_id=f"offline-batch-{batch.pk}" if batch else f"donation-{donation.pk}",
        actor=actor,
        metadata={"donation_id": donation.pk, "entered_by": actor.pk},
    )
    donation.ledger_transaction = txn
    donation.save(update_fields=["ledger_transaction"])
    audit_record(actor=actor, action="donation.record_offline", target=donation, summary=f"{line.amount_pence} pence")
    return donation


@transaction.atomic
def donation_record_offline(
    *,
    campaign: Campaign,
    amount_pence: int,
    kind: str,
    received_on: dt.date,
    donor_name: str = "",
    donor_email: str = "",
    reference: str = "",
    actor: Any,
) -> Donation:
    """A caseworker records cash, a cheque, a bank transfer or event takings: Dr bank / Cr the child's fund."""
    require_perm(actor, "campaigns.record_offline_gift", "record offline gifts")
    line = OfflineLine(amount_pence, kind, donor_name, donor_email, reference)
    _check_offline(campaign, line, received_on)
    donation = _post_offline(campaign=campaign, line=line, received_on=received_on, batch=None, actor=actor)
    after_success(donation, actor)
    return donation


@transaction.atomic
def offline_batch_record(
    *,
    campaign: Campaign,
    description: str,
    stated_total_pence: int,
    received_on: dt.date,
    lines: Sequence[OfflineLine],
    actor: Any,
) -> OfflineBatch:
    """Several offline gifts at once; refused unless the lines add up to the stated total exactly."""
    require_perm(actor, "campaigns.record_offline_gift", "record offline gifts")
    if not description.strip():
        raise ValidationError("description: say what the batch is (e.g. 'Sponsored walk, 3 May').", field="description")
    problem = rules.batch_problem(stated_total_pence, [line.amount_pence for line in lines])
    if problem:
        raise ValidationError(problem, field="lines")
    for line in lines:
        _check_offline(campaign, line, received_on)
    batch = OfflineBatch.objects.create(
        campaign=campaign,
        description=description.strip()[:200],
        stated_total_pence=stated_total_pence,
        received_on=received_on,
        entered_by=actor,
        entered_at=clock.now(),
    )
    for i, line in enumerate(lines):
        donation = _post_offline(campaign=campaign, line=line, received_on=received_on, batch=batch, actor=actor)
        after_success(donation, actor, sync_target=i == len(lines) - 1)
    audit_record(actor=actor, action="offline_batch.record", target=batch, summary=f"{len(lines)} lines")
    return batch
