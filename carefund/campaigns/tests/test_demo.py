from __future__ import annotations

import pytest

from carefund.campaigns import demo
from carefund.campaigns.models import Donation, WebhookEvent
from carefund.campaigns.tests.factories import caseworker
from carefund.care.tests.factories import ChildFactory
from carefund.ledger.selectors import fund_balance_pence

pytestmark = pytest.mark.django_db


def test_seed_campaigns_through_the_webhook_path_and_idempotent() -> None:
    worker = caseworker()
    child = ChildFactory(first_name="James", publicity_consent=True)
    seeded = demo.seed_campaigns(child=child, caseworker=worker)
    assert seeded.campaign.media_partner == "the Daily Echo"
    assert seeded.campaign.state == "published"
    online = sum(p * 100 for _, _, p, _, _, _ in demo.ONLINE_GIFTS)
    offline = sum(a for a, _, _, _ in demo.WALK_LINES) + 5_000
    assert fund_balance_pence(child_id=child.pk) == online + offline
    assert WebhookEvent.objects.count() == len(demo.ONLINE_GIFTS)
    assert {d.status for d in seeded.online} == {"succeeded"}
    again = demo.seed_campaigns(child=child, caseworker=worker)
    assert again.campaign.pk == seeded.campaign.pk
    assert Donation.objects.count() == len(demo.ONLINE_GIFTS) + len(demo.WALK_LINES) + 1
    assert fund_balance_pence(child_id=child.pk) == online + offline


def test_demo_campaign_page_shows_gifts_and_messages(client) -> None:  # type: ignore[no-untyped-def]
    worker = caseworker()
    child = ChildFactory(first_name="James", last_name="Hartley", publicity_consent=True)
    seeded = demo.seed_campaigns(child=child, caseworker=worker)
    page = client.get(f"/campaigns/{seeded.campaign.slug}/").content.decode()
    assert "Help James walk" in page and "With the Daily Echo" in page
    assert "From all at the Echo." in page
    assert "£1,500.00" in page
    home = client.get("/").content.decode()
    assert "Help James walk" in home
