"""The pure claim rules, exactly (no database)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carefund.giftaid import claim_rules as r
from carefund.giftaid.claim_rules import Candidate, LeftOutReason, Placement, ScheduleRow, SmallGift

D = dt.date
TODAY = D(2026, 12, 7)


@pytest.mark.parametrize(
    ("day", "end"),
    [
        (D(2026, 4, 5), D(2026, 4, 5)),
        (D(2026, 4, 6), D(2027, 4, 5)),
        (D(2026, 1, 1), D(2026, 4, 5)),
        (D(2026, 12, 31), D(2027, 4, 5)),
    ],
)
def test_period_end_is_the_tax_year_end_on_or_after_the_day(day, end):
    assert r.period_end_for(day) == end


def test_period_end_for_an_accounting_year():
    assert r.period_end_for(D(2026, 12, 31), month=12, day_of_month=31) == D(2026, 12, 31)
    assert r.period_end_for(D(2027, 1, 1), month=12, day_of_month=31) == D(2027, 12, 31)


def test_claim_deadline_is_four_years_after_the_period_end():
    assert r.claim_deadline(D(2022, 3, 1)) == D(2026, 4, 5)
    assert r.claim_deadline(D(2022, 4, 6)) == D(2027, 4, 5)
    assert r.claim_deadline(D(2022, 4, 6), years=2) == D(2025, 4, 5)
    assert r.claim_deadline(D(2024, 2, 29), month=2, day_of_month=29, years=1) == D(2025, 2, 28)
    assert r.add_years(D(2024, 2, 29), -4) == D(2020, 2, 29)
    assert r.add_years(D(2024, 2, 29), 1) == D(2025, 2, 28)


def test_deadline_is_near_within_90_days_inclusive_and_not_when_passed():
    assert r.is_deadline_near(TODAY, today=TODAY)
    assert r.is_deadline_near(TODAY + dt.timedelta(days=90), today=TODAY)
    assert not r.is_deadline_near(TODAY + dt.timedelta(days=91), today=TODAY)
    assert not r.is_deadline_near(TODAY - dt.timedelta(days=1), today=TODAY)


def _candidate(**kw):
    base = {
        "amount_pence": 1_000,
        "received_on": D(2026, 6, 1),
        "reversed": False,
        "eligible": True,
        "covered": True,
        "cancelled_declaration": False,
        "details_pass": True,
    }
    return Candidate(**{**base, **kw})


DEADLINE = D(2031, 4, 5)


@pytest.mark.parametrize(
    ("kw", "placement", "reason"),
    [
        ({}, Placement.ROW, None),
        ({"reversed": True}, None, LeftOutReason.REFUNDED),
        ({"amount_pence": 0}, None, LeftOutReason.REFUNDED),
        ({"reversed": True, "eligible": False}, None, LeftOutReason.REFUNDED),
        ({"eligible": False, "covered": False}, None, LeftOutReason.NOT_ELIGIBLE),
        ({"covered": False}, None, LeftOutReason.NO_DECLARATION),
        ({"covered": False, "cancelled_declaration": True}, None, LeftOutReason.CANCELLED),
        ({"details_pass": False}, Placement.AGGREGATED, None),
        ({"details_pass": False, "amount_pence": 2_000}, Placement.AGGREGATED, None),
        ({"details_pass": False, "amount_pence": 2_001}, None, LeftOutReason.DETAILS_INCOMPLETE),
        ({"details_pass": False, "sponsored": True}, None, LeftOutReason.DETAILS_INCOMPLETE),
        ({"sponsored": True}, Placement.ROW, None),
    ],
)
def test_classify(kw, placement, reason):
    assert r.classify(_candidate(**kw), deadline=DEADLINE, today=TODAY) == r.Decision(placement, reason)


def test_classify_out_of_time_only_after_the_deadline_day():
    assert r.classify(_candidate(), deadline=TODAY, today=TODAY).placement is Placement.ROW
    late = r.classify(_candidate(), deadline=TODAY - dt.timedelta(days=1), today=TODAY)
    assert late == r.Decision(None, LeftOutReason.OUT_OF_TIME)
    # a gift with no declaration is named for that first, whatever its deadline
    assert (
        r.classify(_candidate(covered=False), deadline=D(2000, 1, 1), today=TODAY).reason
        is LeftOutReason.NO_DECLARATION
    )


def test_the_aggregation_threshold_is_a_setting():
    wider = r.classify(
        _candidate(details_pass=False, amount_pence=3_000), deadline=DEADLINE, today=TODAY, aggregation_max_pence=3_000
    )
    assert wider.placement is Placement.AGGREGATED


def test_aggregate_fills_lines_to_exactly_1000_pounds_and_splits_periods():
    p1, p2 = D(2026, 4, 5), D(2027, 4, 5)
    gifts = [SmallGift(i, 2_000, D(2026, 1, 1) + dt.timedelta(days=i), p1) for i in range(51)]
    gifts.append(SmallGift(100, 500, D(2026, 5, 1), p2))
    lines = r.aggregate(gifts)
    assert [(len(line.keys), line.amount_pence) for line in lines] == [(50, 100_000), (1, 2_000), (1, 500)]
    assert lines[0].keys == tuple(range(50))
    assert lines[0].last_date == gifts[49].received_on
    assert lines[1].last_date == gifts[50].received_on
    assert lines[2].last_date == D(2026, 5, 1)


def test_aggregate_last_date_is_the_latest_gift_of_the_line():
    p = D(2027, 4, 5)
    lines = r.aggregate([SmallGift(2, 100, D(2026, 9, 1), p), SmallGift(1, 100, D(2026, 7, 1), p)])
    assert lines == [r.AggregatedLine((1, 2), 200, D(2026, 9, 1))]
    assert r.aggregate([]) == []
    with pytest.raises(ValueError):
        r.aggregate([SmallGift(1, 100_001, D(2026, 9, 1), p)])


@settings(deadline=None)  # up to 300 gifts a case: no per-case deadline on a shared machine
@given(st.lists(st.integers(min_value=1, max_value=2_000), max_size=300))
def test_aggregate_keeps_every_penny_and_every_line_within_the_limit(amounts):
    gifts = [SmallGift(i, a, D(2026, 6, 1), D(2027, 4, 5)) for i, a in enumerate(amounts)]
    lines = r.aggregate(gifts)
    assert sum(line.amount_pence for line in lines) == sum(amounts)
    assert sorted(k for line in lines for k in line.keys) == list(range(len(amounts)))
    assert all(0 < line.amount_pence <= r.AGGREGATED_LINE_MAX_PENCE for line in lines)


def test_aggregated_description():
    assert r.aggregated_description(2_000) == "Gifts of £20 or less"
    assert r.aggregated_description(2_950) == "Gifts of £29.50 or less"


@pytest.mark.parametrize(("line", "item", "file"), [(1, 1, 1), (1_000, 1_000, 1), (1_001, 1, 2), (2_000, 1_000, 2)])
def test_item_and_schedule_numbers(line, item, file):
    assert r.item_number(line) == item
    assert r.schedule_number(line) == file


def test_schedules_needed():
    assert [r.schedules_needed(n) for n in (0, 1, 1_000, 1_001, 2_000, 2_001)] == [1, 1, 1, 2, 2, 3]


def test_formats():
    assert r.format_amount(20_000) == "200.00"
    assert r.format_amount(5) == "0.05"
    assert r.format_amount(123_456_789) == "1234567.89"
    assert r.format_date(D(2026, 6, 5)) == "05/06/26"


def test_row_cells():
    row = ScheduleRow(
        line=1_002,
        donation_date=D(2026, 6, 5),
        amount_pence=2_550,
        title="Mr",
        first_name="Tom",
        last_name="Smith-Jones",
        house="3",
        postcode="ct21 5lx",
        sponsored=True,
    )
    assert r.row_cells(row) == ("2", "Mr", "Tom", "Smith Jones", "3", "CT21 5LX", "", "Yes", "05/06/26", "25.50")


GOOD = ["1", "Mrs", "Ann", "Smith", "12", "S19 2BD", "", "", "15/06/26", "200.00"]


def _problems(**changes):
    cells = list(GOOD)
    for index, value in changes.items():
        cells[int(index[1:])] = value
    return [(p.column, p.message) for p in r.cells_problems(7, cells, today=TODAY)]


def test_a_good_row_passes():
    assert _problems() == []
    assert _problems(c1="", c5="X") == []  # no title; a donor outside the UK
    assert _problems(c0="1000", c1="O'N", c7="Yes") == []


@pytest.mark.parametrize(
    ("changes", "column", "fragment"),
    [
        ({"c0": "0"}, "Item", "1 to 1000"),
        ({"c0": "1001"}, "Item", "1 to 1000"),
        ({"c0": "01"}, "Item", "1 to 1000"),
        ({"c1": "M"}, "Title", "2 to 4 letters"),
        ({"c1": "Mrs.x"}, "Title", "2 to 4 letters"),
        ({"c2": ""}, "First name", "is required"),
        ({"c2": "A" * 36}, "First name", "at most 35"),
        ({"c3": "Sm1th"}, "Last name", "has a digit"),
        ({"c3": "Smith-Jones"}, "Last name", "space instead of the hyphen"),
        ({"c4": ""}, "House name or number", "is required"),
        ({"c4": "H" * 41}, "House name or number", "at most 40"),
        ({"c5": "S192BD"}, "Postcode", "with its space"),
        ({"c5": ""}, "Postcode", "not a UK postcode"),
        ({"c7": "yes"}, "Sponsored event", "blank or Yes"),
        ({"c8": "15/06/2026"}, "Donation date", "DD/MM/YY"),
        ({"c8": "31/02/26"}, "Donation date", "DD/MM/YY"),
        ({"c8": "08/12/26"}, "Donation date", "in the future"),
        ({"c9": "200"}, "Amount", "exactly two decimals"),
        ({"c9": "£200.00"}, "Amount", "exactly two decimals"),
        ({"c9": "0.00"}, "Amount", "at least 0.01"),
        ({"c9": "12345678901234.00"}, "Amount", "exactly two decimals"),
    ],
)
def test_each_validator_rule_names_the_column_and_what_to_fix(changes, column, fragment):
    problems = _problems(**changes)
    assert len(problems) == 1, problems
    assert problems[0][0] == column
    assert fragment in problems[0][1]


def test_max_amount_and_length_of_15_digits():
    assert _problems(c9="9999999999999.99") == []


def test_aggregated_rows():
    agg = ["1", "", "", "", "", "", "Gifts of £20 or less", "", "15/06/26", "1000.00"]
    assert r.cells_problems(1, agg, today=TODAY) == []
    over = [*agg[:9], "1000.01"]
    assert [p.message for p in r.cells_problems(1, over, today=TODAY)] == [
        "an aggregated line may not be more than 1000.00"
    ]
    with_name = ["1", "", "Ann", "", "", "", "Gifts", "Yes", "15/06/26", "10.00"]
    assert [p.column for p in r.cells_problems(1, with_name, today=TODAY)] == ["First name", "Sponsored event"]
    long = ["1", "", "", "", "", "", "D" * 36, "", "15/06/26", "10.00"]
    assert [p.column for p in r.cells_problems(1, long, today=TODAY)] == ["Aggregated donations"]
    assert str(r.cells_problems(4, long, today=TODAY)[0]).startswith("line 4, Aggregated donations: ")


def test_donor_details_pass():
    kw = {"title": "Mrs", "first_name": "Ann", "last_name": "Smith", "house": "12", "postcode": "S19 2BD"}
    assert r.donor_details_pass(**kw, today=TODAY)
    assert not r.donor_details_pass(**{**kw, "postcode": "S192BD"}, today=TODAY)
    # a hyphen is written as a space on the schedule, so a double-barrelled name passes
    assert r.donor_details_pass(**{**kw, "last_name": "Smith-Jones"}, today=TODAY)


def test_overclaimed_cell():
    assert r.overclaimed_problem(0) is None
    assert r.overclaimed_problem(1) is None
    assert r.overclaimed_problem(-1) == "previously overclaimed amount must be positive or blank"


def test_gift_aid_to_repay():
    assert r.gift_aid_to_repay(claimed_gift_aid_pence=2_500, kept_pence=0, repaid_pence=0) == 2_500
    assert r.gift_aid_to_repay(claimed_gift_aid_pence=2_500, kept_pence=6_000, repaid_pence=0) == 1_000
    assert r.gift_aid_to_repay(claimed_gift_aid_pence=2_500, kept_pence=0, repaid_pence=1_000) == 1_500
    assert r.gift_aid_to_repay(claimed_gift_aid_pence=2_500, kept_pence=10_000, repaid_pence=0) == 0
    assert r.gift_aid_to_repay(claimed_gift_aid_pence=2_500, kept_pence=-5, repaid_pence=2_500) == 0


def test_overclaims_carried_while_they_stay_below_the_claims_gift_aid():
    pending = [(1, 1_000), (2, 500), (3, 100)]
    assert r.overclaims_to_carry(pending, gift_aid_pence=1_601) == [1, 2, 3]
    assert r.overclaims_to_carry(pending, gift_aid_pence=1_600) == [1, 2]
    assert r.overclaims_to_carry(pending, gift_aid_pence=1_000) == []
    assert r.overclaims_to_carry([], gift_aid_pence=1_000) == []


def test_payment_difference():
    assert r.payment_difference(expected_pence=2_500, paid_pence=2_400) == -100
    assert r.payment_difference(expected_pence=2_500, paid_pence=2_500) == 0


def test_gasds_limits():
    kw = {"small_donations_pence": 1_000_000, "gift_aid_donations_pence": 100_000}
    assert r.gasds_claimable_pence(**kw) == 800_000  # the £8,000 a year
    assert r.gasds_claimable_pence(small_donations_pence=1_000_000, gift_aid_donations_pence=50_000) == 500_000
    assert r.gasds_claimable_pence(small_donations_pence=30_000, gift_aid_donations_pence=50_000) == 30_000
    assert r.gasds_claimable_pence(**kw, already_claimed_pence=700_000) == 100_000
    assert r.gasds_claimable_pence(**kw, already_claimed_pence=900_000) == 0
    assert r.gasds_claimable_pence(small_donations_pence=1_000, gift_aid_donations_pence=0) == 0


def test_gasds_small_gift():
    assert r.is_gasds_small_gift(3_000, collection=False)
    assert not r.is_gasds_small_gift(3_001, collection=False)
    assert r.is_gasds_small_gift(50_000, collection=True)
    assert not r.is_gasds_small_gift(0, collection=True)


def test_split_evenly():
    assert r.split_evenly(10, [1, 1, 1]) == [4, 3, 3]
    assert r.split_evenly(100, [3, 1]) == [75, 25]
    assert r.split_evenly(5, [0, 0]) == [0, 0]
    assert sum(r.split_evenly(1_001, [7, 13, 29])) == 1_001
