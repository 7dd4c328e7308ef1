"""Pure rules of the outcomes registry: valid values, time-point windows, follow-up status and small-cell
suppression. No database: frozen dataclasses in, answers or a `ValidationError` (saying what to fix) out."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum

from carefund.core.errors import ValidationError

# NHS disclosure control: a published table shows no cell counting fewer than this many children.
SUPPRESSION_THRESHOLD = 5


@dataclass(frozen=True)
class MeasureSpec:
    slug: str
    name: str
    unit: str = ""
    min_value: float | None = None
    max_value: float | None = None
    whole_numbers: bool = False


@dataclass(frozen=True)
class Window:
    """A time point: months after surgery (0 = baseline, before surgery) and the days around its target date in
    which a measurement counts for it."""

    months: int
    label: str
    days_before: int
    days_after: int


# The default schedule: baseline within 6 months before surgery, then 6, 12 and 24 months after (the CtE protocol
# measured before surgery and for two years after; the windows around each are carefund's assumption and are
# configurable per programme).
DEFAULT_SCHEDULE: tuple[Window, ...] = (
    Window(0, "Baseline (before surgery)", 183, 0),
    Window(6, "6 months after surgery", 45, 45),
    Window(12, "12 months after surgery", 60, 60),
    Window(24, "24 months after surgery", 90, 90),
)


def _number_text(value: float) -> str:
    return f"{value:g}"


def check_value(spec: MeasureSpec, value: float) -> float:
    """The value as a float if it is valid for the measure; else a ValidationError naming the valid range."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"value: enter a number for {spec.name}.", field="value")
    allowed = _range_text(spec)
    if spec.whole_numbers and value != int(value):
        raise ValidationError(
            f"value: {spec.name} takes whole numbers only{allowed}; {_number_text(value)} is not one.", field="value"
        )
    too_low = spec.min_value is not None and value < spec.min_value
    too_high = spec.max_value is not None and value > spec.max_value
    if too_low or too_high:
        raise ValidationError(
            f"value: {_number_text(value)} is outside the valid range of {spec.name}{allowed}.", field="value"
        )
    return float(value)


def _range_text(spec: MeasureSpec) -> str:
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.min_value is not None and spec.max_value is not None:
        return f" ({_number_text(spec.min_value)} to {_number_text(spec.max_value)}{unit})"
    if spec.min_value is not None:
        return f" ({_number_text(spec.min_value)}{unit} or more)"
    if spec.max_value is not None:
        return f" (up to {_number_text(spec.max_value)}{unit})"
    return ""


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months later (the month's last day where it is shorter: 31 Aug + 6 -> 28/29
    Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def window_dates(surgery_date: dt.date, window: Window) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) on which a measurement counts for this time point."""
    target = add_months(surgery_date, window.months)
    return target - dt.timedelta(days=window.days_before), target + dt.timedelta(days=window.days_after)


def check_in_window(*, surgery_date: dt.date, window: Window, observed_on: dt.date) -> None:
    first, last = window_dates(surgery_date, window)
    if not first <= observed_on <= last:
        raise ValidationError(
            f"observed_on: {observed_on:%d %B %Y} is outside the window of {window.label} for surgery on "
            f"{surgery_date:%d %B %Y}; it counts only from {first:%d %B %Y} to {last:%d %B %Y}. Check the date or "
            "the time point.",
            field="observed_on",
        )


class FollowUpStatus(StrEnum):
    DONE = "done"
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"


def follow_up_status(*, surgery_date: dt.date, window: Window, today: dt.date, recorded: bool) -> FollowUpStatus:
    """Recorded: done. Otherwise, before the window opens: upcoming; while it is open: due; after it closed:
    overdue (the measurement was missed: lost to follow-up at that time point)."""
    if recorded:
        return FollowUpStatus.DONE
    first, last = window_dates(surgery_date, window)
    if today < first:
        return FollowUpStatus.UPCOMING
    if today <= last:
        return FollowUpStatus.DUE
    return FollowUpStatus.OVERDUE


def is_suppressed(n_children: int) -> bool:
    """A cell counting fewer than SUPPRESSION_THRESHOLD children is not published (NHS disclosure control)."""
    return n_children < SUPPRESSION_THRESHOLD
