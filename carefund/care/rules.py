"""Pure decisions of the care domain (no database): identifiers, dates, costs, item states, SDR eligibility.

Each fact names its primary source under a heading of docs/sources.md ("Care pathways, NHS programmes and
providers")."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from carefund.core.errors import StateTransitionError, ValidationError
from carefund.core.money import require_pence

# ---------------------------------------------------------------------------------------------------------------
# UK postcode

# Outward code: area (1-2 letters), district (digit, then optional digit or letter); inward: digit + 2 letters.
# Letters C, I, K, M, O, V never appear in the inward unit; GIR 0AA is the one historic special case.
_POSTCODE_RE = re.compile(r"^(?:GIR0AA|[A-PR-UWYZ][A-HK-Y]?[0-9][0-9A-HJKMNPR-Y]?[0-9][ABD-HJLNP-UW-Z]{2})$")


def normalise_postcode(text: str, *, field: str = "home_postcode") -> str:
    """Validate a UK postcode and return it upper case with one space before the inward code ('ct21 5ab' ->
    'CT21 5AB')."""
    compact = re.sub(r"\s+", "", str(text or "")).upper()
    if not compact:
        raise ValidationError(f"{field}: enter a UK postcode, for example CT21 5AB.", field=field)
    if not _POSTCODE_RE.match(compact):
        raise ValidationError(
            f"{field}: '{text}' is not a UK postcode; use the form 'CT21 5AB' (area, district, a space, "
            "then a digit and two letters).",
            field=field,
        )
    return f"{compact[:-3]} {compact[-3:]}"


# ---------------------------------------------------------------------------------------------------------------
# NHS number (modulus 11)

_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit for nine digits, or None when no check digit exists (remainder gives 10)."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("first_nine must be exactly nine digits")
    total = sum(int(d) * w for d, w in zip(first_nine, _NHS_WEIGHTS, strict=True))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def normalise_nhs_number(text: str, *, field: str = "nhs_number") -> str:
    """Validate an NHS number (10 digits, spaces or hyphens allowed) and return its 10 digits."""
    raw = str(text or "").strip()
    digits = re.sub(r"[\s-]", "", raw)
    if not digits:
        raise ValidationError(f"{field}: enter the child's 10-digit NHS number.", field=field)
    if not digits.isdigit() or len(digits) != 10:
        raise ValidationError(
            f"{field}: an NHS number is exactly 10 digits (spaces allowed, e.g. 943 476 5919); got {len(digits)} "
            "characters" + ("" if digits.isdigit() else " including non-digits") + ".",
            field=field,
        )
    check = nhs_check_digit(digits[:9])
    if check is None or check != int(digits[9]):
        raise ValidationError(
            f"{field}: {raw} is not a valid NHS number: its last digit does not match the modulus-11 check "
            "digit of the first nine. Check for a mistyped digit.",
            field=field,
        )
    return digits


def nhs_number_with_check_digit(first_nine: str) -> str | None:
    """Complete nine digits into a valid NHS number, or None if those nine digits cannot have one."""
    check = nhs_check_digit(first_nine)
    return None if check is None else f"{first_nine}{check}"


def format_nhs_number(digits: str) -> str:
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


# ---------------------------------------------------------------------------------------------------------------
# Dates and costs


def check_date_of_birth(date_of_birth: dt.date, *, today: dt.date, field: str = "date_of_birth") -> dt.date:
    if date_of_birth > today:
        raise ValidationError(
            f"{field}: {date_of_birth.isoformat()} is in the future; a date of birth must be on or before "
            f"{today.isoformat()}.",
            field=field,
        )
    return date_of_birth


def check_gmfcs_level(level: object, *, field: str = "gmfcs_level") -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
        raise ValidationError(
            f"{field}: the GMFCS level must be a whole number from 1 to 5, got {level!r}.", field=field
        )
    return level


def check_cost_pence(value: object, *, field: str = "cost_pence") -> int:
    """A cost is a whole number of pence, zero or more."""
    return require_pence(value, field=field, allow_zero=True)


def check_plan_dates(start_date: dt.date, end_date: dt.date) -> None:
    if end_date <= start_date:
        raise ValidationError(
            f"end_date: {end_date.isoformat()} must be after the plan's start_date {start_date.isoformat()}.",
            field="end_date",
        )


# A plan is made for treatment that is coming; one starting further ahead than this is a typing mistake.
PLAN_START_MAX_YEARS_AHEAD = 5


def check_plan_start(start_date: dt.date, *, date_of_birth: dt.date, today: dt.date) -> dt.date:
    """A plan starts on or after the child's birth and at most `PLAN_START_MAX_YEARS_AHEAD` years from today."""
    if start_date < date_of_birth:
        raise ValidationError(
            f"start_date: {start_date.isoformat()} is before the child's date of birth {date_of_birth.isoformat()}; "
            "choose a later date.",
            field="start_date",
        )
    latest = today + dt.timedelta(days=365 * PLAN_START_MAX_YEARS_AHEAD)
    if start_date > latest:
        raise ValidationError(
            f"start_date: {start_date.isoformat()} is more than {PLAN_START_MAX_YEARS_AHEAD} years ahead; choose a "
            f"date on or before {latest.isoformat()}.",
            field="start_date",
        )
    return start_date


