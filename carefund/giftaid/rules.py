"""Gift Aid rules that need no database: what a gift brings, whether it may be claimed, whether a declaration
covers it, and the HMRC schedule's limits on names, house and postcode.

Every number and pattern cites its primary source in docs/sources.md (by heading, with its URL)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

# sources.md: Gift Aid: the rate (http://www.hmrc.gov.uk/charities/guidance-notes/chapter6/partb.htm):
# reclaim = basic rate / (100 - basic rate); at 20% that is 20/80 = 25p per £1. The rate is a parameter
# because it has changed before; a change never alters amounts already worked out (docs/sources.md).
BASIC_RATE_PERCENT = 20

# sources.md: Gift Aid: declarations (http://charitytaxgroup.org.uk/tax/donations/gift-aid/declarations/): a
# declaration may cover
# gifts "within four years of having made the gift" (HMRC's old manual RE1841 said six; outdated).
PAST_YEARS_COVERED = 4

# sources.md: Gift Aid claims (http://www.hmrc.gov.uk/charities/online/giftaid-spreadsheet.htm and
# hmrc/charities-claims-validation GiftAidValidationService.scala): the schedule's field limits.
NAME_MAX_LENGTH = 35
HOUSE_MAX_LENGTH = 40
TITLE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z'-]{1,3}$")
POSTCODE_PATTERN = re.compile(
    r"^(GIR 0AA)|((([A-Z][0-9][0-9]?)|(([A-Z][A-HJ-Y][0-9][0-9]?)|(([A-Z][0-9][A-Z])|([A-Z][A-HJ-Y][0-9][A-Z]))))"
    r" [0-9][A-Z]{2})$"
)
# HMRC's validator calls Scala's String.matches, which matches the whole string, hence fullmatch here.
# sources.md: Gift Aid claims: "X" in the postcode column means a donor living outside the UK (a UK taxpayer abroad).
POSTCODE_OUTSIDE_UK = "X"


class Scope(StrEnum):
    """Which gifts a declaration covers (sources.md: Gift Aid: declarations, which gifts it covers and the past four
    years;
    the three choices CiviCRM's UK Gift Aid extension offers, sources.md: Gift Aid: declarations)."""

    THIS_GIFT = "this_gift"
    THIS_AND_FUTURE = "this_and_future"
    PAST_FOUR_YEARS_AND_FUTURE = "past_four_years_and_future"


SCOPE_LABELS: dict[Scope, str] = {
    Scope.THIS_GIFT: "This gift only",
    Scope.THIS_AND_FUTURE: "This gift and any gifts I make in the future",
    Scope.PAST_FOUR_YEARS_AND_FUTURE: "This gift, any in the future and any I have made in the past 4 years",
}


class Ineligibility(StrEnum):
    """Why a gift may not carry Gift Aid (sources.md: Gift Aid: the rate, and Gift Aid: eligible gifts)."""

    NOT_POSITIVE = "not_positive"
    GOODS_OR_TICKETS = "goods_or_tickets"
    ON_BEHALF_OF_OTHERS = "on_behalf_of_others"
    COMPANY = "company"
    CONNECTED_PERSON_EVENT = "connected_person_event"


INELIGIBILITY_REASONS: dict[Ineligibility, str] = {
    Ineligibility.NOT_POSITIVE: "the amount is not a positive number of pence",
    Ineligibility.GOODS_OR_TICKETS: "it was given in return for goods, tickets or a raffle entry",
    Ineligibility.ON_BEHALF_OF_OTHERS: "it was given on behalf of other people (a group collection)",
    Ineligibility.COMPANY: "it came from a company, not an individual taxpayer",
    Ineligibility.CONNECTED_PERSON_EVENT: "it came from a relative of a participant whose event costs the charity pays",
}


def gift_aid_due_pence(amount_pence: int, *, basic_rate_percent: int = BASIC_RATE_PERCENT) -> int:
    """The Gift Aid a gift brings, rounded down to the penny: at 20%, 25p per £1 (sources.md: Gift Aid: the rate), so
    £10.00 -> 250p and £0.03 -> 0p. Non-positive amounts bring nothing."""
    if isinstance(amount_pence, bool) or not isinstance(amount_pence, int):
        raise TypeError(f"amount_pence must be an int, not {type(amount_pence).__name__}")
    if not 0 < basic_rate_percent < 100:
        raise ValueError(f"basic_rate_percent must be between 1 and 99, not {basic_rate_percent}")
    if amount_pence <= 0:
        return 0
    return amount_pence * basic_rate_percent // (100 - basic_rate_percent)


@dataclass(frozen=True)
class GiftFacts:
    """What Gift Aid eligibility needs to know about one gift."""

    amount_pence: int
    received_on: dt.date
    in_return_for_goods: bool = False  # goods, tickets, raffle entries, auction lots
    on_behalf_of_others: bool = False  # a collection passed on by one person
    from_company: bool = False
    connected_person_event: bool = False  # relative sponsoring a participant whose costs the charity pays


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[Ineligibility, ...]

    @property
    def explanation(self) -> str:
        if self.eligible:
            return "eligible for Gift Aid"
        return "not eligible for Gift Aid: " + "; ".join(INELIGIBILITY_REASONS[r] for r in self.reasons)


def gift_eligibility(gift: GiftFacts) -> Eligibility:
    """Whether a gift may carry Gift Aid at all, whoever declares (sources.md: Gift Aid: the rate, companies excluded;
    1.5 https://jeremiahsjourney.org.uk/gift-aid/ and https://eaaa.org.uk/?p=8714)."""
    reasons: list[Ineligibility] = []
    if gift.amount_pence <= 0:
        reasons.append(Ineligibility.NOT_POSITIVE)
    if gift.in_return_for_goods:
        reasons.append(Ineligibility.GOODS_OR_TICKETS)
    if gift.on_behalf_of_others:
        reasons.append(Ineligibility.ON_BEHALF_OF_OTHERS)
    if gift.from_company:
        reasons.append(Ineligibility.COMPANY)
    if gift.connected_person_event:
        reasons.append(Ineligibility.CONNECTED_PERSON_EVENT)
    return Eligibility(eligible=not reasons, reasons=tuple(reasons))


# --- whose gifts a declaration covers -------------------------------------------------------------------
# HMRC requires the declaration to be the donor's own (sources.md: Gift Aid: declarations,
# http://charitytaxgroup.org.uk/tax/donations/
# gift-aid/declarations/: "donor's full name ... Couples may share a form but each listed separately"). An email is
# often shared (a couple, a family), so it alone does not say whose gift it is. A gift other than the one a
# declaration was made with is linked to it only if BOTH
#   - its donor email matches the declaration's (`email_key`: trimmed, lower-cased), and
#   - the donor name on the gift ends with the declaration's last name as whole words (`name_key` on both sides:
#     case- and space-insensitive), e.g. "Ann Smith", "A. Smith", "SMITH" match last name "Smith"; "Bob Jones",
#     "Ann Goldsmith", "Smith Ann" and "" do not.
# When in doubt the gift is not covered: claiming Gift Aid wrongly must be repaid to HMRC, missing it is only lost.
# The rule is written twice, here and in SQL (`selectors.gift_aid_due_for_campaign`), so `name_key` uses only
# steps SQL can do identically: ASCII letters A-Z folded to a-z (other letters must match exactly, e.g. "MÜLLER" is
# not "Müller"), runs of the space character (not tabs or other whitespace) collapsed to one, ends trimmed.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# The marker used to collapse runs of spaces with three plain replacements (the same steps in SQL): " " -> " \x01",
# then "\x01 " -> "", then "\x01" -> "". Names never hold this control character.
SPACE_MARK = "\x01"


def email_key(email: str) -> str:
    """The key that links a donor's gifts and declarations by email: trimmed and lower-cased ("" for no email)."""
    return email.strip().lower()


def name_key(name: str) -> str:
    """A name folded for comparison: ASCII A-Z lower-cased, runs of spaces collapsed to one, ends trimmed."""
    folded = name.translate(_ASCII_LOWER)
    collapsed = folded.replace(" ", " " + SPACE_MARK).replace(SPACE_MARK + " ", "").replace(SPACE_MARK, "")
    return collapsed.strip(" ")


def name_matches_last_name(*, gift_name: str, last_name: str) -> bool:
    """Whether the donor name on a gift ends with `last_name` as whole words (case- and space-insensitive).

    False when either is empty: a gift with no name is never linked to a declaration it was not made with."""
    surname = name_key(last_name)
    name = name_key(gift_name)
    return surname != "" and (name == surname or name.endswith(" " + surname))


def same_donor(*, declaration_email_key: str, declaration_last_name: str, gift_email: str, gift_name: str) -> bool:
    """Whether a gift (not the one the declaration was made with) is the declaring donor's own: the same email AND
    a name ending with the declaration's last name. Both are needed; an email alone may be a couple's or a family's."""
    key = email_key(gift_email)
    return (
        key != ""
        and key == declaration_email_key
        and name_matches_last_name(gift_name=gift_name, last_name=declaration_last_name)
    )


@dataclass(frozen=True)
class DeclarationTerms:
    """A declaration as coverage needs it: its scope, its dates, the gift it was made with, and whose it is
    (`donor_key`, the email key, and the declared `last_name`; left empty, it covers only its own gift)."""

    scope: Scope
    declared_on: dt.date
    donation_id: int | None
    cancelled_on: dt.date | None = None
    donor_key: str = ""
    last_name: str = ""


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier; 29 February becomes 28 February in a non-leap year."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def earliest_covered_date(terms: DeclarationTerms) -> dt.date:
    """The first date of a gift (other than the declaration's own gift) that the declaration covers."""
    if terms.scope is Scope.PAST_FOUR_YEARS_AND_FUTURE:
        return years_before(terms.declared_on, PAST_YEARS_COVERED)
    return terms.declared_on


def declaration_covers(
    terms: DeclarationTerms, *, donation_id: int | None, received_on: dt.date, donor_email: str, donor_name: str
) -> bool:
    """Whether the declaration covers a gift (`donor_email` and `donor_name` as stored on the gift).

    - The gift the declaration was made with is always covered, whatever the scope, name or email.
    - Any other gift only if it is the same donor's (`same_donor`: the same email AND the gift's name ends with
      the declaration's last name, case- and space-insensitive; a gift with no name or no email never is, and an
      anonymous gift is judged by the name stored on it, like any other).
    - THIS_GIFT covers nothing else.
    - THIS_AND_FUTURE covers gifts received on or after the declaration date.
    - PAST_FOUR_YEARS_AND_FUTURE also covers gifts received up to four years before it (on the very day four
      years earlier included; sources.md: Gift Aid: declarations).
    - Cancellation is not retrospective (sources.md: Gift Aid: declarations): a gift received before the
      cancellation date stays covered; one received on or after it is not.
    """
    if terms.donation_id is not None and donation_id == terms.donation_id:
        return True
    if terms.scope is Scope.THIS_GIFT:
        return False
    if not same_donor(
        declaration_email_key=terms.donor_key,
        declaration_last_name=terms.last_name,
        gift_email=donor_email,
        gift_name=donor_name,
    ):
        return False
    if terms.cancelled_on is not None and received_on >= terms.cancelled_on:
        return False
    return received_on >= earliest_covered_date(terms)


# --- the HMRC schedule's field rules -------------------------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


def normalise_postcode(raw: str) -> str:
    """Upper-case, single-spaced, with the space before the last three characters (sources.md: Gift Aid claims:
    "postcode in
    capitals with a space (e.g. S19 2BD)")."""
    compact = "".join(raw.split()).upper()
    if len(compact) > 3:
        return f"{compact[:-3]} {compact[-3:]}"
    return compact


def normalise_name(raw: str) -> str:
    return " ".join(raw.split())


def schedule_last_name(last_name: str) -> str:
    """The last name as HMRC's schedule wants it: a double-barrelled surname with a space, not a hyphen (3.1)."""
    return normalise_name(last_name.replace("-", " "))


def check_title(title: str) -> FieldProblem | None:
    if title == "":
        return None
    if not TITLE_PATTERN.fullmatch(title):
        return FieldProblem(
            "title", "title must be 2 to 4 letters (apostrophes and hyphens allowed after the first), e.g. Mr, Mrs, Dr"
        )
    return None


def check_name(field: str, value: str, *, label: str) -> FieldProblem | None:
    if value == "":
        return FieldProblem(field, f"{label} is required (an initial is enough for the first name)")
    if len(value) > NAME_MAX_LENGTH:
        return FieldProblem(field, f"{label} must be at most {NAME_MAX_LENGTH} characters, not {len(value)}")
    return None


def check_house(value: str) -> FieldProblem | None:
    if value == "":
        return FieldProblem("house_name_or_number", "house name or number is required for Gift Aid")
    if len(value) > HOUSE_MAX_LENGTH:
        return FieldProblem(
            "house_name_or_number",
            f"house name or number must be at most {HOUSE_MAX_LENGTH} characters, not {len(value)}",
        )
    return None


def check_postcode(value: str) -> FieldProblem | None:
    """`value` normalised already. A UK postcode in HMRC's pattern, or "X" for a donor living abroad."""
    if value == "":
        return FieldProblem("postcode", "postcode is required for Gift Aid (use X if you live outside the UK)")
    if value == POSTCODE_OUTSIDE_UK or POSTCODE_PATTERN.fullmatch(value):
        return None
    return FieldProblem("postcode", f"postcode {value!r} is not a UK postcode such as S19 2BD (or X outside the UK)")


@dataclass(frozen=True)
class DonorDetails:
    """The donor details a declaration needs (sources.md: Gift Aid: declarations), already normalised."""

    title: str
    first_name: str
    last_name: str
    house_name_or_number: str
    address: str
    postcode: str

    @classmethod
    def normalised(
        cls, *, title: str, first_name: str, last_name: str, house_name_or_number: str, address: str, postcode: str
    ) -> DonorDetails:
        return cls(
            title=normalise_name(title),
            first_name=normalise_name(first_name),
            last_name=normalise_name(last_name),
            house_name_or_number=normalise_name(house_name_or_number),
            address=address.strip(),
            postcode=normalise_postcode(postcode),
        )


def donor_details_problems(details: DonorDetails) -> tuple[FieldProblem, ...]:
    """Every reason HMRC would refuse these details, in form order (empty when they are fine)."""
    checks = (
        check_title(details.title),
        check_name("first_name", details.first_name, label="first name"),
        check_name("last_name", details.last_name, label="last name"),
        check_house(details.house_name_or_number),
        None if details.address else FieldProblem("address", "home address is required for Gift Aid"),
        check_postcode(details.postcode),
    )
    return tuple(p for p in checks if p is not None)


# --- HMRC's model declaration wording --------------------------------------------------------------------
# This is HMRC's model Gift Aid declaration wording (the multiple-donation model, October 2015 revision), from
# HMRC's "Gift Aid declarations" guidance with its model declarations
# (https://www.gov.uk/claim-gift-aid/gift-aid-declarations;
# what a declaration must contain: sources.md: Gift Aid: declarations,
# http://charitytaxgroup.org.uk/tax/donations/gift-aid/declarations/).
# The single-gift and future-only variants drop the clauses that do not apply, as HMRC's single-donation model does.
TAX_EXPLANATION = (
    "I am a UK taxpayer and understand that if I pay less Income Tax and/or Capital Gains Tax than the amount of "
    "Gift Aid claimed on all my donations in that tax year it is my responsibility to pay any difference."
)
_SCOPE_CLAUSES: dict[Scope, str] = {
    Scope.THIS_GIFT: "",
    Scope.THIS_AND_FUTURE: " and any donations I make in the future",
    Scope.PAST_FOUR_YEARS_AND_FUTURE: " and any donations I make in the future or have made in the past 4 years",
}


def declaration_wording(
    *, charity_name: str, amount: str = "£__", scope: Scope = Scope.PAST_FOUR_YEARS_AND_FUTURE
) -> str:
    """HMRC's model declaration for `scope`; `amount` is the gift already formatted (e.g. "£25.00")."""
    return f"I want to Gift Aid my donation of {amount}{_SCOPE_CLAUSES[scope]} to {charity_name}. {TAX_EXPLANATION}"
