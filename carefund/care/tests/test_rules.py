"""The pure rules of the care domain (no database)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carefund.care import pathways, rules
from carefund.core.errors import StateTransitionError, ValidationError

# --- postcodes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("CT21 5AB", "CT21 5AB"),
        ("ct215ab", "CT21 5AB"),
        ("  n7   6pa ", "N7 6PA"),
        ("SW1A1AA", "SW1A 1AA"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
        ("M1 1AE", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("gir 0aa", "GIR 0AA"),
    ],
)
def test_postcode_is_normalised_to_upper_case_with_one_space(raw, normalised):
    assert rules.normalise_postcode(raw) == normalised


@pytest.mark.parametrize(
    "raw", ["", "   ", "CT21", "12345", "CT21 5A", "CT21 5ABC", "QT21 5AB", "CT21 5CB", "ZZZ 1AA", "C!21 5AB"]
)
def test_invalid_postcodes_are_refused_naming_the_field(raw):
    with pytest.raises(ValidationError) as exc:
        rules.normalise_postcode(raw)
    assert exc.value.field == "home_postcode"
    assert str(exc.value).startswith("home_postcode: ")
    assert "CT21 5AB" in str(exc.value)


# --- NHS numbers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [("9434765919", "9434765919"), ("943 476 5919", "9434765919"), ("943-476-5919", "9434765919")],
)
def test_valid_nhs_number_is_normalised_to_digits(raw, digits):
    assert rules.normalise_nhs_number(raw) == digits


def test_check_digit_computation_by_hand():
    # 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2 = 299; 299 mod 11 = 2; 11 - 2 = 9.
    assert rules.nhs_check_digit("943476591") == 9


def test_remainder_zero_gives_check_digit_zero():
    # 11 - (sum mod 11) = 11 -> 0: sum 0 for nine zeros.
    assert rules.nhs_check_digit("000000000") == 0
    assert rules.normalise_nhs_number("0000000000") == "0000000000"


def test_check_digit_ten_means_no_valid_number():
    # 1*10 + 0... + 0*2 = 10 -> remainder 10 -> check 1; find a prefix with remainder 1 -> check 10.
    first_nine = "100000001"  # 10 + 2 = 12 -> 12 mod 11 = 1 -> 11 - 1 = 10
    assert rules.nhs_check_digit(first_nine) is None
    assert rules.nhs_number_with_check_digit(first_nine) is None
    for last in "0123456789":
        with pytest.raises(ValidationError):
            rules.normalise_nhs_number(first_nine + last)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "enter the child's 10-digit NHS number"),
        ("943476591", "exactly 10 digits"),
        ("94347659190", "exactly 10 digits"),
        ("943476591X", "non-digits"),
        ("9434765918", "modulus-11 check digit"),
    ],
)
def test_invalid_nhs_numbers_are_refused_naming_the_field(raw, words):
    with pytest.raises(ValidationError) as exc:
        rules.normalise_nhs_number(raw)
    assert exc.value.field == "nhs_number"
    assert str(exc.value).startswith("nhs_number: ")
    assert words in str(exc.value)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_every_completed_number_is_valid_and_any_single_digit_change_is_caught(first_nine):
    number = rules.nhs_number_with_check_digit(first_nine)
    if number is None:
        return
    assert rules.normalise_nhs_number(number) == number
    for position in range(10):
        for digit in "0123456789":
            if digit == number[position]:
                continue
            changed = number[:position] + digit + number[position + 1 :]
            with pytest.raises(ValidationError):
                rules.normalise_nhs_number(changed)


# --- dates and costs ------------------------------------------------------------------------------------------


def test_date_of_birth_today_is_allowed_and_tomorrow_refused():
    today = dt.date(2026, 11, 24)
    assert rules.check_date_of_birth(today, today=today) == today
    with pytest.raises(ValidationError) as exc:
        rules.check_date_of_birth(dt.date(2026, 11, 25), today=today)
    assert exc.value.field == "date_of_birth"
    assert "in the future" in str(exc.value)


@pytest.mark.parametrize("value", [0, 1, 5_011_000])
def test_costs_in_whole_pence_zero_or_more_are_allowed(value):
    assert rules.check_cost_pence(value) == value


@pytest.mark.parametrize(
    ("value", "words"), [(-1, "zero or more"), (1.5, "whole number of pence"), ("100", "whole number"), (True, "whole")]
)
def test_negative_or_fractional_costs_are_refused(value, words):
    with pytest.raises(ValidationError) as exc:
        rules.check_cost_pence(value)
    assert exc.value.field == "cost_pence"
    assert words in str(exc.value)


@pytest.mark.parametrize("level", [0, 6, -1, 2.0, None, True])
def test_gmfcs_level_outside_one_to_five_is_refused(level):
    with pytest.raises(ValidationError) as exc:
        rules.check_gmfcs_level(level)
    assert exc.value.field == "gmfcs_level"


def test_item_dates_inside_the_plan_both_ends_included():
    start, end = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    assert rules.check_item_date(start, start_date=start, end_date=end) == start
    assert rules.check_item_date(end, start_date=start, end_date=end) == end
    for outside in (dt.date(2025, 12, 31), dt.date(2027, 1, 1)):
        with pytest.raises(ValidationError) as exc:
            rules.check_item_date(outside, start_date=start, end_date=end)
        assert exc.value.field == "planned_date"
        assert "2026-01-01 to 2026-12-31" in str(exc.value)


def test_plan_end_must_be_after_start():
    rules.check_plan_dates(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    with pytest.raises(ValidationError) as exc:
        rules.check_plan_dates(dt.date(2026, 1, 1), dt.date(2026, 1, 1))
    assert exc.value.field == "end_date"


# --- item states ----------------------------------------------------------------------------------------------

ALLOWED = {
    ("planned", "booked"),
    ("planned", "cancelled"),
    ("booked", "delivered"),
    ("booked", "planned"),
    ("booked", "cancelled"),
    ("delivered", "invoiced"),
    ("invoiced", "paid"),
}
STATES = ["planned", "booked", "delivered", "invoiced", "paid", "cancelled"]


@pytest.mark.parametrize(("from_state", "to_state"), sorted(ALLOWED))
def test_allowed_transitions_pass(from_state, to_state):
    rules.check_item_transition(from_state, to_state)


@pytest.mark.parametrize(("from_state", "to_state"), [p for p in itertools.product(STATES, STATES) if p not in ALLOWED])
def test_every_other_transition_is_refused_saying_what_is_allowed(from_state, to_state):
    with pytest.raises(StateTransitionError) as exc:
        rules.check_item_transition(from_state, to_state)
    assert exc.value.field == "state"
    message = str(exc.value)
    assert f"cannot change from '{from_state}' to '{to_state}'" in message
    if from_state in ("paid", "cancelled"):
        assert "is final" in message
    else:
        assert "it may only become" in message


def test_unknown_state_is_refused_listing_the_states():
    with pytest.raises(StateTransitionError) as exc:
        rules.check_item_transition("planned", "lost")
    assert "states are planned, booked, delivered, invoiced, paid, cancelled" in str(exc.value)


@pytest.mark.parametrize("state", STATES)
def test_cost_is_editable_only_before_invoicing(state):
    if state in ("planned", "booked", "delivered"):
        rules.check_cost_editable(state)
    else:
        with pytest.raises(StateTransitionError):
            rules.check_cost_editable(state)


# --- the SDR template -----------------------------------------------------------------------------------------


def test_sdr_template_totals_about_fifty_thousand_pounds_including_ten_thousand_surgery():
    items = pathways.sdr_template_items()
    assert pathways.sdr_template_total_pence() == 5_011_000
    surgery = [i for i in items if i.category == "surgery"]
    assert [i.cost_pence for i in surgery] == [1_000_000]
    assert {i.category for i in items} == {
        "assessment",
        "pre_op_physio",
        "surgery",
        "aftercare",
        "rehabilitation",
        "orthotics",
        "travel",
        "follow_up",
    }


def test_post_operative_physiotherapy_tapers_over_24_months_at_the_session_price():
    rehab = [i for i in pathways.sdr_template_items() if i.category == "rehabilitation"]
    assert len(rehab) == 8
    sessions = [i.cost_pence // pathways.PHYSIO_SESSION_PENCE for i in rehab]
    assert sessions == [52, 52, 39, 39, 26, 26, 26, 26]
    assert sum(sessions) * 7_000 == 2_002_000


def test_follow_ups_fall_at_6_12_and_24_months_after_surgery():
    follow_ups = [i for i in pathways.sdr_template_items() if i.category == "follow_up"]
    assert [i.offset_days - pathways.SURGERY_DAY for i in follow_ups] == [182, 365, 730]


def test_plan_items_from_template_are_dated_inside_the_plan():
    start = dt.date(2026, 12, 15)
    end, specs = rules.plan_items_from_template(
        pathways.sdr_template_items(), start_date=start, duration_days=pathways.SDR_DURATION_DAYS
    )
    assert end == dt.date(2029, 2, 22)
    assert specs[0].planned_date == start
    assert all(start <= s.planned_date <= end for s in specs)
    assert [s.position for s in specs] == list(range(1, 19))


def test_template_item_after_the_plan_end_is_refused():
    item = rules.TemplateItemSpec(1, "surgery", "late", 11, 100)
    with pytest.raises(ValidationError) as exc:
        rules.plan_items_from_template((item,), start_date=dt.date(2026, 1, 1), duration_days=10)
    assert exc.value.field == "planned_date"


@pytest.mark.parametrize(
    ("state", "offered"),
    [
        ("planned", ["booked", "cancelled"]),
        ("booked", ["cancelled", "delivered", "planned"]),
        ("delivered", []),  # only entering the provider's invoice moves it on
        ("invoiced", []),  # only paying that invoice moves it on
        ("paid", []),
        ("cancelled", []),
    ],
)
def test_people_are_offered_no_money_state(state, offered):
    assert rules.manual_next_states(state) == offered
