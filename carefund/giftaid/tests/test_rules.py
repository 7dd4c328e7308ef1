"""Rule tables for Gift Aid: amounts, eligibility, coverage by scope and date, and HMRC field limits."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carefund.giftaid import rules
from carefund.giftaid.rules import DeclarationTerms, DonorDetails, GiftFacts, Ineligibility, Scope

D = dt.date


@pytest.mark.parametrize(
    ("amount_pence", "due"),
    [
        (1000, 250),  # sources.md: Gift Aid: the rate: £10 -> £2.50
        (100, 25),  # 25p per £1
        (1, 0),  # rounds down
        (3, 0),
        (4, 1),
        (7, 1),
        (8, 2),
        (5_000_000, 1_250_000),  # no upper limit
        (0, 0),
        (-500, 0),
    ],
)
def test_gift_aid_due_pence(amount_pence: int, due: int) -> None:
    assert rules.gift_aid_due_pence(amount_pence) == due


def test_gift_aid_due_pence_other_rate_is_rate_over_100_minus_rate() -> None:
    assert rules.gift_aid_due_pence(1000, basic_rate_percent=22) == 282  # 1000*22/78 = 282.05
    assert rules.gift_aid_due_pence(1000, basic_rate_percent=25) == 333


@pytest.mark.parametrize("bad", [10.0, "1000", True, None])
def test_gift_aid_due_pence_refuses_non_integers(bad: object) -> None:
    with pytest.raises(TypeError, match="amount_pence must be an int"):
        rules.gift_aid_due_pence(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [0, 100, -1])
def test_gift_aid_due_pence_refuses_impossible_rates(rate: int) -> None:
    with pytest.raises(ValueError, match="basic_rate_percent must be between 1 and 99"):
        rules.gift_aid_due_pence(1000, basic_rate_percent=rate)


@given(st.integers(min_value=1, max_value=10**13))
def test_gift_aid_due_is_a_quarter_rounded_down_and_never_more(amount_pence: int) -> None:
    due = rules.gift_aid_due_pence(amount_pence)
    assert due == amount_pence // 4
    assert 4 * due <= amount_pence < 4 * (due + 1)


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=10**9))
def test_gift_aid_on_two_gifts_never_exceeds_gift_aid_on_their_sum(a: int, b: int) -> None:
    # Rounding each gift down can lose at most a penny per gift, never add one.
    total = rules.gift_aid_due_pence(a + b)
    separate = rules.gift_aid_due_pence(a) + rules.gift_aid_due_pence(b)
    assert total - 1 <= separate <= total


# --- eligibility -----------------------------------------------------------------------------------------

GIFT = GiftFacts(amount_pence=2000, received_on=D(2026, 5, 1))


def test_an_ordinary_gift_is_eligible() -> None:
    verdict = rules.gift_eligibility(GIFT)
    assert verdict.eligible is True
    assert verdict.reasons == ()
    assert verdict.explanation == "eligible for Gift Aid"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"in_return_for_goods": True}, Ineligibility.GOODS_OR_TICKETS),
        ({"on_behalf_of_others": True}, Ineligibility.ON_BEHALF_OF_OTHERS),
        ({"from_company": True}, Ineligibility.COMPANY),
        ({"connected_person_event": True}, Ineligibility.CONNECTED_PERSON_EVENT),
        ({"amount_pence": 0}, Ineligibility.NOT_POSITIVE),
        ({"amount_pence": -1}, Ineligibility.NOT_POSITIVE),
    ],
)
def test_each_ineligible_kind(change: dict[str, object], reason: Ineligibility) -> None:
    from dataclasses import replace

    verdict = rules.gift_eligibility(replace(GIFT, **change))  # type: ignore[arg-type]
    assert verdict.eligible is False
    assert verdict.reasons == (reason,)
    assert verdict.explanation == "not eligible for Gift Aid: " + rules.INELIGIBILITY_REASONS[reason]


def test_several_reasons_are_all_given_in_order() -> None:
    verdict = rules.gift_eligibility(
        GiftFacts(amount_pence=500, received_on=D(2026, 1, 1), in_return_for_goods=True, from_company=True)
    )
    assert verdict.reasons == (Ineligibility.GOODS_OR_TICKETS, Ineligibility.COMPANY)


# --- coverage --------------------------------------------------------------------------------------------

DECLARED = D(2026, 6, 15)


def terms(scope: Scope, cancelled_on: dt.date | None = None) -> DeclarationTerms:
    return DeclarationTerms(
        scope=scope,
        declared_on=DECLARED,
        donation_id=7,
        cancelled_on=cancelled_on,
        donor_key="ann@example.org",
        last_name="Smith",
    )


ANN = {"donor_email": "ann@example.org", "donor_name": "Ann Smith"}


@pytest.mark.parametrize(
    ("scope", "donation_id", "received_on", "covered"),
    [
        # the declaration's own gift: always, whatever the scope
        (Scope.THIS_GIFT, 7, DECLARED, True),
        (Scope.THIS_AND_FUTURE, 7, DECLARED, True),
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, 7, DECLARED, True),
        # this gift only: nothing else, not even the same day
        (Scope.THIS_GIFT, 8, DECLARED, False),
        (Scope.THIS_GIFT, 8, D(2027, 1, 1), False),
        (Scope.THIS_GIFT, None, DECLARED, False),
        # this and future: from the declaration date on
        (Scope.THIS_AND_FUTURE, 8, DECLARED, True),
        (Scope.THIS_AND_FUTURE, 8, D(2026, 6, 14), False),
        (Scope.THIS_AND_FUTURE, 8, D(2036, 1, 1), True),
        # also the past four years: from the same day four years earlier
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, 8, D(2022, 6, 15), True),
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, 8, D(2022, 6, 14), False),
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, 8, D(2026, 6, 14), True),
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, 8, D(2030, 6, 14), True),
    ],
)
def test_coverage_by_scope_and_date(scope: Scope, donation_id: int | None, received_on: dt.date, covered: bool) -> None:
    assert rules.declaration_covers(terms(scope), donation_id=donation_id, received_on=received_on, **ANN) is covered


@pytest.mark.parametrize(
    ("scope", "donation_id", "received_on", "covered"),
    [
        # cancelled on 2026-09-01: earlier gifts stay covered, that day and later are not
        (Scope.THIS_AND_FUTURE, 8, D(2026, 8, 31), True),
        (Scope.THIS_AND_FUTURE, 8, D(2026, 9, 1), False),
        (Scope.THIS_AND_FUTURE, 8, D(2027, 1, 1), False),
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, 8, D(2023, 1, 1), True),
        (Scope.PAST_FOUR_YEARS_AND_FUTURE, 8, D(2026, 9, 1), False),
        # cancellation is not retrospective: the declaration's own gift stays covered
        (Scope.THIS_GIFT, 7, DECLARED, True),
        (Scope.THIS_AND_FUTURE, 7, DECLARED, True),
    ],
)
def test_cancellation_stops_later_gifts_only(
    scope: Scope, donation_id: int, received_on: dt.date, covered: bool
) -> None:
    cancelled = terms(scope, cancelled_on=D(2026, 9, 1))
    assert rules.declaration_covers(cancelled, donation_id=donation_id, received_on=received_on, **ANN) is covered


@pytest.mark.parametrize(
    ("email", "name", "covered"),
    [
        ("ann@example.org", "Ann Smith", True),
        (" ANN@Example.org ", "  ann   SMITH  ", True),  # case- and space-insensitive
        ("ann@example.org", "A. Smith", True),
        ("ann@example.org", "Smith", True),
        ("ann@example.org", "Bob Jones", False),  # a spouse giving from the same email
        ("ann@example.org", "Ann Goldsmith", False),  # a surname ending in "smith" is another surname
        ("ann@example.org", "Smith Ann", False),
        ("ann@example.org", "Smithson", False),
        ("ann@example.org", "", False),  # no name: never linked
        ("ann@example.org", "   ", False),
        ("bob@example.org", "Ann Smith", False),  # the same name with another email
        ("", "Ann Smith", False),
    ],
)
def test_another_gift_is_covered_only_with_the_same_email_and_last_name(email: str, name: str, covered: bool) -> None:
    later = D(2026, 7, 1)
    for scope in (Scope.THIS_AND_FUTURE, Scope.PAST_FOUR_YEARS_AND_FUTURE):
        got = rules.declaration_covers(
            terms(scope), donation_id=8, received_on=later, donor_email=email, donor_name=name
        )
        assert got is covered


@pytest.mark.parametrize(("email", "name"), [("bob@example.org", "Bob Jones"), ("", ""), ("ann@example.org", "")])
def test_the_declarations_own_gift_is_covered_whatever_its_name_and_email(email: str, name: str) -> None:
    for scope in Scope:
        assert rules.declaration_covers(
            terms(scope), donation_id=7, received_on=DECLARED, donor_email=email, donor_name=name
        )


def test_a_cancelled_declaration_stops_the_same_donors_later_gifts() -> None:
    cancelled = terms(Scope.THIS_AND_FUTURE, cancelled_on=D(2026, 9, 1))
    assert not rules.declaration_covers(cancelled, donation_id=8, received_on=D(2026, 9, 1), **ANN)
    assert rules.declaration_covers(cancelled, donation_id=8, received_on=D(2026, 8, 31), **ANN)


def test_terms_without_a_donor_cover_only_their_own_gift() -> None:
    bare = DeclarationTerms(scope=Scope.THIS_AND_FUTURE, declared_on=DECLARED, donation_id=7)
    assert not rules.declaration_covers(bare, donation_id=8, received_on=DECLARED, donor_email="", donor_name="")
    assert not rules.declaration_covers(bare, donation_id=8, received_on=DECLARED, **ANN)


@pytest.mark.parametrize(
    ("gift_name", "last_name", "matches"),
    [
        ("Ann Smith", "Smith", True),
        ("ANN SMITH", "smith", True),
        ("Ann  Smith   Jones ", "Smith Jones", True),  # runs of spaces collapsed
        ("Ann Smith Jones", "Smith  Jones", True),
        ("Ann Smith-Jones", "Smith-Jones", True),
        ("Ann Smith-Jones", "Jones", False),  # a hyphen is not a word break
        ("Ann Smith Jones", "Smith-Jones", False),
        ("Ann Goldsmith", "Smith", False),
        ("Ann\tSmith", "Smith", False),  # only the space character separates words
        ("Ann Smith", "", False),
        ("", "Smith", False),
        ("ÉMILE MÜLLER", "Müller", False),  # only A-Z fold: other letters must match exactly
        ("Émile Müller", "MüLLER", True),
    ],
)
def test_name_matches_last_name(gift_name: str, last_name: str, matches: bool) -> None:
    assert rules.name_matches_last_name(gift_name=gift_name, last_name=last_name) is matches


@given(st.text(alphabet="aAbB \x01-É\t", max_size=12))
def test_name_key_is_idempotent_and_has_no_double_spaces(name: str) -> None:
    key = rules.name_key(name)
    assert rules.name_key(key) == key
    assert "  " not in key
    assert key == key.strip(" ")


@pytest.mark.parametrize(
    ("declared_on", "earliest"),
    [
        (D(2028, 2, 29), D(2024, 2, 29)),  # leap day to leap day
        (D(2027, 2, 28), D(2023, 2, 28)),
        (D(2026, 3, 1), D(2022, 3, 1)),
    ],
)
def test_four_years_back_on_calendar_dates(declared_on: dt.date, earliest: dt.date) -> None:
    t = DeclarationTerms(scope=Scope.PAST_FOUR_YEARS_AND_FUTURE, declared_on=declared_on, donation_id=None)
    assert rules.earliest_covered_date(t) == earliest


def test_years_before_a_leap_day_lands_on_28_february() -> None:
    assert rules.years_before(D(2028, 2, 29), 1) == D(2027, 2, 28)


# --- HMRC field rules ------------------------------------------------------------------------------------


def details(**change: str) -> DonorDetails:
    base = {
        "title": "Mrs",
        "first_name": "Ann",
        "last_name": "Smith-Jones",
        "house_name_or_number": "12",
        "address": "Acacia Avenue, Sheffield",
        "postcode": "S19 2BD",
    }
    base.update(change)
    return DonorDetails.normalised(**base)


def test_good_details_have_no_problems() -> None:
    assert rules.donor_details_problems(details()) == ()


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("s19 2bd", "S19 2BD"), ("S192BD", "S19 2BD"), (" sw1a  1aa ", "SW1A 1AA"), ("x", "X"), ("", "")],
)
def test_postcode_normalised(raw: str, normal: str) -> None:
    assert rules.normalise_postcode(raw) == normal


@pytest.mark.parametrize(
    "postcode", ["S19 2BD", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "W1A 0AX", "EC1A 1BB", "GIR 0AA", "X"]
)
def test_valid_postcodes(postcode: str) -> None:
    assert rules.check_postcode(postcode) is None


@pytest.mark.parametrize("postcode", ["S19", "12345", "QI1 1AA", "S19 2BDX", "GIR 0AAX", "SW1A 1A", "Y"])
def test_invalid_postcodes(postcode: str) -> None:
    problem = rules.check_postcode(postcode)
    assert problem is not None
    assert problem.field == "postcode"
    assert problem.message == f"postcode {postcode!r} is not a UK postcode such as S19 2BD (or X outside the UK)"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"first_name": ""}, "first_name", "first name is required (an initial is enough for the first name)"),
        ({"last_name": "  "}, "last_name", "last name is required (an initial is enough for the first name)"),
        ({"first_name": "A" * 36}, "first_name", "first name must be at most 35 characters, not 36"),
        ({"last_name": "B" * 36}, "last_name", "last name must be at most 35 characters, not 36"),
        ({"house_name_or_number": ""}, "house_name_or_number", "house name or number is required for Gift Aid"),
        (
            {"house_name_or_number": "H" * 41},
            "house_name_or_number",
            "house name or number must be at most 40 characters, not 41",
        ),
        ({"address": ""}, "address", "home address is required for Gift Aid"),
        ({"postcode": ""}, "postcode", "postcode is required for Gift Aid (use X if you live outside the UK)"),
        (
            {"title": "M"},
            "title",
            "title must be 2 to 4 letters (apostrophes and hyphens allowed after the first), e.g. Mr, Mrs, Dr",
        ),
        (
            {"title": "Mr."},
            "title",
            "title must be 2 to 4 letters (apostrophes and hyphens allowed after the first), e.g. Mr, Mrs, Dr",
        ),
        (
            {"title": "Major"},
            "title",
            "title must be 2 to 4 letters (apostrophes and hyphens allowed after the first), e.g. Mr, Mrs, Dr",
        ),
    ],
)
def test_each_field_limit(change: dict[str, str], field: str, message: str) -> None:
    problems = rules.donor_details_problems(details(**change))
    assert problems == (rules.FieldProblem(field, message),)


@pytest.mark.parametrize(
    "change",
    [
        {"first_name": "A" * 35},
        {"last_name": "B" * 35},
        {"house_name_or_number": "H" * 40},
        {"title": ""},
        {"title": "Dr"},
        {"title": "Prof"},
        {"first_name": "A"},
    ],
)
def test_values_at_the_limit_are_allowed(change: dict[str, str]) -> None:
    assert rules.donor_details_problems(details(**change)) == ()


def test_schedule_last_name_replaces_hyphens() -> None:
    assert rules.schedule_last_name("Smith-Jones") == "Smith Jones"
