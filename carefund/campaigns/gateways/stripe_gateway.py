"""Stripe: Checkout Sessions through the `stripe` library, webhooks verified with stripe's own code.

A completed checkout's event does not carry Stripe's fee: a gift is confirmed without it, and the fees come with the
payout that pays the gifts out (`payout_fees`, one listing of the payout's balance transactions). The daily sweep
lists completed Checkout Sessions (`completed_checkouts`) to find gifts whose event never arrived."""

from __future__ import annotations

import logging
from typing import Any

import stripe

from carefund.campaigns.gateways.base import (
    ChargeFee,
    CheckoutRequest,
    CheckoutSession,
    GatewayError,
    GatewayEvent,
    verify_stripe_signed,
)
from carefund.campaigns.rules import is_whole

logger = logging.getLogger(__name__)


class StripeGateway:
    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str,
        tolerance_seconds: int,
        client: stripe.StripeClient | None = None,
    ) -> None:
        self._client = client or stripe.StripeClient(secret_key)
        self._webhook_secret = webhook_secret
        self._tolerance = tolerance_seconds

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        metadata = {"donation_id": str(request.donation_id)}
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

    def completed_checkouts(self, *, since: int) -> list[dict[str, Any]]:
        """The Checkout Sessions completed and created since `since` (Unix time), as plain dicts shaped like a
        completion event's `data.object` (Stripe's list API, paged by the library)."""
        try:
            listed = self._client.v1.checkout.sessions.list(
                {"created": {"gte": since}, "status": "complete", "limit": 100}
            )
            return [session.to_dict() for session in listed.auto_paging_iter()]
        except stripe.StripeError as exc:
            raise GatewayError(f"payment provider: could not list completed checkouts ({exc.user_message})") from None

    def payout_fees(self, payout_id: str) -> list[ChargeFee]:
        """Stripe's fee on each charge a payout paid out: the payout's balance transactions of type charge, one
        listing (paged by the library) with each charge expanded for its PaymentIntent
        (https://docs.stripe.com/reports/payout-reconciliation; https://docs.stripe.com/api/balance_transactions/list).
        A balance transaction not in pounds, or whose fee is not whole pence, is skipped (logged): a finance officer
        records that fee by hand."""
        try:
            listed = self._client.v1.balance_transactions.list(
                {"payout": payout_id, "type": "charge", "limit": 100, "expand": ["data.source"]}
            )
            rows = [bt.to_dict() for bt in listed.auto_paging_iter()]
        except stripe.StripeError as exc:
            raise GatewayError(f"payment provider: could not list payout {payout_id} ({exc.user_message})") from None
        fees = []
        for bt in rows:
            fee, source = bt.get("fee"), bt.get("source")
            intent = source.get("payment_intent") if isinstance(source, dict) else None  # an id, or expanded
            intent = intent.get("id") if isinstance(intent, dict) else intent
            if not is_whole(fee) or fee < 0 or bt.get("currency") != "gbp" or not intent:
                logger.warning("stripe payout %s: balance transaction %s has no usable fee", payout_id, bt.get("id"))
                continue
            fees.append(ChargeFee(payment_intent_id=str(intent), fee_pence=fee))
        return fees