def check_item_date(planned_date: dt.date, *, start_date: dt.date, end_date: dt.date) -> dt.date:
    """An item's date must fall inside its plan's dates (both ends included)."""
    if not start_date <= planned_date <= end_date:
        raise ValidationError(
            f"planned_date: {planned_date.isoformat()} is outside the care plan, which runs from "
            f"{start_date.isoformat()} to {end_date.isoformat()}; choose a date between them.",
            field="planned_date",
        )
    return planned_date


# ---------------------------------------------------------------------------------------------------------------
# Care-plan item states

PLANNED, BOOKED, DELIVERED, INVOICED, PAID, CANCELLED = (
    "planned",
    "booked",
    "delivered",
    "invoiced",
    "paid",
    "cancelled",
)

ITEM_TRANSITIONS: Mapping[str, frozenset[str]] = {
    PLANNED: frozenset({BOOKED, CANCELLED}),
    BOOKED: frozenset({DELIVERED, PLANNED, CANCELLED}),
    DELIVERED: frozenset({INVOICED}),
    INVOICED: frozenset({PAID}),
    PAID: frozenset(),
    CANCELLED: frozenset(),
}

# Money states: an item becomes invoiced when a provider's invoice for it is entered and paid when that invoice is
# paid, both through the funding services; nobody moves an item there by hand, or the books and the plan disagree
# (an item marked paid with no payment, or an entered invoice that can then never be paid).
FINANCE_STATES = frozenset({INVOICED, PAID})


def manual_next_states(state: str) -> list[str]:
    """The states a person may move an item to from `state` on the care pages (never a money state)."""
    return sorted(ITEM_TRANSITIONS.get(state, frozenset()) - FINANCE_STATES)


def check_manual_transition(to_state: str) -> None:
    """Refuse a hand-made move into a money state, saying how the item gets there."""
    if to_state in FINANCE_STATES:
        raise StateTransitionError(
            f"state: an item becomes '{to_state}' only through the funding page: invoiced when the provider's invoice "
            "is entered, paid when that invoice is paid. Enter or pay the invoice there instead.",
            field="state",
        )


# Once an item has been invoiced its cost is what the provider charged: it is changed by a credit note, not here.
COST_EDITABLE_STATES = frozenset({PLANNED, BOOKED, DELIVERED})


def check_item_transition(from_state: str, to_state: str) -> None:
    """Refuse a state change the item life cycle does not allow, saying what is allowed."""
    if to_state not in ITEM_TRANSITIONS:
        raise StateTransitionError(
            f"state: '{to_state}' is not a care-plan item state; states are {', '.join(ITEM_TRANSITIONS)}.",
            field="state",
        )
    allowed = ITEM_TRANSITIONS[from_state]
    if to_state not in allowed:
        if not allowed:
            what = f"'{from_state}' is final: no further change is allowed"
        else:
            what = f"from '{from_state}' it may only become {' or '.join(sorted(allowed))}"
        raise StateTransitionError(f"state: cannot change from '{from_state}' to '{to_state}'; {what}.", field="state")


def check_cost_editable(state: str) -> None:
    if state not in COST_EDITABLE_STATES:
        raise StateTransitionError(
            f"cost_pence: the cost of an item that is {state} cannot be changed; only planned, booked or "
            "delivered items may be re-costed.",
            field="cost_pence",
        )


# ---------------------------------------------------------------------------------------------------------------
# Plans from templates


