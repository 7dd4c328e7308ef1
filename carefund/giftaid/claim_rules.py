"""Gift Aid claim rules that need no database: which gifts a claim takes and why it leaves others out, the claim
deadline, the aggregation of small gifts, HMRC's schedule validator on each row, the 1,000-row split, the Gift Aid to
repay after a refund, and the Small Donations Scheme (GASDS) limits.

Sources (primary, listed in docs/sources.md under "Gift Aid claims"):
- deadline: https://gov.uk/claim-gift-aid/how-to-claim (four years after the end of the financial period; GASDS two);
- schedule layout and validator: HMRC's hmrc/charities-claims-validation (GiftAidValidationService.scala,
  DocumentRow.scala) and https://www.gov.uk/guidance/schedule-spreadsheet-to-claim-back-tax-on-gift-aid-donations;
- aggregation: http://www.hmrc.gov.uk/charities/online/giftaid-spreadsheet.htm (£20 or less, at most £1,000 a line;
  the threshold conflicts between sources, so it is the setting GIFTAID_AGGREGATION_MAX_PENCE);
- GASDS: https://gov.uk/claiming-a-top-up-payment-on-small-charitable-donations (£30 a gift, £8,000 a year, at most
  ten times the Gift Aid donations claimed in the tax year).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from carefund.giftaid.rules import (
    HOUSE_MAX_LENGTH,
    NAME_MAX_LENGTH,
    POSTCODE_OUTSIDE_UK,
    POSTCODE_PATTERN,
    TITLE_PATTERN,
    gift_aid_due_pence,
)

# https://gov.uk/claim-gift-aid/how-to-claim: a claim within four years of the end of the financial period.
DEADLINE_YEARS = 4
# How soon a deadline must be for the finance page to warn (the 90 days).
DEADLINE_WARNING_DAYS = 90
# http://www.hmrc.gov.uk/charities/online/giftaid-spreadsheet.htm: small gifts of £20 or less, at most £1,000 a line.
AGGREGATION_MAX_GIFT_PENCE = 2_000
AGGREGATED_LINE_MAX_PENCE = 100_000
DESCRIPTION_MAX_LENGTH = 35
# hmrc/charities-claims-validation DocumentRow.scala: Gift Aid rows 24 until 1025, items 1-1000 per schedule.
ROWS_PER_SCHEDULE = 1_000
# hmrc/charities-claims SchematronValidator.scala: at most 500,000 Gift Aid donation records in one claim.
MAX_CLAIM_RECORDS = 500_000
# https://gov.uk/claiming-a-top-up-payment-on-small-charitable-donations
GASDS_MAX_GIFT_PENCE = 3_000
GASDS_ANNUAL_LIMIT_PENCE = 800_000
GASDS_GIFT_AID_MULTIPLE = 10
GASDS_DEADLINE_YEARS = 2


class LeftOutReason(StrEnum):
    NO_DECLARATION = "no_declaration"
    CANCELLED = "cancelled"
    DETAILS_INCOMPLETE = "details_incomplete"
    OUT_OF_TIME = "out_of_time"
    REFUNDED = "refunded"
    NOT_ELIGIBLE = "not_eligible"


LEFT_OUT_WORDS: dict[LeftOutReason, str] = {
    LeftOutReason.NO_DECLARATION: "no Gift Aid declaration covers it",
    LeftOutReason.CANCELLED: "the donor's declaration was cancelled before this gift",
    LeftOutReason.DETAILS_INCOMPLETE: "the donor's name or address would not pass HMRC's schedule (and the gift is "
    "too large to aggregate)",
    LeftOutReason.OUT_OF_TIME: "its claim deadline has passed",
    LeftOutReason.REFUNDED: "it was refunded or disputed",
    LeftOutReason.NOT_ELIGIBLE: "it may not carry Gift Aid (goods, tickets, a company or someone else's money)",
}


# --- periods and deadlines ------------------------------------------------------------------------------------


def period_end_for(day: dt.date, *, month: int = 4, day_of_month: int = 5) -> dt.date:
    """The end of the financial period holding `day`: the first (month, day_of_month) on or after it. The default is
    the tax year's end, 5 April (trusts); a CIO or company sets its accounting year end."""
    end = dt.date(day.year, month, day_of_month)
    return end if day <= end else dt.date(day.year + 1, month, day_of_month)


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def claim_deadline(
    received_on: dt.date, *, month: int = 4, day_of_month: int = 5, years: int = DEADLINE_YEARS
) -> dt.date:
    """The last day a gift received on `received_on` may be claimed: `years` after its period's end."""
    return add_years(period_end_for(received_on, month=month, day_of_month=day_of_month), years)


def is_deadline_near(deadline: dt.date, *, today: dt.date, days: int = DEADLINE_WARNING_DAYS) -> bool:
    """True when the deadline is today or within `days` days (not yet passed)."""
    return today <= deadline <= today + dt.timedelta(days=days)


