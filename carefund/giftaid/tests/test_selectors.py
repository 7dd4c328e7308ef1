"""What a gift or a campaign will bring in Gift Aid, and a donor's declarations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carefund.core import clock
from carefund.core.errors import ValidationError
from carefund.giftaid.rules import Scope
from carefund.giftaid.selectors import declarations_for_donor, gift_aid_due_for_campaign, gift_aid_due_for_donation
from carefund.giftaid.services import declaration_cancel
from carefund.giftaid.tests.factories import aware, declare, declare_row, make_campaign, make_donation, make_user

CANCEL = ("giftaid.cancel_declaration",)

pytestmark = pytest.mark.django_db

D = dt.date
DECLARED = D(2026, 6, 15)


@pytest.fixture(autouse=True)
def _clock() -> Any:
    with clock.frozen_at(aware(D(2026, 12, 31))):
        yield


def test_the_declared_gift_brings_a_quarter() -> None:
    gift = make_donation(amount_pence=2500, on=DECLARED)
    declare(gift, Scope.THIS_GIFT)
    assert gift_aid_due_for_donation(donation=gift) == 625


def test_no_declaration_no_gift_aid() -> None:
    gift = make_donation(amount_pence=2500, on=DECLARED)
    assert gift_aid_due_for_donation(donation=gift) == 0


@pytest.mark.parametrize("status", ["pending", "refunded", "disputed"])
def test_only_succeeded_gifts_bring_gift_aid(status: str) -> None:
    gift = make_donation(amount_pence=2500, on=DECLARED, status=status)
    declare(gift, Scope.THIS_GIFT)
    assert gift_aid_due_for_donation(donation=gift) == 0


@pytest.mark.parametrize(
    ("scope", "later_on", "due"),
    [
        (Scope.THIS_GIFT, D(2026, 7, 1), 0),
        (Scope.THIS_AND_FUTURE, D(2026, 7, 1), 100),
        (Scope.THIS_AND_FUTURE, D(2026, 6, 14), 0),
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, D(2022, 6, 15), 100),
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, D(2022, 6, 14), 0),
    ],
)
def test_other_gifts_by_the_same_email_by_scope(scope: Scope, later_on: dt.date, due: int) -> None:
    declare(make_donation(amount_pence=1000, on=DECLARED, email="ann@example.org"), scope)
    other = make_donation(amount_pence=400, on=later_on, email="ANN@example.org")
    assert gift_aid_due_for_donation(donation=other) == due


def test_another_donors_gift_is_not_covered() -> None:
    declare(make_donation(on=DECLARED, email="ann@example.org"), Scope.PAST_FOUR_YEARS_AND_FUTURE)
    assert gift_aid_due_for_donation(donation=make_donation(on=D(2026, 7, 1), email="bob@example.org")) == 0


@pytest.mark.parametrize("scope", [Scope.THIS_AND_FUTURE, Scope.PAST_FOUR_YEARS_AND_FUTURE])
def test_the_same_email_with_another_surname_is_not_covered(scope: Scope) -> None:
    campaign = make_campaign()
    declare(make_donation(campaign=campaign, amount_pence=1000, on=DECLARED, name="Ann Smith"), scope)
    spouse = make_donation(campaign=campaign, amount_pence=4000, on=D(2026, 7, 1), name="Bob Jones")
    assert gift_aid_due_for_donation(donation=spouse) == 0
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 250


@pytest.mark.parametrize("name", ["Ann Smith", "ann  SMITH ", "A Smith", "Smith"])
def test_the_same_email_and_surname_is_covered(name: str) -> None:
    campaign = make_campaign()
    declare(make_donation(campaign=campaign, amount_pence=1000, on=DECLARED), Scope.THIS_AND_FUTURE)
    later = make_donation(campaign=campaign, amount_pence=4000, on=D(2026, 7, 1), email=" ANN@example.org", name=name)
    assert gift_aid_due_for_donation(donation=later) == 1000
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 250 + 1000


@pytest.mark.parametrize(
    ("name", "anonymous", "due"),
    [
        ("", False, 0),  # no name on the gift
        ("", True, 0),
        ("Bob Jones", True, 0),  # anonymous, and the stored name is another person's
        ("Ann Smith", True, 1000),  # anonymous on the page, but the stored name is the declarant's
        ("Ann Goldsmith", False, 0),
    ],
)
def test_a_gift_with_no_or_another_name_is_not_covered(name: str, anonymous: bool, due: int) -> None:
    campaign = make_campaign()
    declare(make_donation(campaign=campaign, amount_pence=1000, on=DECLARED), Scope.PAST_FOUR_YEARS_AND_FUTURE)
    later = make_donation(campaign=campaign, amount_pence=4000, on=D(2026, 7, 1), name=name, anonymous=anonymous)
    assert gift_aid_due_for_donation(donation=later) == due
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 250 + due


@pytest.mark.parametrize(
    ("last_name", "name", "due"),
    [
        ("Müller", "Jo Müller", 1000),
        ("MüLLER", "jo müller", 1000),  # A-Z fold
        ("Müller", "JO MÜLLER", 0),  # Ü and ü differ: only A-Z fold, in SQL (whatever the locale) as in Python
        ("Smith Jones", "Jo  smith   JONES ", 1000),
        ("Smith-Jones", "Jo Smith Jones", 0),
    ],
)
def test_names_fold_alike_in_sql_and_python(last_name: str, name: str, due: int) -> None:
    campaign = make_campaign()
    declare(
        make_donation(campaign=campaign, amount_pence=1000, on=DECLARED), Scope.THIS_AND_FUTURE, last_name=last_name
    )
    later = make_donation(campaign=campaign, amount_pence=4000, on=D(2026, 7, 1), name=name)
    assert gift_aid_due_for_donation(donation=later) == due
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 250 + due


@pytest.mark.parametrize("name", ["Bob Jones", "", "Ann Goldsmith"])
def test_the_gift_the_declaration_was_made_with_is_always_covered(name: str) -> None:
    campaign = make_campaign()
    gift = make_donation(campaign=campaign, amount_pence=2000, on=DECLARED, name=name, anonymous=name == "")
    declare(gift, Scope.THIS_AND_FUTURE)  # declared as Ann Smith
    assert gift_aid_due_for_donation(donation=gift) == 500
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 500


def test_a_cancelled_declaration_stops_the_same_donors_later_gifts() -> None:
    campaign = make_campaign()
    declaration = declare(make_donation(campaign=campaign, amount_pence=1000, on=DECLARED), Scope.THIS_AND_FUTURE)
    before = make_donation(campaign=campaign, amount_pence=2000, on=D(2026, 8, 31), name="Ann Smith")
    after = make_donation(campaign=campaign, amount_pence=4000, on=D(2026, 9, 1), name="Ann Smith")
    declaration_cancel(
        declaration=declaration, on_date=D(2026, 9, 1), reason="donor request", actor=make_user(perms=CANCEL)
    )
    assert gift_aid_due_for_donation(donation=before) == 500
    assert gift_aid_due_for_donation(donation=after) == 0
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 250 + 500


def test_a_gift_without_email_is_covered_only_by_its_own_declaration() -> None:
    declare(make_donation(on=DECLARED, email=""), Scope.PAST_FOUR_YEARS_AND_FUTURE)
    assert gift_aid_due_for_donation(donation=make_donation(on=D(2026, 7, 1), email="")) == 0


@pytest.mark.parametrize("kind", ["event_takings", "bucket_collection"])
def test_collections_are_not_one_donors_gift(kind: str) -> None:
    gift = make_donation(amount_pence=1000, on=DECLARED, kind=kind)
    with pytest.raises(ValidationError, match="not one donor's own gift"):
        declare(gift, Scope.THIS_GIFT)
    declare_row(gift, Scope.THIS_GIFT)  # a row from before the service refused it
    assert gift_aid_due_for_donation(donation=gift) == 0
    assert gift_aid_due_for_campaign(campaign_id=gift.campaign_id) == 0


def test_cancelled_declarations_stop_future_gifts_but_not_past_ones() -> None:
    first = make_donation(amount_pence=1000, on=DECLARED)
    declaration = declare(first, Scope.THIS_AND_FUTURE)
    before = make_donation(amount_pence=2000, on=D(2026, 8, 31))
    after = make_donation(amount_pence=4000, on=D(2026, 9, 1))
    declaration_cancel(
        declaration=declaration, on_date=D(2026, 9, 1), reason="donor request", actor=make_user(perms=CANCEL)
    )
    assert gift_aid_due_for_donation(donation=first) == 250
    assert gift_aid_due_for_donation(donation=before) == 500
    assert gift_aid_due_for_donation(donation=after) == 0


def test_a_new_declaration_after_a_cancellation_covers_again() -> None:
    old = declare(make_donation(on=DECLARED), Scope.THIS_AND_FUTURE)
    declaration_cancel(declaration=old, on_date=D(2026, 9, 1), reason="moved abroad", actor=make_user(perms=CANCEL))
    declare(make_donation(on=D(2026, 11, 1)), Scope.THIS_AND_FUTURE, declared_on=D(2026, 11, 1))
    assert gift_aid_due_for_donation(donation=make_donation(amount_pence=800, on=D(2026, 10, 1))) == 0
    assert gift_aid_due_for_donation(donation=make_donation(amount_pence=800, on=D(2026, 11, 2))) == 200


def test_campaign_total_counts_each_covered_gift_once() -> None:
    campaign = make_campaign()
    ann1 = make_donation(campaign=campaign, amount_pence=1000, on=DECLARED, email="ann@example.org")
    declare(ann1, Scope.PAST_FOUR_YEARS_AND_FUTURE)
    make_donation(campaign=campaign, amount_pence=2000, on=D(2026, 7, 1), email="ann@example.org")  # covered
    bob = make_donation(campaign=campaign, amount_pence=3000, on=D(2026, 7, 1), email="bob@example.org")
    declare(bob, Scope.THIS_GIFT)
    make_donation(campaign=campaign, amount_pence=5000, on=D(2026, 7, 2), email="bob@example.org")  # not covered
    make_donation(campaign=campaign, amount_pence=7000, on=D(2026, 7, 2), email="cy@example.org")  # no declaration
    make_donation(campaign=campaign, amount_pence=9000, on=D(2026, 7, 2), status="pending", email="ann@example.org")
    make_donation(amount_pence=1100, on=D(2026, 7, 2), email="ann@example.org")  # another campaign
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 250 + 500 + 750


def test_campaign_total_is_zero_without_gifts() -> None:
    assert gift_aid_due_for_campaign(campaign_id=make_campaign().pk) == 0


def test_campaign_total_takes_a_fixed_number_of_queries() -> None:
    campaign = make_campaign()
    for i in range(30):
        gift = make_donation(campaign=campaign, amount_pence=1000, on=DECLARED, email=f"d{i}@example.org")
        declare(gift, Scope.THIS_GIFT)
    with CaptureQueriesContext(connection) as queries:
        assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 30 * 250
    assert len(queries) == 1


def test_campaign_total_at_each_date_edge() -> None:
    campaign = make_campaign()

    def gift(amount: int, on: dt.date, email: str = "ann@example.org") -> Any:
        return make_donation(campaign=campaign, amount_pence=amount, on=on, email=email)

    declaration = declare(gift(1000, DECLARED), Scope.PAST_FOUR_YEARS_AND_FUTURE)  # 250
    gift(400, D(2022, 6, 15))  # first day four years back: 100
    gift(4000, D(2022, 6, 14))  # a day too early: 0
    gift(800, D(2026, 8, 31))  # day before the cancellation: 200
    gift(40000, D(2026, 9, 1))  # the cancellation day: 0
    declaration_cancel(
        declaration=declaration, on_date=D(2026, 9, 1), reason="donor request", actor=make_user(perms=CANCEL)
    )
    declare(gift(1200, DECLARED, email=""), Scope.PAST_FOUR_YEARS_AND_FUTURE)  # its own gift: 300
    gift(100000, D(2026, 7, 1), email="")  # no email: never linked, 0
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 250 + 100 + 200 + 300


# Names on gifts: a declarant's (Smith or Müller) spelt differently, another surname, a surname that merely ends in
# "smith", none, a tab, and letters outside A-Z, which SQL and Python could fold differently if the rule let them.
NAMES = [
    "Ann Smith",
    " ann  SMITH",
    "A Smith",
    "Bob Jones",
    "Ann Goldsmith",
    "",
    "Ann\tSmith",
    "Jo Müller",
    "JO MÜLLER",
    "jo müller",
]

GIFTS = st.lists(
    st.tuples(
        st.sampled_from(["ann@example.org", "ANN@example.org ", "", ""]),
        st.sampled_from(NAMES),
        st.booleans(),  # shown as anonymous
        st.sampled_from([-1462, -1461, -1460, -1, 0, 1, 30]),  # days after DECLARED: edges four years back and near
        st.integers(min_value=1, max_value=10**7),
        st.sampled_from(["card", "cash", "event_takings", "bucket_collection"]),
        st.sampled_from(["succeeded", "succeeded", "pending", "refunded"]),
        st.one_of(st.none(), st.sampled_from(list(Scope))),  # a declaration made with this gift
        st.sampled_from(["Smith", "Müller", "MÜLLER"]),  # its last name
        st.one_of(st.none(), st.sampled_from([0, 1, 30])),  # cancelled this many days later
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(GIFTS)
def test_campaign_total_in_sql_equals_the_rules_gift_by_gift(gifts: list[tuple[Any, ...]]) -> None:
    campaign = make_campaign()
    officer = make_user(perms=CANCEL)
    made = []
    for email, name, anonymous, offset, amount, kind, status, scope, last_name, cancel_after in gifts:
        on = DECLARED + dt.timedelta(days=offset)
        gift = make_donation(
            campaign=campaign,
            amount_pence=amount,
            on=on,
            email=email,
            kind=kind,
            status=status,
            name=name,
            anonymous=anonymous,
        )
        if scope is not None:
            try:
                declaration = declare(gift, scope, declared_on=on, last_name=last_name)
            except ValidationError:  # a collection's takings: the table may still hold such a row from before
                declaration = declare_row(gift, scope, declared_on=on, last_name=last_name)
            if cancel_after is not None:
                declaration_cancel(
                    declaration=declaration, on_date=on + dt.timedelta(days=cancel_after), reason="x", actor=officer
                )
        made.append(gift)
    by_rules = sum(gift_aid_due_for_donation(donation=g) for g in made)
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == by_rules


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=10**7), st.booleans()), min_size=1, max_size=6))
def test_campaign_total_equals_sum_of_its_gifts(gifts: list[tuple[int, bool]]) -> None:
    campaign = make_campaign()
    made = []
    for i, (amount, declared) in enumerate(gifts):
        gift = make_donation(campaign=campaign, amount_pence=amount, on=DECLARED, email=f"p{i}@example.org")
        if declared:
            declare(gift, Scope.THIS_GIFT)
        made.append(gift)
    expected = sum(amount // 4 for amount, declared in gifts if declared)
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == expected
    assert sum(gift_aid_due_for_donation(donation=g) for g in made) == expected


def test_declarations_for_donor_matches_email_case_insensitively_newest_first() -> None:
    old = declare(make_donation(on=D(2025, 1, 1), email="Ann@Example.org"), Scope.THIS_GIFT, declared_on=D(2025, 1, 1))
    new = declare(make_donation(on=DECLARED, email="ann@example.org"), Scope.THIS_AND_FUTURE)
    declare(make_donation(on=DECLARED, email="bob@example.org"), Scope.THIS_GIFT)
    assert list(declarations_for_donor(email=" ANN@example.ORG ")) == [new, old]
    assert list(declarations_for_donor(email="")) == []
