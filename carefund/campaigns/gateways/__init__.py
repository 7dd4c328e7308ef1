"""Payment gateways: services depend on `base.PaymentGateway`, never on a provider's SDK."""

from __future__ import annotations

import functools

from django.conf import settings

from carefund.campaigns.gateways.base import PaymentGateway
from carefund.core.errors import DomainError


class PaymentsUnavailableError(DomainError):
    """No gateway may take gifts: Stripe is not configured and test payments are off (DEBUG off, no
    PAYMENTS_TEST_MODE)."""


def is_test_payments() -> bool:
    """True when the built-in test gateway takes the gifts: no Stripe keys, and DEBUG or PAYMENTS_TEST_MODE on. Every
    page and receipt then says no real money moves."""
    return not settings.STRIPE_SECRET_KEY and (settings.DEBUG or settings.PAYMENTS_TEST_MODE)


def active_gateway() -> PaymentGateway:
    """Stripe when STRIPE_SECRET_KEY is set; the built-in test gateway when test payments are on (`is_test_payments`);
    otherwise PaymentsUnavailableError: a server with DEBUG off never falls back to the test gateway, whose signing
    secret is public. One instance per set of settings, kept: a Stripe gateway builds its API client, about 30 µs,
    and every webhook asks for the gateway (the clients keep their HTTP sessions per thread, so one instance serves
    every thread)."""
    if not settings.STRIPE_SECRET_KEY and not is_test_payments():
        raise PaymentsUnavailableError(
            "This site is not taking gifts online: card payments are not set up. Please try again later."
        )
    return _gateway_for(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_WEBHOOK_SECRET,
        settings.TEST_GATEWAY_WEBHOOK_SECRET,
        settings.WEBHOOK_TOLERANCE_SECONDS,
    )


@functools.lru_cache(maxsize=8)
def _gateway_for(secret_key: str, webhook_secret: str, test_webhook_secret: str, tolerance: int) -> PaymentGateway:
    if secret_key:
        from carefund.campaigns.gateways.stripe_gateway import StripeGateway

        return StripeGateway(secret_key=secret_key, webhook_secret=webhook_secret, tolerance_seconds=tolerance)
    from carefund.campaigns.gateways.test import TestGateway

    return TestGateway(webhook_secret=test_webhook_secret, tolerance_seconds=tolerance)
