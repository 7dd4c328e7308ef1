"""`carefund check --deploy` is a real gate (issue 16): each unsafe production setting fails it with what to set."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from carefund.core import checks

SAFE = {
    "DEBUG": False,
    "SECRET_KEY": "a-real-long-random-production-key-0123456789abcdef-0123456789",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_live_x",
    "PAYMENTS_TEST_MODE": False,
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "FIELD_ENCRYPTION_KEY": "Wm9kcWx3c2Vxc2Z6c3d4d3l6a2V5a2V5a2V5a2V5a2U=",
    "IDENTIFIER_HASH_KEY": "another-long-random-string",
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_HSTS_SECONDS": 31536000,
}


@pytest.fixture
def safe(settings):  # type: ignore[no-untyped-def]
    for name, value in SAFE.items():
        setattr(settings, name, value)
    return settings


def _ids(settings) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for check in (checks.check_secret_key, checks.check_payments, checks.check_email, checks.check_identifier_keys,
                  checks.check_https):  # fmt: skip
        found += [m.id for m in check(None)]
    return found


def test_a_safe_configuration_passes(safe) -> None:  # type: ignore[no-untyped-def]
    assert _ids(safe) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"STRIPE_SECRET_KEY": "", "STRIPE_WEBHOOK_SECRET": ""}, ["carefund.E002"]),
        ({"STRIPE_SECRET_KEY": "", "STRIPE_WEBHOOK_SECRET": "", "PAYMENTS_TEST_MODE": True}, ["carefund.E003"]),
        (
            {"STRIPE_SECRET_KEY": "", "PAYMENTS_TEST_MODE": True, "TEST_GATEWAY_WEBHOOK_SECRET": "whsec_random_42"},
            ["carefund.W003"],
        ),
        ({"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, ["carefund.E004"]),
        ({"FIELD_ENCRYPTION_KEY": ""}, ["carefund.E005"]),
        ({"IDENTIFIER_HASH_KEY": ""}, ["carefund.E005"]),
        ({"SECURE_HSTS_SECONDS": 0}, ["carefund.E006"]),
        ({"SESSION_COOKIE_SECURE": False}, ["carefund.E006"]),
    ],
)
def test_each_unsafe_setting_is_found(safe, change, expected) -> None:  # type: ignore[no-untyped-def]
    for name, value in change.items():
        setattr(safe, name, value)
    assert _ids(safe) == expected


def test_check_deploy_fails_on_the_readme_setup_and_says_what_to_set(safe) -> None:  # type: ignore[no-untyped-def]
    safe.STRIPE_SECRET_KEY = safe.STRIPE_WEBHOOK_SECRET = ""  # only the webhook secret was set, or nothing
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", "--deploy")
    assert "carefund.E002" in str(raised.value)
    assert "Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET" in str(raised.value)
