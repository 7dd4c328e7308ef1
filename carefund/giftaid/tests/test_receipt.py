"""The receipt's Gift Aid paragraph (`giftaid.receipt`, through campaigns' `receipt_lines` signal)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from carefund.campaigns.tasks import receipt_body
from carefund.core import clock
from carefund.giftaid.rules import Scope
from carefund.giftaid.services import declaration_cancel
from carefund.giftaid.tests.factories import aware, declare, declare_row, make_donation, make_user

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture(autouse=True)
def _clock() -> Any:
    with clock.frozen_at(aware(D(2026, 12, 31))):
        yield


@pytest.mark.parametrize(
    ("scope", "words"),
    [
        (Scope.THIS_GIFT, "covers this gift."),
        (Scope.THIS_AND_FUTURE, "covers this gift and your future gifts."),
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, "covers this gift, your future gifts and those of the past four years."),
    ],
)
def test_the_receipt_names_the_declaration_and_the_gift_aid_it_brings(scope: Scope, words: str) -> None:
    gift = make_donation(amount_pence=2500, on=D(2026, 6, 15))
    declare(gift, scope, declared_on=D(2026, 6, 15))
    body = receipt_body(gift)
    assert f"Gift Aid: your declaration of 15 June 2026 {words} It adds £6.25 to this gift from HMRC" in body
    if scope is Scope.THIS_GIFT:  # the gift's page has no control for it: the receipt does not send the donor there
        assert "It covers this gift only, so there is nothing to cancel for later gifts." in body
        assert "gift's page" not in body and "To cancel it" not in body
    else:
        assert "To cancel it for your gifts from now on, use your gift's page (the link below) or tell " in body
    assert "reply to this email" in body


def test_a_later_gift_covered_by_an_earlier_declaration_says_so_and_a_cancelled_one_says_nothing() -> None:
    first = make_donation(amount_pence=1000, on=D(2026, 6, 15))
    declaration = declare(first, Scope.THIS_AND_FUTURE, declared_on=D(2026, 6, 15))
    later = make_donation(amount_pence=4000, on=D(2026, 9, 1))
    assert "It adds £10.00 to this gift" in receipt_body(later)
    declaration_cancel(
        declaration=declaration,
        on_date=D(2026, 8, 1),
        reason="no longer pays tax",
        actor=make_user(perms=("giftaid.cancel_declaration",)),
    )
    assert "Gift Aid" not in receipt_body(later)


def test_no_paragraph_without_a_declaration_or_for_takings_no_one_donor_gave() -> None:
    assert "Gift Aid" not in receipt_body(make_donation(amount_pence=1000))
    takings = make_donation(amount_pence=1000, kind="event_takings")
    declare_row(takings, Scope.THIS_GIFT)  # the service refuses it now; a row from before must still say nothing
    assert "Gift Aid" not in receipt_body(takings)


def test_a_failing_part_leaves_the_receipt_without_it(caplog: pytest.LogCaptureFixture) -> None:
    from carefund.campaigns.tasks import receipt_lines

    def broken(**_: Any) -> list[str]:
        raise RuntimeError("the Gift Aid tables are being migrated")

    gift = make_donation(amount_pence=2500, on=D(2026, 6, 15))
    declare(gift, Scope.THIS_GIFT, declared_on=D(2026, 6, 15))
    receipt_lines.connect(broken, dispatch_uid="test.broken")
    try:
        body = receipt_body(gift)
    finally:
        receipt_lines.disconnect(dispatch_uid="test.broken")
    assert "Thank you for your gift of £25.00" in body and "It adds £6.25" in body
    assert f"receipt of gift #{gift.pk}" in caplog.text and "failed" in caplog.text


def test_the_receipt_can_be_replied_to_and_names_the_charitys_number(settings: Any, mailoutbox: list[Any]) -> None:
    from carefund.campaigns.tasks import receipts_send

    settings.CHARITY_NUMBER = "1234567"
    settings.CHARITY_EMAIL = "donors@charity.example"
    gift = make_donation(amount_pence=2500, on=D(2026, 6, 15))
    assert receipts_send.call(donation_ids=[gift.pk]) == 1
    (mail,) = mailoutbox
    assert mail.reply_to == ["donors@charity.example"]
    assert "registered charity number 1234567" in mail.body
    assert "Questions? Reply to this email: it reaches donors@charity.example." in mail.body


def test_receipts_sent_together_each_name_only_their_own_donors_declaration(mailoutbox: list[Any]) -> None:
    from carefund.campaigns.tasks import receipts_send

    ann = make_donation(amount_pence=2000, on=D(2026, 6, 15))
    declare(ann, Scope.THIS_AND_FUTURE, declared_on=D(2026, 6, 15))
    campaign = ann.campaign
    ann_again = make_donation(campaign=campaign, amount_pence=4000, on=D(2026, 9, 1))
    bob = make_donation(
        campaign=campaign, amount_pence=3000, on=D(2026, 9, 1), email="bob@example.org", name="Bob Smith"
    )
    assert receipts_send.call(donation_ids=[ann.pk, bob.pk, ann_again.pk]) == 3
    bodies = {mail.body.split("gift reference #")[1].split(".")[0]: mail.body for mail in mailoutbox}
    assert "It adds £5.00 to this gift" in bodies[str(ann.pk)]
    assert "It adds £10.00 to this gift" in bodies[str(ann_again.pk)]
    assert "Gift Aid" not in bodies[str(bob.pk)]
