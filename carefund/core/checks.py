"""System checks: `carefund check --deploy` is the gate a production server must pass (docs/security.md, "Deploy
checks"). Each failure is an Error (the command exits non-zero) whose hint says what to set."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

# The test gateway's signing secret when none is given: public (it is in the source), so anyone may sign events.
PUBLIC_TEST_GATEWAY_SECRET = "whsec_carefund_test_gateway"
_NON_DELIVERING_EMAIL = ("console", "locmem", "dummy", "filebased")


@register(Tags.security, deploy=True)
def check_secret_key(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.SECRET_KEY.startswith("carefund-insecure"):
        return [
            Error(
                "SECRET_KEY is the development key.",
                hint="Set the SECRET_KEY environment variable to a long random string.",
                id="carefund.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_payments(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """No Stripe and no test mode: the site refuses gifts. Test mode with the public secret: anyone may sign events
    that confirm, refund or dispute gifts."""
    if settings.STRIPE_SECRET_KEY:
        return []
    if not (settings.DEBUG or settings.PAYMENTS_TEST_MODE):
        return [
            Error(
                "No payment provider is configured: the site refuses gifts.",
                hint="Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET (Stripe dashboard, Developers). For a "
                "staging site without real money set PAYMENTS_TEST_MODE=1 and a random TEST_GATEWAY_WEBHOOK_SECRET.",
                id="carefund.E002",
            )
        ]
    if settings.TEST_GATEWAY_WEBHOOK_SECRET == PUBLIC_TEST_GATEWAY_SECRET:
        return [
            Error(
                "Test payments are on with the test gateway's public signing secret: anyone can sign events that "
                "confirm, refund or dispute gifts.",
                hint="Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET for real payments; for a staging site set "
                "TEST_GATEWAY_WEBHOOK_SECRET to a long random string.",
                id="carefund.E003",
            )
        ]
    return [
        Warning(
            "Test payments are on: no real money moves, and every page says so.",
            hint="Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, and unset PAYMENTS_TEST_MODE, to take real gifts.",
            id="carefund.W003",
        )
    ]


@register(Tags.security, deploy=True)
def check_email(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2] if "." in settings.EMAIL_BACKEND else ""
    if backend in _NON_DELIVERING_EMAIL:
        return [
            Error(
                f"EMAIL_BACKEND is Django's {backend} backend: receipts and notices are never delivered.",
                hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST and EMAIL_PORT.",
                id="carefund.E004",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_identifier_keys(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Keys derived from SECRET_KEY make every NHS number unreadable (and unfindable) once SECRET_KEY is rotated."""
    missing = [name for name in ("FIELD_ENCRYPTION_KEY", "IDENTIFIER_HASH_KEY") if not getattr(settings, name)]
    if missing:
        return [
            Error(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} derived from SECRET_KEY: rotating "
                "SECRET_KEY would make every NHS number unreadable.",
                hint="Set FIELD_ENCRYPTION_KEY to a Fernet key (python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())') and IDENTIFIER_HASH_KEY to a long random string; keep both "
                'with the backups (docs/operations.md, "Keys").',
                id="carefund.E005",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_https(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    needed = {
        "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
        "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
        "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
        "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    }
    off = [name for name, value in needed.items() if not value]
    if off:
        return [
            Error(
                f"HTTPS is not enforced ({', '.join(off)} off): sign-ins and health data could cross the network "
                "in clear.",
                hint="Serve the site over TLS and set HTTPS=1 (behind a proxy that terminates TLS also set "
                'HTTPS_PROXY_HEADER=1; docs/operations.md, "HTTPS").',
                id="carefund.E006",
            )
        ]
    return []
