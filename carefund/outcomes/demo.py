"""Demo data for the outcomes registry (idempotent):

- the SDR outcomes registry over the five CtE centres, with James's own measurements (baseline before his surgery;
  6, 12 and 24 months once each has come), his guardian not yet asked for consent;
- a SYNTHETIC cohort of 137 children (the number CtE treated) at the same five centres, in a programme flagged
  synthetic, so every page and export built on it says "synthetic". Seeded, so it is the same every run. Their
  outcomes follow the published effect: GMFM-66 +3.2 units a year on average (CtE, n=137), GMFCS II or III, age 3-9
  at surgery (mean 6.0, SD 1.8). Split by centre, CP-QoL changes, pain, loss to follow-up and adverse events are
  carefund's assumptions (the CtE numbers per centre and for these are not published), so the evaluation has
  something to find. Sources: docs/sources.md (Outcomes registry)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction

from carefund.care.models import CarePlan, Child, ItemCategory, Provider
from carefund.care.rules import nhs_number_with_check_digit
from carefund.core import clock
from carefund.core.crypto import encrypt_identifier, identifier_hash
from carefund.core.services import audit_record
from carefund.outcomes import rules, services
from carefund.outcomes.catalogue import CP_QOL_DOMAINS, CTE_RESULTS
from carefund.outcomes.models import AdverseEvent, Enrolment, EvaluationProgramme, Measure, Observation

CENTRE_SLUGS = ("alder-hey", "gosh", "leeds-teaching", "nottingham-university", "bristol-university")
REGISTRY_SLUG = "sdr-registry"
SYNTHETIC_SLUG = "cte-synthetic"
COHORT_SIZE = 137  # children treated under CtE (Summers et al. 2019)
SEED = 20140904  # the first CtE operation, 4 September 2014
# ASSUMPTION: the split by centre is not published; these shares add up to 137.
CENTRE_SHARES = (32, 30, 27, 25, 23)
GMFM_ANNUAL_CHANGE = 3.2  # CtE: 3.2 units a year (95% CI 2.9-3.5)
# ASSUMPTIONS for the synthetic cohort (not published): annual change of each CP-QoL domain (five improve, two do not),
# pain, follow-up loss and adverse events.
CP_QOL_ANNUAL_CHANGE = {
    "cpqol-social": 3.0,
    "cpqol-functioning": 4.0,
    "cpqol-participation": 4.0,
    "cpqol-emotional": 2.5,
    "cpqol-services": 0.0,
    "cpqol-family": 0.0,
    "cpqol-pain": 3.0,
}
PAIN_ANNUAL_CHANGE = -0.5
P_MISSED_VISIT = 0.06
P_ADVERSE_EVENT = 0.12
P_SEVERE = 0.02


@dataclass(frozen=True)
class DemoOutcomes:
    registry: EvaluationProgramme
    synthetic: EvaluationProgramme
    james: Enrolment | None
    synthetic_children: int


def _centres() -> list[Provider]:
    found = {p.slug: p for p in Provider.objects.filter(slug__in=CENTRE_SLUGS)}
    return [found[s] for s in CENTRE_SLUGS if s in found]


@transaction.atomic
def seed_outcomes(*, james: Child | None = None) -> DemoOutcomes:
    centres = _centres()
    registry = services.programme_upsert(
        slug=REGISTRY_SLUG,
        name="SDR outcomes registry",
        centres=centres,
        source="the CtE protocol: outcomes before surgery and for two years after; " + CTE_RESULTS,
        actor=None,
    )
    synthetic = services.programme_upsert(
        slug=SYNTHETIC_SLUG,
        name="CtE-style evaluation (SYNTHETIC demo cohort)",
        centres=centres,
        is_synthetic=True,
        source="synthetic: 137 made-up children following the published effect; " + CTE_RESULTS,
        actor=None,
    )
    enrolment = _seed_james(registry, james) if james is not None else None
    count = synthetic.enrolments.count() or _seed_synthetic(synthetic, centres)
    return DemoOutcomes(registry, synthetic, enrolment, count)


def _seed_james(registry: EvaluationProgramme, james: Child) -> Enrolment | None:
    existing = Enrolment.objects.filter(programme=registry, child=james).first()
    if existing is not None:
        return existing
    plan = CarePlan.objects.filter(child=james, provider__in=registry.centres.all()).order_by("start_date").first()
    if plan is None:
        return None
    surgery_item = plan.items.filter(category=ItemCategory.SURGERY).order_by("planned_date").first()
    surgery = surgery_item.planned_date if surgery_item is not None else plan.start_date
    enrolment = services.enrolment_create(
        programme=registry, child=james, centre=plan.provider, surgery_date=surgery, actor=None
    )
    today = clock.today()
    measures = {m.slug: m for m in Measure.objects.all()}
    values = {
        0: {"gmfm66": 45.1, "gmfcs": 3, "pain": 3},
        6: {"gmfm66": 46.4, "pain": 3},
        12: {"gmfm66": 48.5, "pain": 2},
        24: {"gmfm66": 51.6, "gmfcs": 3, "pain": 1},
    }
    for tp in registry.time_points.all():
        when = min(surgery, today) - dt.timedelta(days=14) if tp.months == 0 else rules.add_months(surgery, tp.months)
        if when > today or tp.months not in values:
            continue
        for slug, value in values[tp.months].items():
            services.observation_record(
                enrolment=enrolment,
                measure=measures[slug],
                time_point=tp,
                value=value,
                observed_on=when,
                assessor="R. Patel, paediatric physiotherapist (demo)",
                instrument_version="GMFM-66 (GMAE-2)" if slug == "gmfm66" else "",
                actor=None,
            )
    return enrolment


def _nhs_numbers(count: int) -> list[str]:
    numbers: list[str] = []
    n = 0
    while len(numbers) < count:
        number = nhs_number_with_check_digit(f"99980{n:04d}")
        n += 1
        if number is not None:
            numbers.append(number)
    return numbers


def _seed_synthetic(programme: EvaluationProgramme, centres: list[Provider]) -> int:
    """Bulk-load the synthetic cohort (demo data written by the system in one go; one audit event says so)."""
    if len(centres) != len(CENTRE_SHARES):
        return 0
    rng = np.random.default_rng(SEED)
    today = clock.today()
    now = clock.now()
    points = {tp.months: tp for tp in programme.time_points.all()}
    measures = {m.slug: m for m in Measure.objects.all()}
    centre_of = [c for c, share in zip(centres, CENTRE_SHARES, strict=True) for _ in range(share)]
    numbers = _nhs_numbers(COHORT_SIZE)
    children = []
    surgeries = []
    levels = []
    for i in range(COHORT_SIZE):
        age_years = float(np.clip(rng.normal(6.0, 1.8), 3.0, 9.9))
        # operated 26 to 54 months ago, so every time point has come (dated relative to today)
        surgery = today - dt.timedelta(days=int(rng.integers(26 * 30, 54 * 30)))
        level = 2 if rng.random() < 0.35 else 3
        number = numbers[i]
        children.append(
            Child(
                first_name=f"Synthetic {i + 1:03d}",
                last_name="Demo",
                date_of_birth=surgery - dt.timedelta(days=int(age_years * 365.25)),
                home_postcode="ZZ99 9ZZ",
                nhs_number_encrypted=encrypt_identifier(number),
                nhs_number_hash=identifier_hash(number),
                nhs_number_last3=number[-3:],
                diagnosis="SYNTHETIC demo record: cerebral palsy, spastic diplegia",
                gmfcs_level=level,
            )
        )
        surgeries.append(surgery)
        levels.append(level)
    Child.objects.bulk_create(children)
    children = list(Child.objects.filter(nhs_number_hash__in=[c.nhs_number_hash for c in children]).order_by("pk"))
    enrolments = Enrolment.objects.bulk_create(
        [
            Enrolment(
                programme=programme,
                child=child,
                centre=centre_of[i],
                surgery_date=surgeries[i],
                consent_given_at=now,
            )
            for i, child in enumerate(children)
        ]
    )
    observations: list[Observation] = []
    events: list[AdverseEvent] = []
    for i, enrolment in enumerate(enrolments):
        observations += _child_observations(rng, enrolment, levels[i], points, measures, now)
        if rng.random() < P_ADVERSE_EVENT:
            severe = rng.random() < P_SEVERE / P_ADVERSE_EVENT
            events.append(
                AdverseEvent(
                    enrolment=enrolment,
                    occurred_on=surgeries[i] + dt.timedelta(days=int(rng.integers(1, 60))),
                    description="SYNTHETIC: " + ("cerebrospinal fluid leak" if severe else "urinary tract infection"),
                    severity="severe" if severe else rng.choice(["mild", "moderate"]),
                    surgery_related=bool(severe or rng.random() < 0.7),
                    recorded_at=now,
                )
            )
    Observation.objects.bulk_create(observations, batch_size=2000)
    AdverseEvent.objects.bulk_create(events)
    audit_record(
        actor=None,
        action="outcomes.synthetic_cohort_seeded",
        target=programme,
        summary=f"{len(enrolments)} synthetic children, {len(observations)} measurements",
    )
    return len(enrolments)


def _child_observations(
    rng: np.random.Generator,
    enrolment: Enrolment,
    level: int,
    points: dict[int, Any],
    measures: dict[str, Measure],
    now: dt.datetime,
) -> list[Observation]:
    out = []
    gmfm_base = float(rng.normal(62 if level == 2 else 48, 7))
    gmfm_slope = float(rng.normal(GMFM_ANNUAL_CHANGE, 1.6))
    qol_base = {slug: float(rng.normal(60, 12)) for slug, _ in CP_QOL_DOMAINS}
    pain_base = float(rng.normal(3.5, 1.5))
    for months, tp in sorted(points.items()):
        if months and rng.random() < P_MISSED_VISIT:
            continue  # a missed visit: lost to follow-up at this time point
        window = services.window_of(tp)
        first, last = rules.window_dates(enrolment.surgery_date, window)
        target = rules.add_months(enrolment.surgery_date, months)
        jitter = int(rng.integers(-min(20, window.days_before), min(20, window.days_after) + 1))
        day = min(max(target + dt.timedelta(days=jitter - (14 if months == 0 else 0)), first), last)
        years = (day - enrolment.surgery_date).days / 365.25
        values = {"gmfm66": gmfm_base + gmfm_slope * max(years, 0) + float(rng.normal(0, 2))}
        for slug, _ in CP_QOL_DOMAINS:
            values[slug] = qol_base[slug] + CP_QOL_ANNUAL_CHANGE[slug] * max(years, 0) + float(rng.normal(0, 6))
        values["pain"] = round(pain_base + PAIN_ANNUAL_CHANGE * max(years, 0) + float(rng.normal(0, 1)))
        if months == 0:
            values["gmfcs"] = level
        for slug, value in values.items():
            m = measures[slug]
            lo, hi = m.min_value if m.min_value is not None else -1e9, m.max_value if m.max_value is not None else 1e9
            out.append(
                Observation(
                    enrolment=enrolment,
                    measure=m,
                    time_point=tp,
                    value=round(min(max(value, lo), hi), 1),
                    observed_on=day,
                    assessor="SYNTHETIC demo assessor",
                    instrument_version="synthetic",
                    recorded_at=now,
                )
            )
    return out
