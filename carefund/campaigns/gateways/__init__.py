"""Payment gateways: services depend on `base.PaymentGateway`, never on a provider's SDK."""

from __future__ import annotations

import functools

from django.conf import settings

from carefund.campaigns.gateways.base import PaymentGateway


def active_gateway() -> PaymentGateway:
    """Stripe when STRIPE_SECRET_KEY is set; otherwise the built-in test gateway (the demo). One instance per set of
    settings, kept: a Stripe gateway builds its API client, about 30 µs, and every webhook asks for the gateway (the
    clients keep their HTTP sessions per thread, so one instance serves every thread)."""
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
