"""The pure rules, exactly: ranges, whole numbers, windows (edges included), follow-up status, suppression."""

from __future__ import annotations

import datetime as dt

import pytest

from carefund.core.errors import ValidationError
from carefund.outcomes import rules

GMFM = rules.MeasureSpec("gmfm66", "GMFM-66", "units", 0, 100)
LEVEL = rules.MeasureSpec("gmfcs", "GMFCS level", "level", 1, 5, whole_numbers=True)
SIX = rules.Window(6, "6 months after surgery", 45, 45)
BASE = rules.Window(0, "Baseline (before surgery)", 183, 0)


@pytest.mark.parametrize("value", [0, 0.0, 55.5, 100, 100.0])
def test_values_in_range_are_accepted_as_floats(value: float) -> None:
    assert rules.check_value(GMFM, value) == float(value)
    assert isinstance(rules.check_value(GMFM, value), float)


@pytest.mark.parametrize("value", [-0.01, 100.01, 101, -1])
def test_values_out_of_range_are_refused_naming_the_range(value: float) -> None:
    with pytest.raises(ValidationError) as exc:
        rules.check_value(GMFM, value)
    assert exc.value.field == "value"
    assert exc.value.message == f"value: {value:g} is outside the valid range of GMFM-66 (0 to 100 units)."


@pytest.mark.parametrize("value", [True, "50", None, float("nan"), float("inf")])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValidationError, match=r"^value: enter a number for GMFM-66\.$"):
        rules.check_value(GMFM, value)  # type: ignore[arg-type]


def test_whole_number_measures_refuse_fractions() -> None:
    assert rules.check_value(LEVEL, 3) == 3.0
    assert rules.check_value(LEVEL, 5.0) == 5.0
    with pytest.raises(ValidationError) as exc:
        rules.check_value(LEVEL, 2.5)
    assert exc.value.message == "value: GMFCS level takes whole numbers only (1 to 5 level); 2.5 is not one."
    with pytest.raises(ValidationError, match=r"outside the valid range of GMFCS level \(1 to 5 level\)"):
        rules.check_value(LEVEL, 6)
    with pytest.raises(ValidationError, match=r"^value: 0 is outside"):
        rules.check_value(LEVEL, 0)


def test_half_open_ranges_are_described() -> None:
    low = rules.MeasureSpec("w", "Walk", "m", min_value=0)
    high = rules.MeasureSpec("p", "Pain", max_value=10)
    free = rules.MeasureSpec("f", "Free")
    assert rules.check_value(low, 1e6) == 1e6
    with pytest.raises(ValidationError, match=r"^value: -1 is outside the valid range of Walk \(0 m or more\)\.$"):
        rules.check_value(low, -1)
    with pytest.raises(ValidationError, match=r"^value: 11 is outside the valid range of Pain \(up to 10\)\.$"):
        rules.check_value(high, 11)
    assert rules.check_value(free, -5) == -5.0


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 15), 6, dt.date(2026, 7, 15)),
        (dt.date(2026, 8, 31), 6, dt.date(2027, 2, 28)),
        (dt.date(2027, 8, 31), 6, dt.date(2028, 2, 29)),
        (dt.date(2026, 11, 30), 1, dt.date(2026, 12, 30)),
        (dt.date(2026, 12, 1), 1, dt.date(2027, 1, 1)),
        (dt.date(2026, 3, 3), 24, dt.date(2028, 3, 3)),
        (dt.date(2026, 3, 3), 0, dt.date(2026, 3, 3)),
    ],
)
def test_add_months(day: dt.date, months: int, expected: dt.date) -> None:
    assert rules.add_months(day, months) == expected


def test_window_dates_and_edges() -> None:
    surgery = dt.date(2026, 1, 15)
    assert rules.window_dates(surgery, SIX) == (dt.date(2026, 5, 31), dt.date(2026, 8, 29))
    assert rules.window_dates(surgery, BASE) == (dt.date(2025, 7, 16), dt.date(2026, 1, 15))
    for day in (dt.date(2026, 5, 31), dt.date(2026, 7, 15), dt.date(2026, 8, 29)):
        rules.check_in_window(surgery_date=surgery, window=SIX, observed_on=day)
    for day in (dt.date(2026, 5, 30), dt.date(2026, 8, 30)):
        with pytest.raises(ValidationError) as exc:
            rules.check_in_window(surgery_date=surgery, window=SIX, observed_on=day)
        assert exc.value.field == "observed_on"
        assert exc.value.message == (
            f"observed_on: {day:%d %B %Y} is outside the window of 6 months after surgery for surgery on "
            "15 January 2026; it counts only from 31 May 2026 to 29 August 2026. Check the date or the time point."
        )


def test_a_baseline_after_surgery_is_outside_its_window() -> None:
    with pytest.raises(ValidationError, match="outside the window of Baseline"):
        rules.check_in_window(surgery_date=dt.date(2026, 1, 15), window=BASE, observed_on=dt.date(2026, 1, 16))


def test_follow_up_status_at_each_edge() -> None:
    surgery = dt.date(2026, 1, 15)

    def status(today: dt.date, recorded: bool = False) -> rules.FollowUpStatus:
        return rules.follow_up_status(surgery_date=surgery, window=SIX, today=today, recorded=recorded)

    assert status(dt.date(2026, 5, 30)) is rules.FollowUpStatus.UPCOMING
    assert status(dt.date(2026, 5, 31)) is rules.FollowUpStatus.DUE
    assert status(dt.date(2026, 8, 29)) is rules.FollowUpStatus.DUE
    assert status(dt.date(2026, 8, 30)) is rules.FollowUpStatus.OVERDUE
    assert status(dt.date(2026, 8, 30), recorded=True) is rules.FollowUpStatus.DONE
    assert status(dt.date(2026, 1, 1), recorded=True) is rules.FollowUpStatus.DONE


def test_suppression_threshold_is_five() -> None:
    assert rules.SUPPRESSION_THRESHOLD == 5
    assert [rules.is_suppressed(n) for n in range(7)] == [True, True, True, True, True, False, False]


def test_default_schedule_is_baseline_6_12_24() -> None:
    assert [w.months for w in rules.DEFAULT_SCHEDULE] == [0, 6, 12, 24]
    assert rules.DEFAULT_SCHEDULE[0].days_before == 183
    assert rules.DEFAULT_SCHEDULE[0].days_after == 0
