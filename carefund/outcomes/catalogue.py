"""The measures the registry starts with, and the natural-history curves it compares against. Data, not code: the
migration loads MEASURES into the `Measure` table, where a centre can add its own (e.g. the Gait Profile Score)."""

from __future__ import annotations

from dataclasses import dataclass

CTE_RESULTS = (
    "Summers et al., Lancet Child Adolesc Health 2019 (the CtE evaluation, n=137): "
    "https://kclpure.kcl.ac.uk/portal/en/publications/selective-dorsal-rhizotomy-in-ambulant-children-with-cerebral-pal"
)

CP_QOL_DOMAINS: tuple[tuple[str, str], ...] = (
    ("cpqol-social", "CP-QoL: social wellbeing and acceptance"),
    ("cpqol-functioning", "CP-QoL: feelings about functioning"),
    ("cpqol-participation", "CP-QoL: participation and physical health"),
    ("cpqol-emotional", "CP-QoL: emotional wellbeing and self-esteem"),
    ("cpqol-services", "CP-QoL: access to services"),
    ("cpqol-family", "CP-QoL: family health"),
    ("cpqol-pain", "CP-QoL: pain and impact of disability"),
)


@dataclass(frozen=True)
class MeasureSeed:
    slug: str
    name: str
    kind: str
    unit: str
    min_value: float | None
    max_value: float | None
    whole_numbers: bool
    higher_is_better: bool
    description: str
    source: str


MEASURES: tuple[MeasureSeed, ...] = (
    MeasureSeed(
        "gmfm66",
        "GMFM-66",
        "score",
        "units",
        0,
        100,
        False,
        True,
        "Gross Motor Function Measure, 66 items: standing, walking, running and jumping on a 0-100 scale. "
        "The CtE evaluation's primary motor outcome.",
        CTE_RESULTS,
    ),
    MeasureSeed(
        "gmfcs",
        "GMFCS level",
        "level",
        "level",
        1,
        5,
        True,
        False,
        "Gross Motor Function Classification System: I (walks without limits) to V (transported in a wheelchair). "
        "The CtE cohort was GMFCS II or III at baseline.",
        CTE_RESULTS,
    ),
    *(
        MeasureSeed(
            slug,
            name,
            "score",
            "points",
            0,
            100,
            False,
            True,
            "A domain of the Cerebral Palsy Quality of Life questionnaire (0-100, higher is better); the seven "
            "domains were the CtE evaluation's primary quality-of-life outcomes.",
            CTE_RESULTS,
        )
        for slug, name in CP_QOL_DOMAINS
    ),
    MeasureSeed(
        "pain",
        "Pain rating",
        "score",
        "points",
        0,
        10,
        True,
        False,
        "The child's pain on an 11-point rating scale, 0 (none) to 10 (worst). Range: carefund's assumption.",
        "assumption: an 11-point (0-10) pain rating; a centre may replace it with its own instrument",
    ),
    MeasureSeed(
        "adverse-event",
        "Adverse event",
        "adverse_event",
        "",
        None,
        None,
        False,
        False,
        "A complication or other harmful event, with its severity and whether it was related to surgery.",
        "NICE IPG373 (serious but well-recognised complications): http://nice.org.uk/guidance/ipg373/chapter/1-guidance",
    ),
)

# Natural history (no SDR): the Ontario motor growth curves, GMFM-66(age) = limit * (1 - exp(-k * age)) with
# k = ln(10) / age90 (age90: the age at which a child reaches 90% of the limit).
MOTOR_GROWTH_SOURCE = (
    "Ontario motor growth curves (predicted limit of GMFM-66 by GMFCS level), Phys Ther 2000;80(10):974: "
    "http://jcore-reference.highwire.org/content/80/10/974"
)
MOTOR_GROWTH_LIMITS: dict[int, float] = {1: 96.8, 2: 89.3, 3: 61.3, 4: 36.1, 5: 12.9}
# ASSUMPTION (no cited source gives the rate): the ages at which 90% of the limit is reached, of the order the
# curves show (earlier for more limited children). Configurable; docs/outcomes.md says how it moves the comparison.
MOTOR_GROWTH_AGE90_YEARS: dict[int, float] = {1: 4.8, 2: 4.4, 3: 3.7, 4: 3.5, 5: 2.7}
