from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from carefund.care.tests.factories import CarePlanFactory, ChildFactory, ProviderFactory, user_with_role
from carefund.core import clock
from carefund.core.roles import Role, roles_sync
from carefund.outcomes import services
from carefund.outcomes.models import Enrolment, EvaluationProgramme, Measure, TimePoint

TODAY = dt.datetime(2027, 6, 1, 12, 0)
SURGERY = dt.date(2026, 1, 15)


@dataclass
class Registry:
    programme: EvaluationProgramme
    centre: Any
    other_centre: Any
    clinician: Any
    other_clinician: Any
    guardian: Any
    child: Any
    enrolment: Enrolment
    gmfm: Measure
    baseline: TimePoint
    six: TimePoint
    twelve: TimePoint
    twenty_four: TimePoint


@pytest.fixture
def frozen() -> Any:
    with clock.frozen_at(TODAY):
        yield TODAY


def child_at(centre: Any, **kwargs: Any) -> Any:
    child = ChildFactory(**kwargs)
    CarePlanFactory(child=child, provider=centre)
    return child


@pytest.fixture
def registry(db: Any, frozen: Any) -> Registry:
    roles_sync()
    centre = ProviderFactory(name="Nottingham University Hospitals NHS Trust")
    other = ProviderFactory(name="Leeds Teaching Hospitals NHS Trust")
    clinician = user_with_role(Role.CLINICIAN, "clin")
    other_clinician = user_with_role(Role.CLINICIAN, "clin2")
    centre.clinicians.add(clinician)
    other.clinicians.add(other_clinician)
    guardian = user_with_role(Role.GUARDIAN, "mum")
    child = child_at(centre, first_name="James", last_name="Hartley", date_of_birth=dt.date(2020, 3, 1))
    child.guardians.add(guardian)
    programme = services.programme_upsert(slug="cte", name="CtE SDR", centres=[centre, other], actor=None)
    enrolment = services.enrolment_create(
        programme=programme, child=child, centre=centre, surgery_date=SURGERY, actor=clinician
    )
    points = {tp.months: tp for tp in programme.time_points.all()}
    return Registry(
        programme,
        centre,
        other,
        clinician,
        other_clinician,
        guardian,
        child,
        enrolment,
        Measure.objects.get(slug="gmfm66"),
        points[0],
        points[6],
        points[12],
        points[24],
    )
