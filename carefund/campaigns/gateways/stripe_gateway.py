"""Stripe: Checkout Sessions through the `stripe` library, webhooks verified with stripe's own code."""

from __future__ import annotations

import stripe

from carefund.campaigns.gateways.base import (
    CheckoutRequest,
    CheckoutSession,
    GatewayError,
    GatewayEvent,
    verify_stripe_signed,
)


class StripeGateway:
    name = "stripe"

    def __init__(self, *, secret_key: str, webhook_secret: str, tolerance_seconds: int) -> None:
        self._client = stripe.StripeClient(secret_key)
        self._webhook_secret = webhook_secret
        self._tolerance = tolerance_seconds

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        metadata = {"donation_id": str(request.donation_id), **request.metadata}
        params: dict[str, object] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "gbp",
                        "unit_amount": request.amount_pence,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": str(request.donation_id),
            "metadata": metadata,
            # The charge carries the gift's id too, so refunds and disputes find their gift.
            "payment_intent_data": {"metadata": metadata},
        }
        if request.donor_email:
            params["customer_email"] = request.donor_email
        try:
            session = self._client.v1.checkout.sessions.create(params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise GatewayError(f"payment provider: {exc.user_message or 'could not start the payment'}") from None
        if not session.url:
            raise GatewayError("payment provider: no checkout address was returned.")
        return CheckoutSession(session_id=session.id, redirect_url=session.url)

    def verify_webhook(self, *, payload: bytes, signature_header: str) -> GatewayEvent:
        return verify_stripe_signed(
            payload=payload, signature_header=signature_header, secret=self._webhook_secret, tolerance=self._tolerance
        )