# --- which gifts a claim takes --------------------------------------------------------------------------------


class Placement(StrEnum):
    ROW = "row"  # a row of its own, with the donor's details
    AGGREGATED = "aggregated"  # part of an aggregated line of small gifts


@dataclass(frozen=True)
class Candidate:
    """One gift received by the claim's period end and in no claim yet, as a claim sees it."""

    amount_pence: int  # what the donor kept given (less any partial refund)
    received_on: dt.date
    reversed: bool  # refunded or disputed in full
    eligible: bool  # rules.gift_eligibility
    covered: bool  # an uncancelled declaration covers it
    cancelled_declaration: bool  # a declaration would have covered it but was cancelled before the gift
    details_pass: bool  # the covering declaration's details pass HMRC's row rules
    sponsored: bool = False


@dataclass(frozen=True)
class Decision:
    placement: Placement | None
    reason: LeftOutReason | None


def classify(
    candidate: Candidate, *, deadline: dt.date, today: dt.date, aggregation_max_pence: int = AGGREGATION_MAX_GIFT_PENCE
) -> Decision:
    """Whether a claim takes the gift (as its own row, or aggregated), or leaves it out and why. The first reason
    that applies is given, in the order a finance officer would fix them."""
    if candidate.reversed or candidate.amount_pence <= 0:
        return Decision(None, LeftOutReason.REFUNDED)
    if not candidate.eligible:
        return Decision(None, LeftOutReason.NOT_ELIGIBLE)
    if not candidate.covered:
        reason = LeftOutReason.CANCELLED if candidate.cancelled_declaration else LeftOutReason.NO_DECLARATION
        return Decision(None, reason)
    if today > deadline:
        return Decision(None, LeftOutReason.OUT_OF_TIME)
    if candidate.details_pass:
        return Decision(Placement.ROW, None)
    # an aggregated line may not be a sponsored one (hmrc/charities-claims SchematronValidator.scala)
    if candidate.amount_pence <= aggregation_max_pence and not candidate.sponsored:
        return Decision(Placement.AGGREGATED, None)
    return Decision(None, LeftOutReason.DETAILS_INCOMPLETE)


@dataclass(frozen=True)
class SmallGift:
    key: int
    amount_pence: int
    received_on: dt.date
    period_end: dt.date


@dataclass(frozen=True)
class AggregatedLine:
    keys: tuple[int, ...]
    amount_pence: int
    last_date: dt.date  # HMRC: the date of the last donation in the line


def aggregate(gifts: Iterable[SmallGift], *, line_max_pence: int = AGGREGATED_LINE_MAX_PENCE) -> list[AggregatedLine]:
    """Small gifts into aggregated lines: one financial period per line, in date order, a new line whenever the
    next gift would take the line over `line_max_pence` (HMRC: at most £1,000 a line, same accounting period)."""
    ordered = sorted(gifts, key=lambda g: (g.period_end, g.received_on, g.key))
    lines: list[AggregatedLine] = []
    keys: list[int] = []
    total = 0
    last: dt.date | None = None
    period: dt.date | None = None
    for gift in ordered:
        if gift.amount_pence > line_max_pence:
            raise ValueError(f"gift {gift.key} of {gift.amount_pence} pence is larger than an aggregated line")
        if keys and (gift.period_end != period or total + gift.amount_pence > line_max_pence):
            assert last is not None
            lines.append(AggregatedLine(tuple(keys), total, last))
            keys, total, last = [], 0, None
        keys.append(gift.key)
        total += gift.amount_pence
        last = gift.received_on if last is None else max(last, gift.received_on)
        period = gift.period_end
    if keys:
        assert last is not None
        lines.append(AggregatedLine(tuple(keys), total, last))
    return lines


def aggregated_description(max_gift_pence: int) -> str:
    """The aggregated line's description (at most 35 characters): what the gifts have in common."""
    pounds, pence = divmod(max_gift_pence, 100)
    amount = f"£{pounds}" if not pence else f"£{pounds}.{pence:02d}"
    return f"Gifts of {amount} or less"[:DESCRIPTION_MAX_LENGTH]


# --- the schedule's rows and HMRC's validator --------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleRow:
    """One Gift Aid row of the schedule, in the claim's line order (`line` from 1 across the whole claim)."""

    line: int
    donation_date: dt.date
    amount_pence: int
    title: str = ""
    first_name: str = ""
    last_name: str = ""
    house: str = ""
    postcode: str = ""
    aggregated: str = ""  # the description of an aggregated line
    sponsored: bool = False


COLUMNS = (
    "Item",
    "Title",
    "First name",
    "Last name",
    "House name or number",
    "Postcode",
    "Aggregated donations",
    "Sponsored event",
    "Donation date",
    "Amount",
)


