from __future__ import annotations

import pytest
from django.test import Client

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
    # Priya's gift is £100 and £5 to costs; £20 of the £105 came back, shared in the donor's proportions
    refunded = next(d for d in seeded.online if d.donor_email == demo.DEMO_REFUND[0])
    assert (refunded.refunded_pence, refunded.refunded_gift_pence) == (2_000, 1_904)
    online = sum(p * 100 for _, _, p, _, _, _ in demo.ONLINE_GIFTS) - 1_904
    offline = sum(a for a, _, _, _ in demo.WALK_LINES) + 5_000
    assert fund_balance_pence(child_id=child.pk) == online + offline
    assert WebhookEvent.objects.count() == len(demo.ONLINE_GIFTS) + 1  # the refund's event
    assert {d.status for d in seeded.online} == {"succeeded"}
    again = demo.seed_campaigns(child=child, caseworker=worker)
    assert again.campaign.pk == seeded.campaign.pk
    assert Donation.objects.count() == len(demo.ONLINE_GIFTS) + len(demo.WALK_LINES) + 1
    assert fund_balance_pence(child_id=child.pk) == online + offline


def client_for_staff(user: object) -> Client:
    staff = Client()
    staff.force_login(user)  # type: ignore[arg-type]
    return staff


def test_demo_campaign_page_shows_gifts_and_messages(client) -> None:  # type: ignore[no-untyped-def]
    worker = caseworker()
    child = ChildFactory(first_name="James", last_name="Hartley", publicity_consent=True)
    seeded = demo.seed_campaigns(child=child, caseworker=worker)
    page = client.get(f"/campaigns/{seeded.campaign.slug}/").content.decode()
    assert "Help James walk" in page and "With the Daily Echo" in page
    assert "From all at the Echo." in page
    assert "£1,500.00" in page
    staff = client_for_staff(worker)
    gifts = staff.get(f"/staff/campaigns/{seeded.campaign.slug}/gifts/").content.decode()
    assert "£20.00 refunded in part (£19.04 of it from the gift to the child)" in gifts
    home = client.get("/").content.decode()
    assert "Help James walk" in home
