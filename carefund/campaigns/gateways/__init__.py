"""Payment gateways: services depend on `base.PaymentGateway`, never on a provider's SDK."""

from __future__ import annotations

from django.conf import settings

from carefund.campaigns.gateways.base import PaymentGateway


def active_gateway() -> PaymentGateway:
    """Stripe when STRIPE_SECRET_KEY is set; otherwise the built-in test gateway (the demo)."""
    if settings.STRIPE_SECRET_KEY:
        from carefund.campaigns.gateways.stripe_gateway import StripeGateway

        return StripeGateway(
            secret_key=settings.STRIPE_SECRET_KEY,
            webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
            tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        )
    from carefund.campaigns.gateways.test import TestGateway

    return TestGateway(
        webhook_secret=settings.TEST_GATEWAY_WEBHOOK_SECRET, tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS
    )
