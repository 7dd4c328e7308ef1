from __future__ import annotations

import pytest
from django.test import Client

from carefund.campaigns import services
from carefund.campaigns.models import CampaignState
from carefund.campaigns.tests.factories import caseworker, make_campaign, make_pending
from carefund.care.tests.factories import user_with_role
from carefund.core.roles import Role

pytestmark = pytest.mark.django_db


def test_public_list_and_detail() -> None:
    campaign = make_campaign(target_pence=10_000)
    make_campaign(state=CampaignState.DRAFT)
    d = make_pending(campaign, amount_pence=2500, donor_name="Ann")
    services.donation_record_succeeded(donation_id=d.pk, amount_total_pence=2500, session_id=str(d.checkout_session_id))
    listing = Client().get("/api/campaigns/").json()
    assert [(c["slug"], c["raised_pence"], c["percent"]) for c in listing] == [(campaign.slug, 2500, 25)]
    detail = Client().get(f"/api/campaigns/{campaign.slug}").json()
    assert detail["recent_gifts"] == [{"donor": "Ann", "amount_pence": 2500, "message": ""}]
    assert "donor_email" not in str(detail)
    assert Client().get("/api/campaigns/nope").status_code == 404


def test_staff_gifts_need_permission(client) -> None:  # type: ignore[no-untyped-def]
    worker = caseworker()
    campaign = make_campaign()
    make_pending(campaign, amount_pence=500)
    assert client.get(f"/api/campaigns/{campaign.slug}/gifts").status_code == 401
    client.force_login(user_with_role(Role.GUARDIAN))
    assert client.get(f"/api/campaigns/{campaign.slug}/gifts").status_code == 403
    client.force_login(worker)
    gifts = client.get(f"/api/campaigns/{campaign.slug}/gifts").json()
    assert [(g["amount_pence"], g["status"]) for g in gifts] == [(500, "pending")]
