"""Test data for campaigns: users with roles, campaigns, and signed webhook deliveries."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.test import Client

from carefund.campaigns import services
from carefund.campaigns.gateways.test import checkout_completed_object, event_payload, sign_payload
from carefund.campaigns.models import Campaign, CampaignState, Donation
from carefund.campaigns.roles import ROLE_PERMISSIONS
from carefund.care.tests.factories import ChildFactory, user_with_role
from carefund.core import clock
from carefund.core.roles import Role

SECRET = "whsec_carefund_test_gateway"


def grant_campaign_roles() -> None:
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        for dotted in ROLE_PERMISSIONS.get(role, []):
            app_label, codename = dotted.split(".", 1)
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def caseworker(username: str = "") -> Any:
    grant_campaign_roles()
    return user_with_role(Role.CASEWORKER, username or None)


def make_campaign(
    *, state: str = CampaignState.PUBLISHED, target_pence: int = 5_000_000, **child_kwargs: Any
) -> Campaign:
    child = ChildFactory(publicity_consent=True, **child_kwargs)
    return Campaign.objects.create(
        child=child,
        slug=f"campaign-{child.pk}",
        title=f"Help {child.first_name} walk",
        story="A story.",
        media_partner="the Daily Echo",
        state=state,
        target_pence=target_pence,
        created_at=clock.now(),
        published_at=clock.now(),
    )


def make_pending(campaign: Campaign, *, amount_pence: int = 2500, costs: int = 0, **kwargs: Any) -> Donation:
    donation = services.donation_create_pending(
        campaign=campaign,
        amount_pence=amount_pence,
        costs_contribution_pence=costs,
        donor_name=kwargs.pop("donor_name", "Ann Smith"),
        donor_email=kwargs.pop("donor_email", "ann@example.org"),
        gateway="test",
        **kwargs,
    )
    started = services.checkout_start(donation=donation, success_url="/s", cancel_url="/c")
    return started.donation


def completed_event(
    donation: Donation,
    *,
    event_id: str | None = None,
    amount_total: int | None = None,
    fee_pence: int | None = None,
    session_id: str | None = None,
    tagged: bool = True,
) -> bytes:
    """The provider's checkout.session.completed for `donation`, carrying back the metadata carefund gave the checkout
    (`services.checkout_metadata`, for the gift's real amount) unless `tagged` is False: a checkout made before tags,
    or by another platform on the same provider account."""
    metadata = (
        services.checkout_metadata(
            donation_id=donation.pk, amount_pence=donation.total_pence, gateway=donation.gateway or "test"
        )
        if tagged
        else None
    )
    return event_payload(
        event_type="checkout.session.completed",
        event_id=event_id,
        data_object=checkout_completed_object(
            session_id=session_id or str(donation.checkout_session_id),
            donation_id=donation.pk,
            amount_total=donation.total_pence if amount_total is None else amount_total,
            payment_intent=f"pi_test_{donation.pk}",
            fee_pence=fee_pence,
            metadata=metadata,
        ),
    )


def refund_event(donation: Donation, *, event_id: str | None = None, amount_refunded: int | None = None) -> bytes:
    return event_payload(
        event_type="charge.refunded",
        event_id=event_id,
        data_object={
            "id": f"ch_test_{donation.pk}",
            "object": "charge",
            "payment_intent": f"pi_test_{donation.pk}",
            "amount_refunded": donation.total_pence if amount_refunded is None else amount_refunded,
            "metadata": {"donation_id": str(donation.pk)},
        },
    )


def deliver(payload: bytes, *, secret: str = SECRET, timestamp: int | None = None, client: Client | None = None) -> Any:
    """POST a signed event to the real webhook endpoint."""
    header = sign_payload(payload, secret=secret, timestamp=timestamp)
    return (client or Client()).post(
        "/webhooks/stripe/", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def loads(payload: bytes) -> Any:
    return json.loads(payload)