def item_number(line: int) -> int:
    """The item number on its schedule: 1-1000, starting again in each file."""
    return (line - 1) % ROWS_PER_SCHEDULE + 1


def schedule_number(line: int) -> int:
    """Which file (from 1) a claim line goes in."""
    return (line - 1) // ROWS_PER_SCHEDULE + 1


def schedules_needed(lines: int) -> int:
    return max(1, -(-lines // ROWS_PER_SCHEDULE))


def format_date(day: dt.date) -> str:
    return day.strftime("%d/%m/%y")


def format_amount(pence: int) -> str:
    """Pounds with two decimals, no £ and no thousands separator: 20000 -> '200.00'."""
    pounds, rest = divmod(pence, 100)
    return f"{pounds}.{rest:02d}"


def row_cells(row: ScheduleRow) -> tuple[str, ...]:
    """The ten cells of a row as HMRC's schedule wants them (blank where not applicable, never 0.00 or n/a)."""
    return (
        str(item_number(row.line)),
        row.title,
        row.first_name,
        row.last_name.replace("-", " "),  # a double-barrelled surname with a space, not a hyphen
        row.house,
        row.postcode.upper(),
        row.aggregated,
        "Yes" if row.sponsored else "",
        format_date(row.donation_date),
        format_amount(row.amount_pence),
    )


ITEM_PATTERN = re.compile(r"^[1-9][0-9]{0,3}$")
AMOUNT_PATTERN = re.compile(r"^[0-9]{1,13}\.[0-9]{2}$")
DATE_PATTERN = re.compile(r"^[0-9]{2}/[0-9]{2}/[0-9]{2}$")
DIGIT = re.compile(r"[0-9]")
AGGREGATED_AMOUNT_MAX_PENCE = 100_000


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.message}"


def _parse_date(text: str) -> dt.date | None:
    """A strict DD/MM/YY date (years 2000-2099, as HMRC's two-digit year is read for gifts), or None."""
    if not DATE_PATTERN.fullmatch(text):
        return None
    try:
        return dt.date(2000 + int(text[6:8]), int(text[3:5]), int(text[0:2]))
    except ValueError:
        return None


def _amount_pence(text: str) -> int | None:
    if not AMOUNT_PATTERN.fullmatch(text):
        return None
    pounds, pence = text.split(".")
    return int(pounds) * 100 + int(pence)


def cells_problems(line: int, cells: Sequence[str], *, today: dt.date) -> list[RowProblem]:
    """HMRC's validator (GiftAidValidationService.scala) on one row's ten cells, with what to fix."""
    item, title, first, last, house, postcode, aggregated, sponsored, date, amount = cells
    out: list[RowProblem] = []

    def bad(column: str, message: str) -> None:
        out.append(RowProblem(line, column, message))

    if not ITEM_PATTERN.fullmatch(item) or not 1 <= int(item) <= ROWS_PER_SCHEDULE:
        bad("Item", f"must be a number from 1 to {ROWS_PER_SCHEDULE}, not {item!r}")
    if aggregated:
        if len(aggregated) > DESCRIPTION_MAX_LENGTH:
            bad("Aggregated donations", f"the description must be at most {DESCRIPTION_MAX_LENGTH} characters")
        for column, value in (
            ("Title", title),
            ("First name", first),
            ("Last name", last),
            ("House name or number", house),
            ("Postcode", postcode),
            ("Sponsored event", sponsored),
        ):
            if value:
                bad(column, "must be blank on an aggregated line (no donor details, not sponsored)")
    else:
        out.extend(donor_problems(line, title=title, first=first, last=last, house=house, postcode=postcode))
    if sponsored not in ("", "Yes"):
        bad("Sponsored event", f"must be blank or Yes, not {sponsored!r}")
    day = _parse_date(date)
    if day is None:
        bad("Donation date", f"{date!r} must be a date written DD/MM/YY")
    elif day > today:
        bad("Donation date", f"{date} is in the future")
    pence = _amount_pence(amount)
    if pence is None or len(amount) - 1 > 15:
        bad("Amount", f"{amount!r} must be pounds with exactly two decimals and no £ sign, such as 200.00")
    elif pence < 1:
        bad("Amount", "must be at least 0.01")
    elif aggregated and pence > AGGREGATED_AMOUNT_MAX_PENCE:
        bad("Amount", "an aggregated line may not be more than 1000.00")
    return out


def donor_problems(line: int, *, title: str, first: str, last: str, house: str, postcode: str) -> list[RowProblem]:
    """HMRC's validator on a row's donor cells (as written on the schedule)."""
    out: list[RowProblem] = []

    def bad(column: str, message: str) -> None:
        out.append(RowProblem(line, column, message))

    if title and not TITLE_PATTERN.fullmatch(title):
        bad("Title", f"{title!r} must be 2 to 4 letters such as Mr, Mrs or Dr, or blank")
    for column, value in (("First name", first), ("Last name", last)):
        if not value:
            bad(column, "is required (an initial is enough for the first name)")
        elif len(value) > NAME_MAX_LENGTH:
            bad(column, f"must be at most {NAME_MAX_LENGTH} characters, not {len(value)}")
        elif DIGIT.search(value):
            bad(column, f"{value!r} has a digit in it; correct the donor's name on their declaration")
    if "-" in last:
        bad("Last name", f"{last!r}: write a double-barrelled surname with a space instead of the hyphen")
    if not house:
        bad("House name or number", "is required")
    elif len(house) > HOUSE_MAX_LENGTH:
        bad("House name or number", f"must be at most {HOUSE_MAX_LENGTH} characters, not {len(house)}")
    upper = postcode.upper()
    if not (upper == POSTCODE_OUTSIDE_UK or POSTCODE_PATTERN.fullmatch(upper)):
        bad(
            "Postcode",
            f"{postcode!r} is not a UK postcode in capitals with its space, such as S19 2BD (X for a donor "
            "living outside the UK)",
        )
    return out


def row_problems(row: ScheduleRow, *, today: dt.date) -> list[RowProblem]:
    return cells_problems(row.line, row_cells(row), today=today)


def donor_details_pass(
    *, title: str, first_name: str, last_name: str, house: str, postcode: str, today: dt.date
) -> bool:
    """Whether a donor's details would make a row HMRC's validator accepts (as `row_cells` writes them)."""
    sample = ScheduleRow(
        line=1,
        donation_date=today,
        amount_pence=100,
        title=title,
        first_name=first_name,
        last_name=last_name,
        house=house,
        postcode=postcode,
    )
    _, t, f, last, h, p, *_rest = row_cells(sample)
    return not donor_problems(1, title=t, first=f, last=last, house=h, postcode=p)


def overclaimed_problem(pence: int) -> str | None:
    """The header's 'previously overclaimed' cell: blank (0) or positive."""
    if pence < 0:
        return "previously overclaimed amount must be positive or blank"
    return None


# --- money after the claim ------------------------------------------------------------------------------------


def gift_aid_to_repay(*, claimed_gift_aid_pence: int, kept_pence: int, repaid_pence: int) -> int:
    """The Gift Aid to give back now on a claimed gift of which the donor now keeps `kept_pence` given: what was
    claimed, less what the kept part still brings, less what was repaid before (never below zero)."""
    return max(0, claimed_gift_aid_pence - gift_aid_due_pence(max(0, kept_pence)) - repaid_pence)


def overclaims_to_carry(pending: Sequence[tuple[int, int]], *, gift_aid_pence: int) -> list[int]:
    """Which earlier overclaims (key, pence), oldest first, a claim of `gift_aid_pence` can carry in its
    'previously overclaimed' cell: whole ones, in order, while the total stays below the claim's Gift Aid (HMRC
    pays the difference; one that does not fit waits for a later claim)."""
    carried: list[int] = []
    total = 0
    for key, pence in pending:
        if total + pence >= gift_aid_pence:
            break
        carried.append(key)
        total += pence
    return carried


def payment_difference(*, expected_pence: int, paid_pence: int) -> int:
    """What HMRC paid beyond (positive) or short of (negative) what the claim asked for."""
    return paid_pence - expected_pence


# --- GASDS ----------------------------------------------------------------------------------------------------


def gasds_claimable_pence(
    *,
    small_donations_pence: int,
    gift_aid_donations_pence: int,
    already_claimed_pence: int = 0,
    annual_limit_pence: int = GASDS_ANNUAL_LIMIT_PENCE,
    multiple: int = GASDS_GIFT_AID_MULTIPLE,
) -> int:
    """The small donations a tax year may still claim under GASDS: at most the annual limit and at most `multiple`
    times the Gift Aid donations claimed in the year, less what was claimed already; none without Gift Aid."""
    if gift_aid_donations_pence <= 0:
        return 0
    cap = min(annual_limit_pence, multiple * gift_aid_donations_pence)
    return max(0, min(small_donations_pence, cap - already_claimed_pence))


def is_gasds_small_gift(amount_pence: int, *, collection: bool) -> bool:
    """A cash or contactless gift of £30 or less counts; a bucket collection is many such gifts, taken as a whole."""
    return amount_pence > 0 and (collection or amount_pence <= GASDS_MAX_GIFT_PENCE)


def split_evenly(total: int, weights: Sequence[int]) -> list[int]:
    """`total` shared in proportion to `weights`, rounded down, the remainder to the largest weights first; sums to
    `total` exactly (GASDS top-up shared between collections when only part of them can be claimed)."""
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    left = total - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-weights[i], i))[:left]:
        shares[i] += 1
    return shares