@dataclass(frozen=True)
class TemplateItemSpec:
    position: int
    category: str
    description: str
    offset_days: int
    cost_pence: int
    cost_source: str = ""


@dataclass(frozen=True)
class PlanItemSpec:
    position: int
    category: str
    description: str
    planned_date: dt.date
    cost_pence: int
    cost_source: str = ""


def plan_items_from_template(
    items: tuple[TemplateItemSpec, ...], *, start_date: dt.date, duration_days: int
) -> tuple[dt.date, tuple[PlanItemSpec, ...]]:
    """The end date and dated items of a plan made from a template starting on `start_date`."""
    end_date = start_date + dt.timedelta(days=duration_days)
    specs = []
    for item in sorted(items, key=lambda i: i.position):
        planned = start_date + dt.timedelta(days=item.offset_days)
        check_item_date(planned, start_date=start_date, end_date=end_date)
        specs.append(
            PlanItemSpec(
                position=item.position,
                category=item.category,
                description=item.description,
                planned_date=planned,
                cost_pence=check_cost_pence(item.cost_pence),
                cost_source=item.cost_source,
            )
        )
    return end_date, tuple(specs)


# ---------------------------------------------------------------------------------------------------------------
# SDR eligibility


@dataclass(frozen=True)
class EligibilityPolicy:
    name: str
    min_age: int
    max_age: int  # inclusive
    gmfcs_levels: frozenset[int]
    max_reimers_percent_exclusive: int = 40
    source: str = ""


# NHS England routine commissioning, 2018: age 3-9 inclusive, GMFCS II or III, Reimers < 40% (sources.md: NHS England
# SDR policy 2018; the criteria as University Hospitals Bristol summarises them, sources.md: Bristol SDR funding page).
POLICY_NHSE_2018 = EligibilityPolicy(
    name="NHS England 2018",
    min_age=3,
    max_age=9,
    gmfcs_levels=frozenset({2, 3}),
    source="NHS England clinical commissioning policy 1769 (2018), "
    "https://www.england.nhs.uk/wp-content/uploads/2018/07/1769-selective-dorsal-rhizotomy.pdf",
)

# NHS England Commissioning through Evaluation, 2014: "children aged 3 to 10" as announced (sources.md: CtE 2014);
# GMFCS II or III, as the 137 children treated (sources.md: Summers 2019). The clinical criteria are taken to be those
# later written into the 2018 policy (sources.md: Bristol SDR funding page).
POLICY_CTE_2014 = EligibilityPolicy(
    name="CtE 2014",
    min_age=3,
    max_age=10,
    gmfcs_levels=frozenset({2, 3}),
    source="NHS England Commissioning through Evaluation, 17 July 2014, "
    "https://www.england.nhs.uk/2014/07/cte-specialist-surgery/",
)

POLICIES: Mapping[str, EligibilityPolicy] = {"nhse-2018": POLICY_NHSE_2018, "cte-2014": POLICY_CTE_2014}


@dataclass(frozen=True)
class EligibilityInput:
    """What the criteria look at. A clinical fact that has not been recorded is None (and so not met)."""

    age_years: int
    gmfcs_level: int | None
    spastic_diplegia: bool | None = None
    spasticity_affects_function: bool | None = None
    dystonia: bool | None = None
    mri_typical_pvl: bool | None = None
    mri_basal_ganglia_or_cerebellar_lesion: bool | None = None
    genetic_or_progressive_condition: bool | None = None
    antigravity_strength: bool | None = None
    reimers_index_percent: int | None = None
    significant_scoliosis: bool | None = None
    assessed_on: dt.date | None = None


@dataclass(frozen=True)
class CriterionResult:
    code: str
    label: str
    met: bool
    reason: str


@dataclass(frozen=True)
class EligibilityVerdict:
    policy: str
    eligible: bool
    criteria: tuple[CriterionResult, ...] = field(default_factory=tuple)

    @property
    def unmet(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if not c.met)


_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}
_NOT_RECORDED = "not recorded: a clinician must record it in an SDR assessment"


def _flag(code: str, label: str, value: bool | None, *, want: bool, yes: str, no: str) -> CriterionResult:
    if value is None:
        return CriterionResult(code, label, False, f"{label}: {_NOT_RECORDED}.")
    met = value is want
    return CriterionResult(code, label, met, yes if met else no)


