"""`campaigns.signals.donation_reversed`: sent once per refund, partial refund or dispute, inside its transaction,
with what it took back, so that giftaid can repay Gift Aid claimed on the gift without campaigns importing it."""

from __future__ import annotations

from typing import Any

import pytest

from carefund.campaigns import services
from carefund.campaigns.models import Donation, DonationStatus
from carefund.campaigns.signals import donation_reversed
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign, make_pending

pytestmark = pytest.mark.django_db


def _confirmed() -> Donation:
    gift = make_pending(make_campaign(target_pence=5_000_000), amount_pence=2500, costs=100)
    assert deliver(completed_event(gift, fee_pence=58)).status_code == 200
    gift.refresh_from_db()
    return gift


@pytest.fixture
def heard() -> Any:
    calls: list[tuple[int, int, str]] = []

    def receiver(*, donation: Donation, reversed_pence: int, kind: str, **_: Any) -> None:
        calls.append((donation.pk, reversed_pence, kind))

    donation_reversed.connect(receiver, weak=False)
    yield calls
    donation_reversed.disconnect(receiver)


def test_a_partial_refund_then_a_full_refund_each_say_what_they_took_back(heard: list[Any]) -> None:
    gift = _confirmed()
    services.donation_partial_refund(donation_id=gift.pk, refunded_pence=1000)
    services.donation_partial_refund(donation_id=gift.pk, refunded_pence=1000)  # replayed: nothing new
    services.donation_reverse(donation_id=gift.pk, reason="Refund", to_status=DonationStatus.REFUNDED)
    services.donation_reverse(donation_id=gift.pk, reason="Refund", to_status=DonationStatus.REFUNDED)  # replayed
    assert heard == [(gift.pk, 1000, "partial_refund"), (gift.pk, 1600, "refund")]


def test_a_dispute_takes_back_the_whole_gift(heard: list[Any]) -> None:
    gift = _confirmed()
    services.donation_reverse(donation_id=gift.pk, reason="Dispute", to_status=DonationStatus.DISPUTED)
    assert heard == [(gift.pk, 2600, "dispute")]


def test_a_receiver_that_refuses_leaves_the_gift_as_it_was(heard: list[Any]) -> None:
    gift = _confirmed()

    def refuse(**_: Any) -> None:
        raise RuntimeError("refused")

    donation_reversed.connect(refuse, weak=False)
    try:
        with pytest.raises(RuntimeError):
            services.donation_reverse(donation_id=gift.pk, reason="Refund", to_status=DonationStatus.REFUNDED)
    finally:
        donation_reversed.disconnect(refuse)
    gift.refresh_from_db()
    assert gift.status == DonationStatus.SUCCEEDED
    assert gift.reversal_transaction_id is None
