"""A caseworker records an offline gift with the Gift Aid declaration its donor made (a paper form, or an oral
declaration with its written record): the gift and the declaration are recorded together, or neither."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from carefund.campaigns.models import Donation
from carefund.campaigns.tests.factories import caseworker, make_campaign
from carefund.core import clock
from carefund.core.models import AuditEvent
from carefund.giftaid.models import Declaration
from carefund.giftaid.selectors import gift_aid_due_for_campaign, gift_aid_due_for_donation
from carefund.giftaid.tests.factories import aware
from carefund.ledger.selectors import fund_balance_pence

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _clock() -> Any:
    with clock.frozen_at(aware(TODAY)):
        yield


def _post(client: Client, campaign: Any, **changes: str) -> Any:
    data = {
        "form": "single",
        "one-amount": "40",
        "one-kind": "cheque",
        "one-received_on": "2026-11-28",
        "one-donor_name": "Ann Smith",
        "one-donor_email": "ann@example.org",
        "one-reference": "000123",
        "ga-wants_gift_aid": "on",
        "ga-first_name": "Ann",
        "ga-last_name": "Smith",
        "ga-house_name_or_number": "12",
        "ga-address": "Acacia Avenue, Sheffield",
        "ga-postcode": "s19 2bd",
        "ga-scope": "this_and_future",
        "ga-declared_on": "2026-11-27",
    }
    data.update(changes)
    return client.post(f"/staff/campaigns/{campaign.slug}/offline/", {k: v for k, v in data.items() if v != "-"})


def test_a_cheque_with_its_paper_declaration_brings_its_gift_aid() -> None:
    worker = caseworker()
    campaign = make_campaign()
    client = Client()
    client.force_login(worker)
    form = client.get(f"/staff/campaigns/{campaign.slug}/offline/").content.decode()
    assert "The donor made a written Gift Aid declaration with this gift" in form and 'name="ga-declared_on"' in form
    response = _post(client, campaign)
    assert response.status_code == 302
    gift = Donation.objects.get()
    declaration = Declaration.objects.get()
    assert (declaration.donation_id, declaration.declared_on, declaration.postcode) == (
        gift.pk,
        dt.date(2026, 11, 27),
        "S19 2BD",
    )
    assert (declaration.scope, declaration.created_by) == ("this_and_future", worker)
    assert "I want to Gift Aid my donation of £40.00 and any donations I make in the future" in declaration.wording
    assert gift_aid_due_for_donation(donation=gift) == 1000  # 25p a pound
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 1000
    assert fund_balance_pence(child_id=campaign.child_id) == 4000
    assert AuditEvent.objects.filter(action="giftaid.declaration_record", actor=worker).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "Recorded £40.00 with its Gift Aid declaration (£10.00 of Gift Aid to claim)." in page


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"ga-postcode": "-"}, "Postcode is required for Gift Aid."),
        ({"ga-address": "-"}, "Home address is required for Gift Aid."),
        ({"ga-declared_on": "2026-12-02"}, "declared_on must be today or earlier"),
        ({"one-kind": "event_takings"}, "event takings and bucket collections are not one donor"),
        ({"one-received_on": "2022-11-26"}, "declared_on: a declaration covers a gift only within 4 years of it"),
        ({"ga-wants_gift_aid": "-"}, "the declaration's fields are filled in but its box is not ticked"),
        ({"one-amount": "0"}, "amount: must be more than zero, got 0 pence."),
    ],
)
def test_a_declaration_or_gift_that_cannot_be_recorded_leaves_neither(changes: dict[str, str], says: str) -> None:
    campaign = make_campaign()
    client = Client()
    client.force_login(caseworker())
    response = _post(client, campaign, **changes)
    assert response.status_code == 400
    assert says in response.content.decode().replace("&#x27;", "'")
    assert Donation.objects.count() == 0 and Declaration.objects.count() == 0
    assert fund_balance_pence(child_id=campaign.child_id) == 0


def test_without_the_box_ticked_and_the_declaration_left_empty_the_gift_is_recorded_alone() -> None:
    campaign = make_campaign()
    client = Client()
    client.force_login(caseworker())
    empty = {f"ga-{name}": "-" for name in ("first_name", "last_name", "house_name_or_number", "address", "postcode")}
    assert _post(client, campaign, **{"ga-wants_gift_aid": "-", **empty}).status_code == 302
    assert Donation.objects.count() == 1 and Declaration.objects.count() == 0


def test_a_declaration_within_four_years_of_its_gift_is_recorded() -> None:
    campaign = make_campaign()
    client = Client()
    client.force_login(caseworker())
    assert _post(client, campaign, **{"one-received_on": "2022-11-27"}).status_code == 302  # four years to the day
    assert Declaration.objects.get().donation.received_on == dt.date(2022, 11, 27)
