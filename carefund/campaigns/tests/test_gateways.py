from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from carefund.campaigns import services
from carefund.campaigns.gateways import active_gateway
from carefund.campaigns.gateways.base import CheckoutRequest, GatewayError
from carefund.campaigns.gateways.stripe_gateway import StripeGateway
from carefund.campaigns.gateways.test import TestGateway
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence


def test_active_gateway_follows_the_keys(settings) -> None:  # type: ignore[no-untyped-def]
    settings.STRIPE_SECRET_KEY = ""
    assert isinstance(active_gateway(), TestGateway)
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    assert isinstance(active_gateway(), StripeGateway)


def test_the_gateway_is_built_once_per_set_of_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = "sk_test_x", "whsec_one"
    stripe_gateway = active_gateway()
    assert active_gateway() is stripe_gateway  # kept: building its API client on every webhook cost about 30 µs
    settings.STRIPE_WEBHOOK_SECRET = "whsec_two"  # a rotated secret is used at once
    rotated = active_gateway()
    assert rotated is not stripe_gateway and rotated._webhook_secret == "whsec_two"  # type: ignore[attr-defined]
    settings.STRIPE_SECRET_KEY = ""
    assert isinstance(active_gateway(), TestGateway)


def _capturing_stripe(monkeypatch: pytest.MonkeyPatch, session_id: str) -> tuple[StripeGateway, dict[str, Any]]:
    """A Stripe gateway whose session creation is answered here, keeping the parameters it was sent."""
    gateway = StripeGateway(secret_key="sk_test_x", webhook_secret="whsec_x", tolerance_seconds=300)
    seen: dict[str, Any] = {}

    def create(params: dict[str, Any]) -> Any:
        seen.update(params)
        return SimpleNamespace(id=session_id, url=f"https://checkout.stripe.com/c/pay/{session_id}")

    monkeypatch.setattr(gateway._client.v1.checkout.sessions, "create", create)
    return gateway, seen


def test_stripe_checkout_params(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gateway, seen = _capturing_stripe(monkeypatch, "cs_live_1")
    session = gateway.create_checkout(
        CheckoutRequest(
            donation_id=7, amount_pence=4250, description="Gift", success_url="https://s", cancel_url="https://c"
        )
    )
    assert (session.session_id, session.redirect_url) == ("cs_live_1", "https://checkout.stripe.com/c/pay/cs_live_1")
    assert seen["line_items"][0]["price_data"] == {
        "currency": "gbp",
        "unit_amount": 4250,
        "product_data": {"name": "Gift"},
    }
    assert seen["metadata"] == {"donation_id": "7"}
    assert seen["payment_intent_data"] == {"metadata": {"donation_id": "7"}}
    assert "customer_email" not in seen


def test_stripe_without_url_is_an_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gateway = StripeGateway(secret_key="sk_test_x", webhook_secret="whsec_x", tolerance_seconds=300)
    monkeypatch.setattr(
        gateway._client.v1.checkout.sessions, "create", lambda params: SimpleNamespace(id="x", url=None)
    )
    with pytest.raises(GatewayError, match="no checkout address"):
        gateway.create_checkout(CheckoutRequest(1, 100, "d", "s", "c"))


@pytest.mark.django_db
def test_stripe_mode_webhook_verified_with_stripe_secret(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # no network: verifying asks Stripe nothing (the fee is asked for later: test_stripe_fee.py)
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_real"
    campaign = make_campaign()
    donation = services.donation_create_pending(campaign=campaign, amount_pence=2000, gateway="stripe")
    donation.checkout_session_id = "cs_live_abc"
    donation.save()
    payload = completed_event(donation, fee_pence=99)  # a fee field from Stripe is ignored: it is not Stripe's
    assert deliver(payload, secret="whsec_carefund_test_gateway").status_code == 400
    assert deliver(payload, secret="whsec_real").status_code == 200
    assert fund_balance_pence(child_id=campaign.child_id) == 2000
    assert account_balance_pence(name="Assets:Clearing:Stripe") == 2000


@pytest.mark.django_db
def test_starting_a_stripe_checkout_asks_stripe_to_keep_the_gifts_id(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Stripe keeps the session's metadata and sends it back with the completion: the gift's id, on the session,
    as its client reference and on the payment too (refunds and disputes find their gift by it)."""
    from carefund.campaigns.tests.factories import make_campaign as campaign_for

    gateway, seen = _capturing_stripe(monkeypatch, "cs_live_9")
    gift = services.donation_create_pending(
        campaign=campaign_for(), amount_pence=2500, costs_contribution_pence=100, gateway="stripe"
    )
    services.checkout_start(donation=gift, success_url="https://s", cancel_url="https://c", gateway=gateway)
    assert seen["metadata"] == {"donation_id": str(gift.pk)} == seen["payment_intent_data"]["metadata"]
    assert seen["client_reference_id"] == str(gift.pk)
    assert seen["line_items"][0]["price_data"] == {
        "currency": "gbp",
        "unit_amount": 2600,
        "product_data": {"name": f"Gift to {gift.campaign.title}"},
    }
