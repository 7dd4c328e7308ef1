"""Stripe: Checkout Sessions through the `stripe` library, webhooks verified with stripe's own code.

A completed checkout's event does not carry Stripe's fee. Verifying a webhook asks Stripe nothing: the answer to
the provider never waits for a request of ours to it. The gift is confirmed without its fee, and the webhook
confirmer asks for the fee moments later, in a thread of its own (`payment_intent_fee_pence`: the PaymentIntent's
latest charge's balance transaction, https://docs.stripe.com/expand/use-cases "See the Stripe fee for a given
payment"; carefund/web/campaigns/confirmer.py, `FeesFiller`), and posts it as a late fee. A lookup that fails is
logged and asked again later."""

from __future__ import annotations

import logging
from typing import Any

import stripe

from carefund.campaigns.gateways.base import (
    CheckoutRequest,
    CheckoutSession,
    GatewayError,
    GatewayEvent,
    verify_stripe_signed,
)

logger = logging.getLogger(__name__)

# One quick attempt: a fee not known now is asked for again at the next run.
_FEE_LOOKUP_TIMEOUT_SECONDS = 5


class StripeGateway:
    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str,
        tolerance_seconds: int,
        client: stripe.StripeClient | None = None,
        lookup_client: stripe.StripeClient | None = None,
    ) -> None:
        self._secret_key = secret_key
        self._client = client or stripe.StripeClient(secret_key)
        self._lookup_client = lookup_client  # made on first use: most requests never look anything up
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
        """Verify the raw body (stripe's own code); nothing is asked of Stripe before the answer."""
        return verify_stripe_signed(
            payload=payload, signature_header=signature_header, secret=self._webhook_secret, tolerance=self._tolerance
        )

    def payment_intent_fee_pence(self, intent_id: str, amount_pence: int) -> int | None:
        """Stripe's fee in pence for a PaymentIntent of `amount_pence`, from its latest charge's balance transaction;
        None (logged) when it is not known yet (no charge or balance transaction), not in pounds, or the lookup
        fails. Asked by `services.donation_fees_fill` for gifts confirmed without their fee (all of Stripe's:
        the webhook does not carry it)."""
        try:
            intent = self._lookups().v1.payment_intents.retrieve(
                intent_id, {"expand": ["latest_charge.balance_transaction"]}
            )
            balance_transaction: Any = _field(_field(intent, "latest_charge"), "balance_transaction")
            fee: Any = _field(balance_transaction, "fee")
            currency: Any = _field(balance_transaction, "currency")
        except Exception:  # network, permissions, an unexpected shape: never fail the webhook for the fee
            logger.warning(
                "stripe fee: could not look up the fee of %s; the gift posts without a fee", intent_id, exc_info=True
            )
            return None
        if isinstance(fee, bool) or not isinstance(fee, int) or currency != "gbp" or not 0 <= fee <= amount_pence:
            logger.warning(
                "stripe fee: %s has no usable fee in pence (fee %r %r, charge %r); the gift posts without a fee",
                intent_id,
                fee,
                currency,
                amount_pence,
            )
            return None
        return fee

    def _lookups(self) -> stripe.StripeClient:
        """A client for the fee lookups: one attempt, a short timeout (a fee not known now is asked for again)."""
        if self._lookup_client is None:
            self._lookup_client = stripe.StripeClient(
                self._secret_key,
                max_network_retries=0,
                http_client=stripe.RequestsClient(timeout=_FEE_LOOKUP_TIMEOUT_SECONDS),
            )
        return self._lookup_client


def _field(obj: Any, name: str) -> Any:
    """`obj.name` of a StripeObject (or a dict); None if obj is None or an unexpanded id string."""
    if obj is None or isinstance(obj, str):
        return None
    if isinstance(obj, dict):  # StripeObject is a dict subclass
        return obj.get(name)
    return getattr(obj, name, None)
