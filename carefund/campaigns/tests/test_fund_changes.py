"""`WebhookResult.child_ids`: which children's funds an event moved (a gift confirmed, refunded or disputed), so the
web layer can have their funding waterfalls recomputed; the same on the one-by-one and the set-based path, and
empty for anything that moved no fund (a duplicate, a refusal, a payout, an unknown type)."""

from __future__ import annotations

from typing import Any

import pytest

from carefund.campaigns import services
from carefund.campaigns.gateways.base import GatewayEvent
from carefund.campaigns.gateways.test import TestGateway, event_payload
from carefund.campaigns.models import Donation
from carefund.campaigns.tests.factories import SECRET, completed_event, make_campaign, make_pending, refund_event

pytestmark = pytest.mark.django_db

GATEWAY = TestGateway(webhook_secret=SECRET, tolerance_seconds=300)


def _verified(payload: bytes) -> tuple[GatewayEvent, str]:
    return GATEWAY.verify_webhook(payload=payload, signature_header=GATEWAY.sign(payload)), "test"


def _receive(payload: bytes) -> services.WebhookResult:
    return services.webhook_receive(payload=payload, signature_header=GATEWAY.sign(payload), gateway=GATEWAY)


def _changes(result: services.WebhookResult) -> tuple[int, tuple[int, ...], str]:
    return result.status_code, result.child_ids, result.gift_change


def _dispute_event(donation: Donation) -> bytes:
    return event_payload(
        event_type="charge.dispute.created",
        data_object={"id": "dp_1", "object": "dispute", "metadata": {"donation_id": str(donation.pk)}},
    )


def test_a_confirmed_gift_names_its_child_once() -> None:
    gift = make_pending(make_campaign())
    payload = completed_event(gift, event_id="evt_1", fee_pence=58)
    assert _changes(_receive(payload)) == (200, (gift.campaign.child_id,), "confirmed online")
    assert _changes(_receive(payload)) == (200, (), "")  # the duplicate moved nothing


def test_a_gift_already_confirmed_under_a_new_event_id_names_no_child() -> None:
    gift = make_pending(make_campaign())
    assert _receive(completed_event(gift, event_id="evt_a")).child_ids == (gift.campaign.child_id,)
    assert _changes(_receive(completed_event(gift, event_id="evt_b"))) == (200, (), "")


@pytest.mark.parametrize(
    ("make_event", "change"),
    [(refund_event, "refunded"), (_dispute_event, "disputed")],
)
def test_a_refund_or_dispute_names_the_child(make_event: Any, change: str) -> None:
    gift = make_pending(make_campaign())
    _receive(completed_event(gift))
    assert _changes(_receive(make_event(gift))) == (200, (gift.campaign.child_id,), change)
    assert _changes(_receive(make_event(gift))) == (200, (), "")  # already reversed: nothing moved


def test_what_moves_no_fund_names_no_child() -> None:
    gift = make_pending(make_campaign(), amount_pence=2500)
    refused = _receive(completed_event(gift, amount_total=25))
    early_refund = _receive(refund_event(gift))
    _receive(completed_event(gift))
    partial = _receive(refund_event(gift, amount_refunded=100))
    unknown = _receive(event_payload(event_type="customer.created", data_object={"id": "cus_1"}))
    payout = _receive(
        event_payload(
            event_type="payout.paid", data_object={"id": "po_1", "amount": 100, "currency": "gbp", "arrival_date": 0}
        )
    )
    assert [_changes(r) for r in (refused, early_refund, unknown, payout)] == [
        (400, (), ""),
        (409, (), ""),
        (200, (), ""),
        (200, (), ""),
    ]
    # a partial refund moves the child's fund; the same running total again moves nothing
    assert _changes(partial) == (200, (gift.campaign.child_id,), "partly refunded")
    assert _changes(_receive(refund_event(gift, amount_refunded=100))) == (200, (), "")


@pytest.mark.parametrize("together", [True, False])
def test_each_event_of_a_batch_names_its_own_child(together: bool) -> None:
    """Three gifts to two children's campaigns (and a refund after them): the set-based path (completions tried
    together) and the one-by-one path give every event its own child."""
    one, two = make_campaign(target_pence=0), make_campaign(target_pence=0)
    gifts = [make_pending(one), make_pending(two), make_pending(one)]
    completions = [_verified(completed_event(g, event_id=f"evt_{g.pk}")) for g in gifts]
    if together:
        results = services._apply_events([*completions, _verified(refund_event(gifts[1], event_id="evt_refund"))])
    else:
        results = [services._apply_events([event])[0] for event in completions]
        results.append(services._apply_events([_verified(refund_event(gifts[1], event_id="evt_refund"))])[0])
    assert [_changes(r) for r in results] == [
        (200, (one.child_id,), "confirmed online"),
        (200, (two.child_id,), "confirmed online"),
        (200, (one.child_id,), "confirmed online"),
        (200, (two.child_id,), "refunded"),
    ]


def test_a_refused_event_in_a_batch_names_no_child_and_the_others_still_do() -> None:
    campaign = make_campaign(target_pence=0)
    good, bad = make_pending(campaign), make_pending(campaign)
    results = services._apply_events(
        [_verified(completed_event(good, event_id="evt_good")), _verified(completed_event(bad, amount_total=1))]
    )
    assert [_changes(r) for r in results] == [(200, (campaign.child_id,), "confirmed online"), (400, (), "")]


# --- the web views pass the children on (the recomputation itself: funding/tests/test_tasks.py) -------------------


def test_the_webhook_view_asks_for_each_moved_childs_waterfall(monkeypatch: pytest.MonkeyPatch) -> None:
    from carefund.campaigns.tests.factories import deliver
    from carefund.web.campaigns import views

    asked: list[tuple[int, str]] = []
    monkeypatch.setattr(
        views, "waterfall_recompute_after_commit", lambda *, child_id, reason: asked.append((child_id, reason))
    )
    gift = make_pending(make_campaign())
    assert deliver(completed_event(gift, event_id="evt_1")).status_code == 200
    assert deliver(completed_event(gift, event_id="evt_1")).status_code == 200  # a duplicate asks nothing
    assert deliver(refund_event(gift)).status_code == 200
    child = gift.campaign.child_id
    assert asked == [(child, "a gift was confirmed online"), (child, "a gift was refunded")]


def test_a_failed_enqueue_never_fails_the_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import DatabaseError

    from carefund.campaigns.tests.factories import deliver
    from carefund.web.campaigns import views

    def fail(*, child_id: int, reason: str) -> None:
        raise DatabaseError("task table unavailable")

    monkeypatch.setattr(views, "waterfall_recompute_after_commit", fail)
    gift = make_pending(make_campaign())
    response = deliver(completed_event(gift))
    assert (response.status_code, response.json()) == (200, {"outcome": f"gift #{gift.pk} confirmed"})
    gift.refresh_from_db()
    assert gift.status == "succeeded"
