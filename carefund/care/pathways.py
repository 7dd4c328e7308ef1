"""The SDR pathway template: its items, dates and default costs, each with the fact it rests on.

Each cost names its primary source (docs/sources.md, "Care pathways, NHS programmes and providers"). Where no source
gives a price the cost here is a configurable assumption (edit the template in the back office, or re-cost an item
of a plan with `care_plan_item_set_cost`), chosen so that James's plan totals about £50,000, the sum his
campaign raised in the story."""

from __future__ import annotations

from carefund.care.rules import TemplateItemSpec

SDR_TEMPLATE_SLUG = "sdr-standard"
SDR_TEMPLATE_NAME = "Selective Dorsal Rhizotomy: assessment to two-year follow-up"
SDR_DURATION_DAYS = 800  # about 26 months: a month of assessment and pre-operative work, then 24 months after SDR.

SURGERY_DAY = 42  # surgery six weeks after the plan starts

# Private physiotherapy price per session: £48-£70 (London) and "up to £90 per hour" (sources.md: Private
# physiotherapy prices; https://kilburntimes.co.uk/news/22001970.kilburn-mother-facing-15k-funding-hurdle-baileys-wish ;
# https://justgiving.com/fundraising/HelpRowanRun). We take £70, the top of the London session range.
PHYSIO_SESSION_PENCE = 7_000

# Tapering dose after SDR (sources.md: Physiotherapy dose after SDR; https://rehabknowledge.com/forums/reply/470705/ :
# 4-5x/week months 0-6, 2-3x/week months 6-12, 1-2x/week months 12-36; https://heelandtoe.org.uk/?p=14104 : "at
# least 3 times per week for the first 6 months"). We plan 4, 3 and 2 sessions a week, in quarterly blocks of 13 weeks.
PHYSIO_SESSIONS_PER_WEEK_BY_QUARTER = (4, 4, 3, 3, 2, 2, 2, 2)
WEEKS_PER_QUARTER = 13

_PHYSIO_SOURCE = (
    "£48-£70 a session (https://kilburntimes.co.uk/news/22001970.kilburn-mother-facing-15k-funding-"
    "hurdle-baileys-wish) x the dose after SDR (https://rehabknowledge.com/forums/reply/470705/ ; "
    "https://heelandtoe.org.uk/?p=14104)"
)
_ASSUMPTION = "no published price: a configurable assumption"


def sdr_template_items() -> tuple[TemplateItemSpec, ...]:
    items: list[TemplateItemSpec] = [
        TemplateItemSpec(
            1,
            "assessment",
            "SDR assessment: multidisciplinary clinic, gait analysis, MRI review and hip X-ray",
            0,
            250_000,
            _ASSUMPTION + "; the assessment's content (GMFM-66, gait analysis, hip X-ray, MRI) follows the Scottish "
            "SDR service's referral (https://www.rightdecisions.scot.nhs.uk/selective-dorsal-rhizotomy-sdr/)",
        ),
        TemplateItemSpec(
            2,
            "pre_op_physio",
            "Pre-operative physiotherapy: 12 sessions to build strength",
            7,
            12 * PHYSIO_SESSION_PENCE,
            "12 sessions x £70, the price of a private session (https://kilburntimes.co.uk/news/22001970.kilburn-mother-facing-15k-"
            "funding-hurdle-baileys-wish)",
        ),
        TemplateItemSpec(
            3,
            "surgery",
            "Selective dorsal rhizotomy (surgery)",
            SURGERY_DAY,
            1_000_000,
            "NHS price not published: £10,000 is a configurable assumption consistent with the story. UK "
            "self-funded prices quoted £21,000-£35,000 (https://posabilitymagazine.co.uk/abbeys-road-to-bristol/ ; "
            "38 Degrees petition)",
        ),
        TemplateItemSpec(
            4,
            "aftercare",
            "Inpatient aftercare and intensive rehabilitation: 3 weeks on the ward",
            SURGERY_DAY + 1,
            21 * 35_000,
            "3 weeks as in Leeds' self-funded package (http://leedsneurosurgery.com/patients/dorsal_rhizotomy/) "
            "and 2-3 weeks inpatient rehab (https://rehabknowledge.com/forums/reply/470705/); £350 a day: "
            + _ASSUMPTION,
        ),
    ]
    position = 5
    for quarter, per_week in enumerate(PHYSIO_SESSIONS_PER_WEEK_BY_QUARTER):
        sessions = per_week * WEEKS_PER_QUARTER
        first_month, last_month = quarter * 3, quarter * 3 + 3
        items.append(
            TemplateItemSpec(
                position,
                "rehabilitation",
                f"Post-operative physiotherapy, months {first_month}-{last_month}: {per_week} sessions a week "
                f"({sessions} sessions)",
                SURGERY_DAY + 21 + quarter * WEEKS_PER_QUARTER * 7,
                sessions * PHYSIO_SESSION_PENCE,
                _PHYSIO_SOURCE,
            )
        )
        position += 1
    items += [
        TemplateItemSpec(
            position,
            "orthotics",
            "Orthotics: ankle-foot orthoses, refitted as the child grows",
            SURGERY_DAY + 28,
            150_000,
            _ASSUMPTION + " (no costed UK source)",
        ),
        TemplateItemSpec(
            position + 1,
            "orthotics",
            "Equipment: walking frame, standing frame and adapted trike",
            SURGERY_DAY + 28,
            250_000,
            _ASSUMPTION + "; a trike is part of families' budgets (http://unfortunatelyoh.blogspot.com/2013/08/"
            "footsteps-4-oliver.html)",
        ),
        TemplateItemSpec(
            position + 2,
            "travel",
            "Travel to the centre and four weeks' family accommodation around surgery",
            SURGERY_DAY - 1,
            300_000,
            _ASSUMPTION + "; four weeks' accommodation as in families' budgets (http://gracesfund.org/sdr.html)",
        ),
    ]
    position += 3
    for months, day in ((6, SURGERY_DAY + 182), (12, SURGERY_DAY + 365), (24, SURGERY_DAY + 730)):
        items.append(
            TemplateItemSpec(
                position,
                "follow_up",
                f"Follow-up assessment at {months} months (GMFM-66, GMFCS, CP-QoL)",
                day,
                80_000,
                _ASSUMPTION + "; outcome measures to 24 months as in NHS England's evaluation (Summers 2019, "
                "https://kclpure.kcl.ac.uk/portal/en/publications/selective-dorsal-rhizotomy-in-ambulant-children-"
                "with-cerebral-pal)",
            )
        )
        position += 1
    return tuple(items)


def sdr_template_total_pence() -> int:
    return sum(item.cost_pence for item in sdr_template_items())
