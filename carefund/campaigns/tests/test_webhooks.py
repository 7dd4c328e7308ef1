"""The webhook endpoint with payloads the test signs itself, verified by stripe's own code."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.core import mail
from django.db import DatabaseError
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from carefund.campaigns import services
from carefund.campaigns.gateways.test import event_payload, sign_payload
from carefund.campaigns.models import Donation, WebhookEvent
from carefund.campaigns.tests.factories import (
    SECRET,
    completed_event,
    deliver,
    make_campaign,
    make_pending,
    refund_event,
)
from carefund.ledger import chart
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

pytestmark = pytest.mark.django_db(transaction=False)


def _nothing_written() -> None:
    assert WebhookEvent.objects.count() == 0
    assert Transaction.objects.count() == 0


@pytest.fixture
def gift() -> Donation:
    return make_pending(make_campaign(), amount_pence=2500)


def test_valid_checkout_confirms_once(gift: Donation, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    payload = completed_event(gift, event_id="evt_1", fee_pence=58)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(payload)
    assert (response.status_code, response.json()) == (200, {"outcome": f"gift #{gift.pk} confirmed"})
    again = deliver(payload)
    assert (again.status_code, again.json()) == (200, {"outcome": "duplicate event evt_1: already handled"})
    gift.refresh_from_db()
    assert gift.status == "succeeded"
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2500
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 2500 - 58
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 58
    assert Transaction.objects.count() == 1 and WebhookEvent.objects.count() == 1
    assert len(mail.outbox) == 1


def test_same_gift_under_a_new_event_id_posts_nothing_more(gift: Donation) -> None:
    assert deliver(completed_event(gift, event_id="evt_a")).status_code == 200
    assert deliver(completed_event(gift, event_id="evt_b")).status_code == 200
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2500
    assert Transaction.objects.count() == 1


def test_forged_signature_is_400(gift: Donation) -> None:
    response = deliver(completed_event(gift), secret="whsec_forger")
    assert response.status_code == 400
    assert response.json()["outcome"].startswith("unverified: signature")
    _nothing_written()


def test_stale_timestamp_is_400(gift: Donation) -> None:
    response = deliver(completed_event(gift), timestamp=int(time.time()) - 301)
    assert response.status_code == 400
    assert "unverified" in response.json()["outcome"]
    _nothing_written()


def test_tampered_body_is_400(gift: Donation, client) -> None:  # type: ignore[no-untyped-def]
    payload = completed_event(gift)
    header = sign_payload(payload, secret=SECRET)
    tampered = payload.replace(b'"amount_total":2500', b'"amount_total":25')
    assert tampered != payload
    response = client.post(
        "/webhooks/stripe/", data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    _nothing_written()


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b"\xff\xfe\x00", b'{"id": "evt_x"}', b"[]", b'{"id":1,"type":"x","data":{"object":{}}}'],
)
def test_garbled_body_is_400_even_when_signed(body: bytes, client) -> None:  # type: ignore[no-untyped-def]
    header = sign_payload(body, secret=SECRET)
    response = client.post(
        "/webhooks/stripe/", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    _nothing_written()


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=zz", "v1=deadbeef"])
def test_missing_or_garbled_header_is_400(gift: Donation, header: str, client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/webhooks/stripe/", data=completed_event(gift), content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    _nothing_written()


def test_get_is_405(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/webhooks/stripe/").status_code == 405


def test_checkout_never_created_is_400(gift: Donation) -> None:
    payload = completed_event(gift, session_id="cs_test_made_up")
    response = deliver(payload)
    assert response.status_code == 400
    assert response.json()["outcome"] == "session: this checkout was not created by carefund for that gift."
    other = event_payload(
        event_type="checkout.session.completed",
        data_object={"id": "cs_x", "amount_total": 100, "metadata": {"donation_id": "999999"}},
    )
    assert deliver(other).status_code == 400
    no_id = event_payload(event_type="checkout.session.completed", data_object={"id": "cs_x", "amount_total": 100})
    assert deliver(no_id).status_code == 400
    gift.refresh_from_db()
    assert gift.status == "pending"
    _nothing_written()


def test_wrong_amount_is_400(gift: Donation) -> None:
    response = deliver(completed_event(gift, amount_total=100))
    assert response.status_code == 400
    assert response.json()["outcome"] == "amount_total: the provider took 100 pence but the gift was for 2500 pence."
    _nothing_written()


def test_amount_not_a_number_is_400(gift: Donation) -> None:
    payload = json.loads(completed_event(gift))
    payload["data"]["object"]["amount_total"] = "2500"
    body = json.dumps(payload).encode()
    assert deliver(body).status_code == 400
    _nothing_written()


def test_unknown_verified_type_is_200_and_recorded() -> None:
    response = deliver(event_payload(event_type="customer.created", event_id="evt_cust", data_object={"id": "cus_1"}))
    assert (response.status_code, response.json()) == (
        200,
        {"outcome": "event type customer.created not handled by carefund"},
    )
    assert list(WebhookEvent.objects.values_list("event_id", "type")) == [("evt_cust", "customer.created")]
    assert Transaction.objects.count() == 0


def test_refund_before_payment_is_409_then_applies_after(gift: Donation) -> None:
    """Out of order: the refund is refused with 409 (not recorded), so the provider retries; once the payment
    has arrived the retried refund applies."""
    refund = refund_event(gift, event_id="evt_refund")
    first = deliver(refund)
    assert first.status_code == 409
    assert "not confirmed yet" in first.json()["outcome"]
    _nothing_written()
    assert deliver(completed_event(gift, event_id="evt_pay")).status_code == 200
    retried = deliver(refund)
    assert (retried.status_code, retried.json()) == (200, {"outcome": f"gift #{gift.pk} refunded"})
    gift.refresh_from_db()
    assert gift.status == "refunded"
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 0
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 0
    assert deliver(refund).json() == {"outcome": "duplicate event evt_refund: already handled"}


def test_refund_for_unknown_charge_is_409() -> None:
    payload = event_payload(event_type="charge.refunded", data_object={"id": "ch_1", "payment_intent": "pi_unknown"})
    assert deliver(payload).status_code == 409
    _nothing_written()


def test_dispute_reverses(gift: Donation) -> None:
    deliver(completed_event(gift))
    dispute = event_payload(
        event_type="charge.dispute.created",
        data_object={"id": "dp_1", "object": "dispute", "payment_intent": f"pi_test_{gift.pk}", "amount": 2500},
    )
    response = deliver(dispute)
    assert (response.status_code, response.json()) == (200, {"outcome": f"gift #{gift.pk} disputed"})
    gift.refresh_from_db()
    assert gift.status == "disputed"
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 0


def test_database_failure_mid_post_leaves_nothing_and_retry_succeeds(gift: Donation, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The database fails after the gift's ledger transaction is written, before the gift is marked confirmed:
    everything rolls back (the event too), the provider gets a 503 and retries, and the retry posts once."""
    real_audit = services.audit_record

    def failing_audit(**kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("action") == "donation.succeeded":
            assert Transaction.objects.count() == 1  # the ledger transaction was written in this transaction
            raise DatabaseError("disk I/O error")
        return real_audit(**kwargs)

    monkeypatch.setattr(services, "audit_record", failing_audit)
    payload = completed_event(gift, event_id="evt_db", fee_pence=58)
    response = deliver(payload)
    assert response.status_code == 503
    gift.refresh_from_db()
    assert gift.status == "pending"
    _nothing_written()
    monkeypatch.setattr(services, "audit_record", real_audit)
    assert deliver(payload).status_code == 200
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2500
    assert Transaction.objects.count() == 1


def test_test_gateway_events_refused_when_stripe_is_live(gift: Donation, settings) -> None:  # type: ignore[no-untyped-def]
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_real"
    assert deliver(completed_event(gift)).status_code == 400
    _nothing_written()


def test_payout_moves_clearing_to_bank_once(gift: Donation) -> None:
    deliver(completed_event(gift, fee_pence=58))
    payout = event_payload(
        event_type="payout.paid",
        event_id="evt_po",
        data_object={"id": "po_1", "object": "payout", "amount": 2442, "currency": "gbp", "arrival_date": 1790000000},
    )
    assert deliver(payout).json() == {"outcome": "payout po_1 recorded"}
    again = event_payload(event_type="payout.paid", data_object=json.loads(payout)["data"]["object"])
    assert deliver(again).status_code == 200  # same payout under a new event id: recorded once
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 0
    assert account_balance_pence(name=chart.BANK) == 2442
    conflicting = event_payload(event_type="payout.paid", data_object={"id": "po_1", "amount": 9999, "currency": "gbp"})
    assert deliver(conflicting).status_code == 409
    assert account_balance_pence(name=chart.BANK) == 2442


class TestAnyOrderOfEvents(HypothesisTestCase):
    """Payments, refunds and duplicates delivered in any order, with the provider retrying each 409 later, always
    end with the books exact: each child's fund holds exactly the gifts that stand, each posted once."""

    @settings(max_examples=20, deadline=None)
    @given(
        st.lists(st.tuples(st.integers(100, 100_000), st.booleans(), st.integers(1, 3)), min_size=1, max_size=5),
        st.randoms(use_true_random=False),
    )
    def test_any_order(self, gifts: list[tuple[int, bool, int]], rnd: Any) -> None:
        campaign = make_campaign()
        deliveries: list[bytes] = []
        expected = 0
        for i, (amount, refunded, copies) in enumerate(gifts):
            donation = make_pending(campaign, amount_pence=amount)
            deliveries += [completed_event(donation, event_id=f"evt_pay_{i}")] * copies
            if refunded:
                deliveries += [refund_event(donation, event_id=f"evt_refund_{i}")] * copies
            else:
                expected += amount
        rnd.shuffle(deliveries)
        for _ in range(10):  # the provider retries whatever was not accepted
            retry = []
            for payload in deliveries:
                result = services.webhook_receive(
                    payload=payload, signature_header=sign_payload(payload, secret=SECRET)
                )
                assert result.status_code in (200, 409), result
                if result.status_code == 409:
                    retry.append(payload)
            deliveries = retry
            if not deliveries:
                break
        assert deliveries == []
        assert fund_balance_pence(child_id=campaign.child_id) == expected
        assert account_balance_pence(name="Assets:Clearing:TestGateway") == expected
        refunds = sum(1 for _, refunded, _ in gifts if refunded)
        assert Transaction.objects.count() == len(gifts) + refunds
