"""A donor cancels the Gift Aid declaration they made with a gift, on the gift's own page (the link in the receipt)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from carefund.core import clock
from carefund.core.models import AuditEvent
from carefund.giftaid.models import Declaration
from carefund.giftaid.rules import Scope
from carefund.giftaid.selectors import gift_aid_due_for_donation
from carefund.giftaid.tests.factories import aware, declare, make_campaign, make_donation

pytestmark = pytest.mark.django_db

D = dt.date
TODAY = D(2026, 12, 1)


@pytest.fixture(autouse=True)
def _clock() -> Any:
    with clock.frozen_at(aware(TODAY)):
        yield


def _page(gift: Any, client: Client | None = None) -> str:
    response = (client or Client()).get(f"/gifts/{gift.receipt_token}/")
    assert response.status_code == 200
    return response.content.decode().replace("&#x27;", "'")


def _cancel(gift: Any, data: dict[str, str]) -> str:
    response = Client().post(f"/gifts/{gift.receipt_token}/gift-aid/cancel/", data, follow=True)
    assert response.redirect_chain == [(f"/gifts/{gift.receipt_token}/", 302)]
    return response.content.decode().replace("&#x27;", "'")


def test_the_donor_cancels_from_today_and_earlier_gifts_keep_their_gift_aid() -> None:
    campaign = make_campaign()
    first = make_donation(campaign=campaign, amount_pence=2000, on=D(2026, 6, 15))
    declaration = declare(first, Scope.THIS_AND_FUTURE, declared_on=D(2026, 6, 15))
    later = make_donation(campaign=campaign, amount_pence=4000, on=D(2026, 11, 30))
    today = make_donation(campaign=campaign, amount_pence=2000, on=TODAY)
    tomorrow = make_donation(campaign=campaign, amount_pence=1000, on=D(2026, 12, 2))
    gifts = (first, later, today, tomorrow)
    assert [gift_aid_due_for_donation(donation=g) for g in gifts] == [500, 1000, 500, 250]
    page = _page(first)
    assert "Your Gift Aid declaration</h2>" in page and "You made it on 15 June 2026" in page
    assert "Smith" not in page and "Acacia" not in page  # the link may be forwarded: no name or address shown
    assert f'action="/gifts/{first.receipt_token}/gift-aid/cancel/"' in page
    # the page of a gift the declaration covers, but was not made with, offers no form
    assert "gift-aid/cancel" not in _page(later)

    # not confirmed: nothing changes
    page = _cancel(first, {})
    assert "Tick the box to confirm that you want to cancel your Gift Aid declaration." in page
    declaration.refresh_from_db()
    assert declaration.cancelled_on is None

    page = _cancel(first, {"confirm": "yes"})
    assert (
        "Your Gift Aid declaration is cancelled from 1 December 2026. This gift and the gifts you made before then "
        "keep their Gift Aid; gifts from then on have none." in page
    )
    assert "it was cancelled from 1 December 2026" in page and "gift-aid/cancel" not in page
    declaration.refresh_from_db()
    assert (declaration.cancelled_on, declaration.cancelled_by, declaration.cancellation_reason) == (
        TODAY,
        None,
        "cancelled by the donor on their gift's page",
    )
    audit = AuditEvent.objects.get(action="giftaid.declaration_cancel_by_donor")
    assert (audit.actor_id, audit.target_id, audit.details) == (
        None,
        str(declaration.pk),
        {"on_date": "2026-12-01", "reason": "cancelled by the donor on their gift's page"},
    )
    # not retrospective: the gift it was made with and gifts received before today keep their Gift Aid; gifts
    # received from today on have none
    assert [gift_aid_due_for_donation(donation=g) for g in gifts] == [500, 1000, 0, 0]
    assert "adds <strong>£5.00</strong> from HMRC" in _page(first)

    # a second cancellation changes nothing and says why
    page = _cancel(first, {"confirm": "yes"})
    assert f"Your Gift Aid declaration was not changed: declaration {declaration.pk} was already cancelled" in page
    assert AuditEvent.objects.filter(action="giftaid.declaration_cancel_by_donor").count() == 1


def test_a_declaration_for_one_gift_only_has_nothing_later_to_stop_and_is_not_offered() -> None:
    gift = make_donation(amount_pence=2000, on=TODAY)
    declaration = declare(gift, Scope.THIS_GIFT, declared_on=TODAY)
    page = _page(gift)
    assert "for this gift only" in page and "gift-aid/cancel" not in page
    page = _cancel(gift, {"confirm": "yes"})
    assert (
        f"Your Gift Aid declaration was not changed: the declaration made with gift {gift.pk} covers that gift "
        "only, which keeps its Gift Aid" in page
    )
    declaration.refresh_from_db()
    assert declaration.cancelled_on is None and gift_aid_due_for_donation(donation=gift) == 500


def test_a_gift_with_no_declaration_of_its_own_has_nothing_to_cancel() -> None:
    campaign = make_campaign()
    first = make_donation(campaign=campaign, on=D(2026, 6, 15))
    declare(first, Scope.THIS_AND_FUTURE, declared_on=D(2026, 6, 15))
    later = make_donation(campaign=campaign, on=D(2026, 11, 30))
    page = _cancel(later, {"confirm": "yes"})
    assert f"Your Gift Aid declaration was not changed: gift {later.pk} has no Gift Aid declaration of its own" in page
    assert Declaration.objects.get().cancelled_on is None
    assert not AuditEvent.objects.filter(action__startswith="giftaid.declaration_cancel").exists()


def test_only_the_gifts_own_link_cancels_and_only_by_post() -> None:
    gift = make_donation(on=D(2026, 6, 15))
    declare(gift, Scope.THIS_AND_FUTURE, declared_on=D(2026, 6, 15))  # one the page may cancel
    assert Client().post("/gifts/not-a-token/gift-aid/cancel/", {"confirm": "yes"}).status_code == 404
    assert Client().get(f"/gifts/{gift.receipt_token}/gift-aid/cancel/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/gifts/{gift.receipt_token}/gift-aid/cancel/", {"confirm": "yes"}).status_code == 403
    assert Declaration.objects.get().cancelled_on is None
    # the same request with the page's CSRF token does cancel: the refusals above were the link and the token
    page = strict.get(f"/gifts/{gift.receipt_token}/")
    token = page.cookies["csrftoken"].value
    strict.post(f"/gifts/{gift.receipt_token}/gift-aid/cancel/", {"confirm": "yes", "csrfmiddlewaretoken": token})
    assert Declaration.objects.get().cancelled_on == TODAY
