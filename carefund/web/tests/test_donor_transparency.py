"""What donors are shown: how many people gave and when, the card fee on their own gift, the charity's name and
number on every public page, and a link they can copy."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from carefund.campaigns.models import Donation
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign, make_pending

pytestmark = pytest.mark.django_db


def _give(campaign: Any, email: str, amount_pence: int, fee_pence: int | None = None) -> Donation:
    gift = make_pending(campaign, amount_pence=amount_pence, donor_email=email)
    deliver(completed_event(gift, fee_pence=fee_pence))
    gift.refresh_from_db()
    assert gift.status == "succeeded"
    return gift


def test_the_campaign_page_counts_supporters_once_each_and_dates_recent_gifts(client: Client) -> None:
    campaign = make_campaign()
    _give(campaign, "ann@example.org", 1000)
    _give(campaign, "ANN@example.org", 2000)  # the same person again
    _give(campaign, "bob@example.org", 500)
    page = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "raised from 2 supporters" in page
    assert page.count("<time datetime=") == 3
    assert f'data-copy="http://testserver/campaigns/{campaign.slug}/"' in page
    assert 'id="share-link"' in page


def test_the_gift_page_shows_the_card_fee_and_that_the_whole_gift_reaches_the_fund(client: Client) -> None:
    campaign = make_campaign()
    gift = _give(campaign, "ann@example.org", 2500, fee_pence=58)
    page = client.get(f"/gifts/{gift.receipt_token}/").content.decode()
    assert "charged a fee of <strong>£0.58</strong> on your gift" in page
    assert "so all £25.00 of your gift goes to the child's treatment fund" in page
    unknown = _give(campaign, "bob@example.org", 1000)
    page = client.get(f"/gifts/{unknown.receipt_token}/").content.decode()
    assert "has not yet told us its fee on your gift" in page


def test_every_public_page_names_the_charity_and_its_number(client: Client, settings: Any) -> None:
    campaign = make_campaign()
    settings.CHARITY_NAME = "Walk Together Trust"
    settings.CHARITY_NUMBER = "1234567"
    for path in ("/", f"/campaigns/{campaign.slug}/", f"/campaigns/{campaign.slug}/give/", "/economics/sdr/"):
        page = client.get(path).content.decode()
        assert "Walk Together Trust, a registered charity in England and Wales (number 1234567)" in page, path
    settings.CHARITY_NUMBER = ""
    assert "no registered charity number is set" in client.get("/").content.decode()