def sdr_eligibility(inp: EligibilityInput, policy: EligibilityPolicy = POLICY_NHSE_2018) -> EligibilityVerdict:
    """Check each criterion of `policy` (sources.md: Bristol SDR funding page) and give one reason in words per
    criterion."""
    levels = " or ".join(_ROMAN[level] for level in sorted(policy.gmfcs_levels))
    results: list[CriterionResult] = []

    age_ok = policy.min_age <= inp.age_years <= policy.max_age
    results.append(
        CriterionResult(
            "age",
            "Age",
            age_ok,
            f"Aged {inp.age_years}: "
            + ("within" if age_ok else "outside")
            + f" the {policy.name} range of {policy.min_age} to {policy.max_age} inclusive.",
        )
    )

    if inp.gmfcs_level is None:
        results.append(CriterionResult("gmfcs", "GMFCS level", False, f"GMFCS level: {_NOT_RECORDED}."))
    else:
        ok = inp.gmfcs_level in policy.gmfcs_levels
        results.append(
            CriterionResult(
                "gmfcs",
                "GMFCS level",
                ok,
                f"GMFCS level {_ROMAN.get(inp.gmfcs_level, inp.gmfcs_level)}: "
                + ("within" if ok else "outside")
                + f" the levels the policy covers ({levels}).",
            )
        )

    results.append(
        _flag(
            "spastic_diplegia",
            "Spasticity mainly in the legs",
            inp.spastic_diplegia,
            want=True,
            yes="Cerebral palsy with spasticity mainly in the legs (spastic diplegia).",
            no="Spasticity is not mainly in the legs; the policy covers spastic diplegia.",
        )
    )
    results.append(
        _flag(
            "spasticity_function",
            "Spasticity affects function",
            inp.spasticity_affects_function,
            want=True,
            yes="Dynamic lower-limb spasticity affects function and mobility.",
            no="Lower-limb spasticity does not affect function or mobility, so SDR would not help it.",
        )
    )
    results.append(
        _flag(
            "no_dystonia",
            "No dystonia",
            inp.dystonia,
            want=False,
            yes="No dystonia recorded.",
            no="Dystonia is present; the policy requires its absence.",
        )
    )
    results.append(
        _flag(
            "mri_pvl",
            "MRI shows typical changes",
            inp.mri_typical_pvl,
            want=True,
            yes="MRI shows the typical white-matter damage of prematurity (PVL).",
            no="MRI does not show the typical white-matter changes (PVL) the policy requires.",
        )
    )
    results.append(
        _flag(
            "mri_no_lesion",
            "No basal ganglia or cerebellar lesion",
            inp.mri_basal_ganglia_or_cerebellar_lesion,
            want=False,
            yes="MRI shows no basal ganglia or cerebellar lesion.",
            no="MRI shows a basal ganglia or cerebellar lesion, which is a contraindication.",
        )
    )
    results.append(
        _flag(
            "no_progressive_condition",
            "No genetic or progressive illness",
            inp.genetic_or_progressive_condition,
            want=False,
            yes="No genetic or progressive neurological illness.",
            no="A genetic or progressive neurological illness is recorded; the policy excludes it.",
        )
    )
    results.append(
        _flag(
            "antigravity_strength",
            "Antigravity strength",
            inp.antigravity_strength,
            want=True,
            yes="Leg weakness is mild to moderate: antigravity postures can be held.",
            no="Antigravity postures cannot be held; the policy requires mild to moderate weakness only.",
        )
    )
    limit = policy.max_reimers_percent_exclusive
    if inp.reimers_index_percent is None:
        results.append(CriterionResult("reimers", "Hip migration", False, f"Reimers index: {_NOT_RECORDED}."))
    else:
        ok = inp.reimers_index_percent < limit
        results.append(
            CriterionResult(
                "reimers",
                "Hip migration",
                ok,
                f"Reimers index {inp.reimers_index_percent}%: "
                + (
                    f"below {limit}%, no significant hip dislocation." if ok else f"{limit}% or more (hip dislocation)."
                ),
            )
        )
    results.append(
        _flag(
            "no_scoliosis",
            "No significant scoliosis",
            inp.significant_scoliosis,
            want=False,
            yes="No significant scoliosis.",
            no="Significant scoliosis is recorded; the policy excludes it.",
        )
    )
    criteria = tuple(results)
    return EligibilityVerdict(policy=policy.name, eligible=all(c.met for c in criteria), criteria=criteria)
