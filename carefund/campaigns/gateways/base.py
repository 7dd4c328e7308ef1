"""The payment gateway interface: typed requests and responses, and the errors a gateway may raise."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from stripe import SignatureVerificationError, WebhookSignature  # bound once: stripe resolves its names lazily

from carefund.core.errors import DomainError


class WebhookVerificationError(DomainError):
    """A webhook whose signature, timestamp or body cannot be trusted (answered with a 400)."""


class GatewayError(DomainError):
    """The payment provider refused or failed a request."""


@dataclass(frozen=True)
class CheckoutRequest:
    donation_id: int
    amount_pence: int  # the whole charge: gift plus any contribution to costs
    description: str
    success_url: str
    cancel_url: str
    donor_email: str = ""


@dataclass(frozen=True)
class CheckoutSession:
    session_id: str
    redirect_url: str


@dataclass(frozen=True)
class GatewayEvent:
    """A verified provider event, Stripe-shaped: `data_object` is `event.data.object`."""

    event_id: str
    type: str
    created: int
    data_object: dict[str, Any]


@dataclass(frozen=True)
class ChargeFee:
    """The provider's fee on one charge paid out, as its payout's listing gives it."""

    payment_intent_id: str
    fee_pence: int


class PaymentGateway(Protocol):
    name: str

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession: ...

    def verify_webhook(self, *, payload: bytes, signature_header: str) -> GatewayEvent:
        """Verify and parse the raw body; asks the provider nothing."""
        ...

    def completed_checkouts(self, *, since: int) -> list[dict[str, Any]]:
        """The checkout sessions completed since the Unix time `since`, as their events' `data.object` would be."""
        ...

    def payout_fees(self, payout_id: str) -> list[ChargeFee]:
        """The fees of the charges a payout paid out."""
        ...


def verify_stripe_signed(*, payload: bytes, signature_header: str, secret: str, tolerance: int) -> GatewayEvent:
    """Verify a Stripe-style signature on the raw body (stripe's own code, which also refuses stale timestamps),
    and only then parse it. Any failure raises WebhookVerificationError."""
    if not secret:
        raise WebhookVerificationError("webhook secret is not configured; set STRIPE_WEBHOOK_SECRET.")
    if not signature_header:
        raise WebhookVerificationError("Stripe-Signature header is missing.")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookVerificationError("body is not UTF-8.") from None
    try:
        WebhookSignature.verify_header(text, signature_header, secret, tolerance)
    except SignatureVerificationError as exc:
        raise WebhookVerificationError(f"signature: {exc.user_message or 'does not verify'}") from None
    # stripe refuses a timestamp older than the tolerance, not one ahead of it: a signature dated in the future
    # would stay replayable until then
    signed_at = [part[2:] for part in signature_header.split(",") if part.startswith("t=")]
    if not signed_at or not signed_at[0].isdigit() or int(signed_at[0]) > time.time() + tolerance:
        raise WebhookVerificationError("signature: its timestamp is ahead of the server's clock.")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # a body nested thousands deep exhausts the parser's recursion
        raise WebhookVerificationError("body is not valid JSON (or nests too deeply).") from None
    try:
        event_id = body["id"]
        event_type = body["type"]
        data_object = body["data"]["object"]
        created = int(body.get("created", 0))
    except (KeyError, TypeError, ValueError):
        raise WebhookVerificationError("body is not a Stripe event (needs id, type and data.object).") from None
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise WebhookVerificationError("event id and type must be non-empty strings.")
    if not isinstance(data_object, dict):
        raise WebhookVerificationError("data.object must be an object.")
    return GatewayEvent(event_id=event_id, type=event_type, created=created, data_object=data_object)
