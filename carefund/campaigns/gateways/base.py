"""The payment gateway interface: typed requests and responses, and the errors a gateway may raise."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckoutSession:
    session_id: str
    redirect_url: str


@dataclass(frozen=True)
class GatewayEvent:
    """A verified provider event, Stripe-shaped: `data_object` is `event.data.object`. `fee_pence` is the
    provider's fee for a completed checkout when the gateway looked it up after verification (never read from the
    body); None when it is not known."""

    event_id: str
    type: str
    created: int
    data_object: dict[str, Any]
    fee_pence: int | None = None


class PaymentGateway(Protocol):
    name: str

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession: ...

    def verify_webhook(self, *, payload: bytes, signature_header: str) -> GatewayEvent:
        """Verify and parse the raw body; a gateway may add what it learns from the provider (the fee). Never a
        network failure: a lookup that fails leaves the extra field None."""
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
    try:
        body = json.loads(text)
    except ValueError:
        raise WebhookVerificationError("body is not valid JSON.") from None
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
