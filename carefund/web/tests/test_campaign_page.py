"""The public campaign page under its cache: the money raised is always live; the Gift Aid to come, the recent
gifts, the updates and the surplus wording are reused for CAMPAIGN_PAGE_CACHE_SECONDS, and a staff change to them
shows at once (campaigns/cache.py, docs/campaigns.md "The public campaign page")."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from carefund.campaigns import services
from carefund.campaigns.cache import KEY_PREFIX, campaign_public_cache_get_or_compute
from carefund.campaigns.models import Campaign
from carefund.campaigns.tests.factories import caseworker, completed_event, deliver, make_campaign, make_pending
from carefund.core import clock
from carefund.giftaid.services import declaration_cancel, declaration_record
from carefund.giftaid.tests.factories import make_user
from carefund.web.campaigns.views import CampaignPageParts, campaign_page_parts

pytestmark = pytest.mark.django_db

DONOR = {
    "title": "Mrs",
    "first_name": "Ann",
    "last_name": "Smith",
    "house_name_or_number": "12",
    "address": "High Street, Hythe",
    "postcode": "CT21 5AB",
}


@pytest.fixture(autouse=True)
def _five_seconds(settings):  # type: ignore[no-untyped-def]
    settings.CAMPAIGN_PAGE_CACHE_SECONDS = 5


@pytest.fixture(autouse=True)
def cache_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    """Stop the cache's clock (LocMemCache reads `time.time()` to set and expire entries), so that a slow machine
    cannot expire an entry in the middle of a test; `cache_clock(seconds)` moves it on."""
    import django.core.cache.backends.base as base
    import django.core.cache.backends.locmem as locmem

    now = [time.time()]

    class _Clock:
        @staticmethod
        def time() -> float:
            return now[0]

    monkeypatch.setattr(locmem, "time", _Clock)
    monkeypatch.setattr(base, "time", _Clock)

    def move(seconds: float) -> None:
        now[0] += seconds

    yield move


def page(campaign: Campaign) -> str:
    response = Client().get(f"/campaigns/{campaign.slug}/")
    assert response.status_code == 200
    return str(response.content.decode())


def confirmed(campaign: Campaign, amount_pence: int, **kwargs: Any) -> Any:
    """An online gift confirmed through the real webhook (applied before the answer, as the tests run it)."""
    donation = make_pending(campaign, amount_pence=amount_pence, **kwargs)
    assert deliver(completed_event(donation)).status_code == 200
    donation.refresh_from_db()
    assert donation.status == "succeeded"
    return donation


def store_as_cached(campaign: Campaign, parts: CampaignPageParts) -> None:
    """Store `parts` as the cached page parts, as a request thread that computed them would."""
    cache.delete(f"{KEY_PREFIX}:{campaign.pk}")
    assert campaign_public_cache_get_or_compute(campaign_id=campaign.pk, compute=lambda: parts) is parts


def queries_of_a_view(campaign: Campaign) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        page(campaign)
    return [q["sql"] for q in captured.captured_queries]


def test_a_newly_confirmed_gift_shows_in_the_money_raised_at_once() -> None:
    campaign = make_campaign(target_pence=1_000_000)
    confirmed(campaign, 2500)
    assert "<strong>£25.00</strong> raised" in page(campaign)  # the cache now holds the page's other parts
    confirmed(campaign, 4000, donor_name="Bob Jones", donor_email="bob@example.org")
    second = page(campaign)
    assert "<strong>£65.00</strong> raised" in second
    assert "Bob Jones" not in second  # the recent gifts come from the cache (up to 5 seconds behind)
    offline = services.donation_record_offline(
        campaign=campaign, amount_pence=1000, kind="cash", received_on=clock.today(), actor=caseworker()
    )
    assert "<strong>£75.00</strong> raised" in page(campaign)
    services.donation_reverse(donation_id=offline.pk, reason="Refund", to_status="refunded")
    assert "<strong>£65.00</strong> raised" in page(campaign)  # refunds leave the total at once too


def test_a_moderated_message_appears_after_moderation(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    worker = caseworker()
    campaign = make_campaign()
    gift = confirmed(campaign, 500, message="Run, James, run!")
    assert "Run, James, run!" not in page(campaign)  # pending moderation; the cache now holds the gifts
    before = campaign_page_parts(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        services.donation_message_moderate(donation=gift, approve=True, actor=worker)
        assert "Run, James, run!" in page(campaign)  # forgotten at once
        # another server thread, which read the gifts before the moderation committed, stores what it saw
        store_as_cached(campaign, before)
        assert "Run, James, run!" not in page(campaign)
    assert "Run, James, run!" in page(campaign)  # forgotten again once the moderation commits
    services.donation_message_moderate(donation=gift, approve=False, actor=worker)
    assert "Run, James, run!" not in page(campaign)  # a message taken down goes at once too


def test_a_posted_update_appears_at_once() -> None:
    campaign = make_campaign()
    assert "Updates" not in page(campaign)
    services.campaign_update_post(campaign=campaign, body="James stood up today.", actor=caseworker())
    assert "James stood up today." in page(campaign)


def test_the_gift_aid_figure_is_reused_within_the_time_to_live_and_recomputed_after(
    django_assert_num_queries: Any, cache_clock: Callable[[float], None]
) -> None:
    campaign = make_campaign()
    first = make_pending(campaign, amount_pence=4000)
    declaration_record(donation=first, scope="this_gift", declared_on=clock.today(), **DONOR)
    deliver(completed_event(first))
    assert "<strong>£10.00</strong> Gift Aid to come" in page(campaign)
    # a second gift with Gift Aid is confirmed by the webhook, which does not touch the page's cache
    second = make_pending(campaign, amount_pence=2000, donor_name="Bob Jones", donor_email="bob@example.org")
    declaration_record(donation=second, scope="this_gift", declared_on=clock.today(), **DONOR | {"last_name": "Jones"})
    deliver(completed_event(second))
    with django_assert_num_queries(2):  # the campaign and the money raised, nothing else
        within = page(campaign)
    assert "<strong>£60.00</strong> raised" in within  # live
    assert "<strong>£10.00</strong> Gift Aid to come" in within  # reused, not recomputed
    cache_clock(4)
    assert "<strong>£10.00</strong> Gift Aid to come" in page(campaign)  # still within the 5 seconds
    cache_clock(2)
    queries = queries_of_a_view(campaign)
    assert len(queries) > 2  # recomputed
    after = page(campaign)
    assert "<strong>£15.00</strong> Gift Aid to come" in after and "Bob Jones" in after


def test_a_declaration_made_or_cancelled_changes_the_gift_aid_at_once() -> None:
    campaign = make_campaign()
    day = dt.date(2026, 6, 1)
    gift = confirmed(campaign, 4000)
    assert "Gift Aid to come" not in page(campaign)
    declaration = declaration_record(donation=gift, scope="this_and_future", declared_on=day, **DONOR)
    assert "<strong>£10.00</strong> Gift Aid to come" in page(campaign)
    later = confirmed(campaign, 2000)  # the same donor (email and surname): covered by the declaration
    assert later.received_on is not None and later.received_on > day
    other = make_campaign()
    confirmed(other, 800)  # the same donor's gift to another campaign
    assert "<strong>£2.00</strong> Gift Aid to come" in page(other)
    assert "<strong>£10.00</strong> Gift Aid to come" in page(campaign)  # cached: the second gift's is not in yet
    officer = make_user(perms=("giftaid.cancel_declaration",))
    declaration_cancel(declaration=declaration, on_date=day, reason="Donor asked", actor=officer)
    # only the gift the declaration was made with stays covered, on every campaign
    assert "<strong>£10.00</strong> Gift Aid to come" in page(campaign)
    assert "Gift Aid to come" not in page(other)


def test_the_page_runs_the_same_queries_whatever_the_number_of_gifts() -> None:
    campaign = make_campaign()
    confirmed(campaign, 500, message="Hello")
    cold_small, warm_small = queries_of_a_view(campaign), queries_of_a_view(campaign)
    for i in range(30):
        confirmed(campaign, 500 + i, donor_name=f"Donor {i}", donor_email=f"d{i}@example.org", message="Hi")
    cache.clear()
    cold_large, warm_large = queries_of_a_view(campaign), queries_of_a_view(campaign)
    assert len(cold_large) == len(cold_small)
    assert len(warm_large) == len(warm_small) == 2
    assert len(cold_small) > len(warm_small)


def test_no_cache_when_the_time_to_live_is_zero(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CAMPAIGN_PAGE_CACHE_SECONDS = 0
    campaign = make_campaign()
    confirmed(campaign, 500)
    assert len(queries_of_a_view(campaign)) == len(queries_of_a_view(campaign)) > 2
    confirmed(campaign, 700, donor_name="Bob Jones", donor_email="bob@example.org")
    assert "Bob Jones" in page(campaign)


def test_the_apis_gift_aid_is_kept_like_the_pages_and_forgotten_with_it(cache_clock: Callable[[float], None]) -> None:
    from django.test import Client

    campaign = make_campaign()
    gift = confirmed(campaign, 4000)
    api = f"/api/campaigns/{campaign.slug}"
    assert Client().get(api).json()["gift_aid_to_come_pence"] == 0
    declaration_record(donation=gift, scope="this_and_future", declared_on=dt.date(2026, 6, 1), **DONOR)
    assert Client().get(api).json()["gift_aid_to_come_pence"] == 1000  # the declaration forgot the kept figure
    confirmed(campaign, 2000)  # covered by the same declaration; a confirmation forgets nothing
    listing = {c["slug"]: c for c in Client().get("/api/campaigns/").json()}
    assert (Client().get(api).json()["gift_aid_to_come_pence"], listing[campaign.slug]["gift_aid_to_come_pence"]) == (
        1000,
        1000,
    )
    assert Client().get(api).json()["raised_pence"] == 6000  # the money raised is live
    cache_clock(6)
    assert Client().get(api).json()["gift_aid_to_come_pence"] == 1500
