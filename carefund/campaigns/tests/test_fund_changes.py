"""`signals.gift_fund_changed`: sent when an event moved a child's fund (a gift confirmed, refunded in part or whole,
disputed), so funding recomputes the child's waterfall; never for what moved no fund (a duplicate, a refusal, a
payout, an unknown type)."""

from __future__ import annotations

from typing import Any

import pytest

from carefund.campaigns.gateways.test import event_payload
from carefund.campaigns.models import Donation
from carefund.campaigns.signals import gift_fund_changed
from carefund.campaigns.tests.factories import completed_event, make_campaign, make_pending, receive, refund_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Any:
    calls: list[tuple[int, str]] = []

    def receiver(*, child_id: int, change: str, **_: Any) -> None:
        calls.append((child_id, change))

    gift_fund_changed.connect(receiver, weak=False)
    yield calls
    gift_fund_changed.disconnect(receiver)


def _dispute_event(donation: Donation) -> bytes:
    obj = {"id": "dp_1", "object": "dispute", "currency": "gbp", "metadata": {"donation_id": str(donation.pk)}}
    return event_payload(event_type="charge.dispute.created", data_object=obj)


def test_a_confirmed_gift_names_its_child_once(heard: list[Any]) -> None:
    gift = make_pending(make_campaign())
    payload = completed_event(gift, event_id="evt_1", fee_pence=58)
    assert receive(payload).status_code == receive(payload).status_code == 200  # the second is a duplicate
    assert receive(completed_event(gift, event_id="evt_2")).status_code == 200  # confirmed already: nothing moves
    assert heard == [(gift.campaign.child_id, "confirmed online")]


@pytest.mark.parametrize(("make_event", "change"), [(refund_event, "refunded"), (_dispute_event, "disputed")])
def test_a_refund_or_dispute_names_the_child(heard: list[Any], make_event: Any, change: str) -> None:
    gift = make_pending(make_campaign())
    receive(completed_event(gift))
    receive(make_event(gift))
    receive(make_event(gift))  # already reversed: nothing moved
    assert heard == [(gift.campaign.child_id, "confirmed online"), (gift.campaign.child_id, change)]


def test_what_moves_no_fund_names_no_child(heard: list[Any]) -> None:
    gift = make_pending(make_campaign(), amount_pence=2500)
    assert receive(completed_event(gift, amount_total=25)).status_code == 400
    assert receive(event_payload(event_type="customer.created", data_object={"id": "cus_1"})).status_code == 200
    payout = {"id": "po_1", "amount": 100, "currency": "gbp", "arrival_date": 0}
    assert receive(event_payload(event_type="payout.paid", data_object=payout)).status_code == 200
    assert heard == []
    receive(completed_event(gift))
    receive(refund_event(gift, amount_refunded=100))
    receive(refund_event(gift, amount_refunded=100))  # the same running total again moves nothing
    child = gift.campaign.child_id
    assert heard == [(child, "confirmed online"), (child, "partly refunded")]


def test_funding_recomputes_the_childs_waterfall_after_a_gift(monkeypatch: pytest.MonkeyPatch) -> None:
    from carefund.funding import tasks

    asked: list[tuple[int, str]] = []
    monkeypatch.setattr(
        tasks, "waterfall_recompute_after_commit", lambda *, child_id, reason: asked.append((child_id, reason))
    )
    gift = make_pending(make_campaign())
    receive(completed_event(gift, event_id="evt_1"))
    receive(refund_event(gift))
    child = gift.campaign.child_id
    assert asked == [(child, "a gift was confirmed online"), (child, "a gift was refunded")]
