"""Finding 1 of issue 16: the test gateway (whose signing secret is public) never stands in for real payments on a
server with DEBUG off; test payments are said on every page and receipt; half a Stripe configuration stops start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client

from carefund.campaigns.gateways import PaymentsUnavailableError, active_gateway
from carefund.campaigns.models import Donation, WebhookEvent
from carefund.campaigns.tasks import receipt_body
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign, make_pending
from carefund.ledger.models import Transaction

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]
GIFT = {"preset": "other", "custom_amount": "40", "costs_contribution": "0", "donor_name": "Ann Smith",
        "donor_email": "ann@example.org"}  # fmt: skip


@pytest.fixture
def production(settings):  # type: ignore[no-untyped-def]
    """A server as the README once allowed: DEBUG off, no Stripe keys, no test mode."""
    settings.DEBUG, settings.PAYMENTS_TEST_MODE = False, False
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""


def test_no_gateway_without_stripe_or_test_mode(production) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PaymentsUnavailableError, match="not taking gifts online"):
        active_gateway()


def test_the_giving_page_refuses_gifts_and_writes_nothing(production) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign()
    client = Client()
    page = client.get(f"/campaigns/{campaign.slug}/give/")
    assert page.status_code == 503
    assert b"not taking gifts online" in page.content and b'<form method="post" novalidate>' not in page.content
    assert client.post(f"/campaigns/{campaign.slug}/give/", GIFT).status_code == 503
    assert Donation.objects.count() == 0


def test_an_event_signed_with_the_public_secret_is_refused(production, settings) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign()
    settings.PAYMENTS_TEST_MODE = True
    gift = make_pending(campaign)
    settings.PAYMENTS_TEST_MODE = False
    response = deliver(completed_event(gift))  # signed with the test gateway's default (public) secret
    assert response.status_code == 400
    gift.refresh_from_db()
    assert gift.status == "pending"
    assert Transaction.objects.count() == 0 and WebhookEvent.objects.count() == 0
    assert Client().get(f"/test-gateway/checkout/{gift.checkout_session_id}/").status_code == 404


def test_test_mode_is_said_on_every_page_and_receipt(settings, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG, settings.PAYMENTS_TEST_MODE, settings.STRIPE_SECRET_KEY = False, True, ""
    campaign = make_campaign()
    for url in ("/", f"/campaigns/{campaign.slug}/", "/login/"):
        assert b"Test payments: no real money moves" in Client().get(url).content, url
    gift = make_pending(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(completed_event(gift)).status_code == 200
    assert "TEST PAYMENT: no real money moved" in mail.outbox[0].body
    gift.refresh_from_db()
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = "sk_test_x", "whsec_x"
    assert b"Test payments" not in Client().get(f"/campaigns/{campaign.slug}/give/").content
    gift.gateway = "stripe"
    assert "TEST PAYMENT" not in receipt_body(gift)


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"STRIPE_SECRET_KEY": "sk_live_x"}, "STRIPE_WEBHOOK_SECRET"),
        ({"STRIPE_WEBHOOK_SECRET": "whsec_x"}, "STRIPE_SECRET_KEY"),
    ],
)
def test_half_a_stripe_configuration_stops_start_up(env: dict[str, str], missing: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=clean | env | {"DJANGO_SETTINGS_MODULE": "config.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert f"Stripe is half configured: {missing} is not set" in run.stderr
