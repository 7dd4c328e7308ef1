"""The built-in test gateway (no Stripe keys set: the demo). Its checkout page is carefund's own, labelled as a
test; paying there makes a Stripe-shaped event signed with TEST_GATEWAY_WEBHOOK_SECRET that goes through the same
webhook handler (verify, dedupe, dispatch) as Stripe's."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from django.urls import reverse

from carefund.campaigns.gateways.base import (
    ChargeFee,
    CheckoutRequest,
    CheckoutSession,
    GatewayEvent,
    verify_stripe_signed,
)

if TYPE_CHECKING:
    from carefund.campaigns.models import Donation


def sign_payload(payload: bytes, *, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header for `payload` ("t=<unix>,v1=<hex hmac-sha256 of 't.payload'>")."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event_payload(*, event_type: str, data_object: dict[str, Any], event_id: str | None = None) -> bytes:
    """A Stripe-shaped event body."""
    event = {
        "id": event_id or f"evt_test_{secrets.token_hex(12)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": data_object},
    }
    return json.dumps(event, separators=(",", ":")).encode()


def checkout_completed_event(
    donation: Donation, *, fee_pence: int | None, event_id: str | None = None, **changes: Any
) -> bytes:
    """A gift's paid Checkout Session as Stripe sends it back (`changes` replace its fields), in a
    checkout.session.completed event: what the test checkout's "Pay" button sends, and the demo."""
    obj: dict[str, Any] = {
        "id": str(donation.checkout_session_id),
        "object": "checkout.session",
        "amount_total": donation.total_pence,
        "currency": "gbp",
        "payment_status": "paid",
        "payment_intent": f"pi_test_{donation.pk}",
        "client_reference_id": str(donation.pk),
        "metadata": {"donation_id": str(donation.pk)},
    }
    if fee_pence is not None:
        # the test gateway states its fee in the event; Stripe's comes with its payout (StripeGateway.payout_fees)
        obj["carefund_fee_pence"] = fee_pence
    return event_payload(event_type="checkout.session.completed", event_id=event_id, data_object={**obj, **changes})


def charge_refunded_event(donation: Donation, *, amount_refunded: int, event_id: str | None = None) -> bytes:
    """The provider's `charge.refunded` of a gift, with the charge's running total refunded."""
    charge = {
        "id": f"ch_test_{donation.pk}",
        "object": "charge",
        "payment_intent": f"pi_test_{donation.pk}",
        "amount": donation.total_pence,
        "currency": "gbp",
        "amount_refunded": amount_refunded,
        "metadata": {"donation_id": str(donation.pk)},
    }
    return event_payload(event_type="charge.refunded", event_id=event_id, data_object=charge)


class TestGateway:
    name = "test"
    __test__ = False  # not a pytest test class

    def __init__(self, *, webhook_secret: str, tolerance_seconds: int) -> None:
        self._webhook_secret = webhook_secret
        self._tolerance = tolerance_seconds

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        session_id = f"cs_test_{secrets.token_urlsafe(18)}"
        url = reverse("campaigns:test_gateway_checkout", kwargs={"session_id": session_id})
        return CheckoutSession(session_id=session_id, redirect_url=url)

    def sign(self, payload: bytes) -> str:
        return sign_payload(payload, secret=self._webhook_secret)

    def verify_webhook(self, *, payload: bytes, signature_header: str) -> GatewayEvent:
        return verify_stripe_signed(
            payload=payload, signature_header=signature_header, secret=self._webhook_secret, tolerance=self._tolerance
        )

    def completed_checkouts(self, *, since: int) -> list[dict[str, Any]]:
        """None to find: the test checkout page delivers its event itself, at once."""
        return []

    def payout_fees(self, payout_id: str) -> list[ChargeFee]:
        """None to learn: the test gateway states each fee in its checkout's event."""
        return []
