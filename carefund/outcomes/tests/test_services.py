"""Recording, corrections, consent and permissions, through the services; every refusal writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from carefund.care.tests.factories import user_with_role
from carefund.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from carefund.core.models import AuditEvent
from carefund.core.roles import Role
from carefund.outcomes import selectors, services
from carefund.outcomes.models import AdverseEvent, Enrolment, Measure, Observation
from carefund.outcomes.tests.fixtures import Registry, child_at


def record(
    reg: Registry, *, value: float = 40.0, tp: Any = None, on: dt.date | None = None, actor: Any = None
) -> Observation:
    return services.observation_record(
        enrolment=reg.enrolment,
        measure=reg.gmfm,
        time_point=tp or reg.baseline,
        value=value,
        observed_on=on or dt.date(2025, 12, 1),
        assessor="A. Physio (physiotherapist)",
        instrument_version="GMFM-66 (2nd ed.)",
        actor=actor or reg.clinician,
    )


def test_a_clinician_records_a_measurement_and_it_is_audited(registry: Registry) -> None:
    obs = record(registry)
    assert (obs.value, obs.version, obs.is_current, obs.recorded_by) == (40.0, 1, True, registry.clinician)
    assert obs.instrument_version == "GMFM-66 (2nd ed.)"
    event = AuditEvent.objects.get(action="outcome_observation.recorded")
    assert event.actor == registry.clinician and event.target_id == str(obs.pk)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"value": 101.0}, ValidationError, "value: 101 is outside the valid range of GMFM-66 (0 to 100 units)."),
        ({"value": -3.0}, ValidationError, "value: -3 is outside the valid range of GMFM-66 (0 to 100 units)."),
        ({"on": dt.date(2026, 1, 16)}, ValidationError, "observed_on: 16 January 2026 is outside the window"),
        ({"on": dt.date(2027, 7, 1)}, ValidationError, "observed_on: 01 July 2027 is in the future"),
    ],
)
def test_bad_values_and_dates_are_refused_and_nothing_is_written(
    registry: Registry, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(error) as exc:
        record(registry, **kwargs)
    assert str(exc.value).startswith(message)
    assert not Observation.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_duplicate_is_refused_with_what_to_do(registry: Registry) -> None:
    record(registry)
    with pytest.raises(
        ConflictError, match=r"GMFM-66 at Baseline .* is already recorded for James H\.; to change it, correct"
    ):
        record(registry, value=41.0)
    assert list(Observation.objects.values_list("value", flat=True)) == [40.0]


def test_a_clinician_at_another_centre_cannot_record(registry: Registry) -> None:
    with pytest.raises(NotFoundError):  # the child is not theirs: not even confirmed to exist
        record(registry, actor=registry.other_clinician)
    # a clinician who can see the child (a plan at their provider too) but does not work at the treating centre
    from carefund.care.tests.factories import CarePlanFactory

    CarePlanFactory(child=registry.child, provider=registry.other_centre)
    with pytest.raises(PermissionDeniedError, match="treated at Nottingham University Hospitals NHS Trust"):
        record(registry, actor=registry.other_clinician)
    assert not Observation.objects.exists()


@pytest.mark.parametrize("role", [Role.GUARDIAN, Role.COMMISSIONER, Role.HEALTH_ECONOMIST, Role.CASEWORKER])
def test_only_clinicians_record(registry: Registry, role: Role) -> None:
    user = registry.guardian if role is Role.GUARDIAN else user_with_role(role)
    with pytest.raises(PermissionDeniedError, match=r"You may not record outcomes\."):
        record(registry, actor=user)
    assert not Observation.objects.exists()


def test_a_correction_is_a_new_version_with_a_reason(registry: Registry) -> None:
    first = record(registry)
    second = services.observation_correct(
        observation=first, value=42.5, reason="transcription error: 42.5 on the score sheet", actor=registry.clinician
    )
    first.refresh_from_db()
    assert (first.value, first.is_current, first.version) == (40.0, False, 1)
    assert (second.value, second.is_current, second.version, second.supersedes) == (42.5, True, 2, first)
    assert second.correction_reason == "transcription error: 42.5 on the score sheet"
    event = AuditEvent.objects.get(action="outcome_observation.corrected")
    assert event.details == {"reason": "transcription error: 42.5 on the score sheet", "replaces": first.pk}
    with pytest.raises(ConflictError, match="already corrected"):
        services.observation_correct(observation=first, value=43.0, reason="again", actor=registry.clinician)
    assert Observation.objects.count() == 2


@pytest.mark.parametrize(
    ("value", "reason", "message"), [(42.0, "  ", "reason: say why"), (142.0, "typo", "value: 142")]
)
def test_a_bad_correction_is_refused_and_changes_nothing(
    registry: Registry, value: float, reason: str, message: str
) -> None:
    first = record(registry)
    with pytest.raises(ValidationError, match=message):
        services.observation_correct(observation=first, value=value, reason=reason, actor=registry.clinician)
    first.refresh_from_db()
    assert first.is_current and Observation.objects.count() == 1


def test_the_database_refuses_a_second_current_row(registry: Registry) -> None:
    from django.db import IntegrityError, transaction

    first = record(registry)
    with pytest.raises(IntegrityError), transaction.atomic():
        Observation.objects.create(
            enrolment=first.enrolment,
            measure=first.measure,
            time_point=first.time_point,
            value=1.0,
            observed_on=first.observed_on,
            assessor="x",
            recorded_at=first.recorded_at,
        )


def test_adverse_events_are_recorded_not_measured(registry: Registry) -> None:
    ae_measure = Measure.objects.get(slug="adverse-event")
    with pytest.raises(ValidationError, match="record an adverse event as an event"):
        services.observation_record(
            enrolment=registry.enrolment,
            measure=ae_measure,
            time_point=registry.six,
            value=1,
            observed_on=dt.date(2026, 7, 1),
            assessor="x",
            actor=registry.clinician,
        )
    event = services.adverse_event_record(
        enrolment=registry.enrolment,
        occurred_on=dt.date(2026, 1, 20),
        description="wound infection",
        severity="moderate",
        surgery_related=True,
        actor=registry.clinician,
    )
    assert AdverseEvent.objects.get() == event
    with pytest.raises(ValidationError, match="severity: choose mild, moderate or severe"):
        services.adverse_event_record(
            enrolment=registry.enrolment,
            occurred_on=dt.date(2026, 1, 20),
            description="x",
            severity="awful",
            surgery_related=False,
            actor=registry.clinician,
        )
    assert AdverseEvent.objects.count() == 1


def test_consent_given_and_withdrawn_are_audited_and_decide_inclusion(registry: Registry) -> None:
    record(registry)
    programme = registry.programme
    assert selectors.cohort_for(programme=programme).children.empty  # no consent: not analysed
    services.consent_give(enrolment=registry.enrolment, actor=registry.guardian)
    cohort = selectors.cohort_for(programme=programme)
    assert list(cohort.children.index) == [registry.enrolment.pk]
    assert list(cohort.observations["value"]) == [40.0]
    services.consent_withdraw(enrolment=registry.enrolment, actor=registry.guardian)
    assert selectors.cohort_for(programme=programme).children.empty
    assert selectors.cohort_for(programme=programme).observations.empty
    consent = AuditEvent.objects.filter(action__startswith="outcome_consent").order_by("pk")
    actions = list(consent.values_list("action", "actor"))
    assert actions == [
        ("outcome_consent.given", registry.guardian.pk),
        ("outcome_consent.withdrawn", registry.guardian.pk),
    ]
    with pytest.raises(ConflictError, match="no consent to withdraw"):
        services.consent_withdraw(enrolment=registry.enrolment, actor=registry.guardian)


def test_another_guardian_cannot_touch_consent(registry: Registry) -> None:
    stranger = user_with_role(Role.GUARDIAN, "stranger")
    with pytest.raises(NotFoundError):
        services.consent_give(enrolment=registry.enrolment, actor=stranger)
    assert Enrolment.objects.get().consent_given_at is None


def test_reading_a_childs_outcomes_is_audited_and_limited(registry: Registry) -> None:
    record(registry)
    mine = selectors.child_outcomes_for_user(user=registry.guardian, child_pk=registry.child.pk)
    assert [(s.measure.slug, [p.value for p in s.points]) for s in mine.series] == [("gmfm66", [40.0])]
    assert AuditEvent.objects.filter(action="outcomes.viewed", actor=registry.guardian).count() == 1
    for user in (
        user_with_role(Role.GUARDIAN),
        user_with_role(Role.COMMISSIONER),
        user_with_role(Role.HEALTH_ECONOMIST),
        registry.other_clinician,
    ):
        with pytest.raises(NotFoundError):
            selectors.child_outcomes_for_user(user=user, child_pk=registry.child.pk)
    assert AuditEvent.objects.filter(action="outcomes.viewed").count() == 1


def test_enrolment_rules(registry: Registry) -> None:
    outsider = child_at(registry.centre)
    stranger_centre = child_at(registry.centre).care_plans.first().provider  # a centre outside the programme
    from carefund.care.tests.factories import ProviderFactory

    elsewhere = ProviderFactory(name="Elsewhere")
    elsewhere.clinicians.add(registry.clinician)
    with pytest.raises(ValidationError, match="centre: Elsewhere is not a centre of CtE SDR"):
        services.enrolment_create(
            programme=registry.programme,
            child=outsider,
            centre=elsewhere,
            surgery_date=dt.date(2026, 1, 1),
            actor=registry.clinician,
        )
    with pytest.raises(ConflictError, match="already on the CtE SDR registry"):
        services.enrolment_create(
            programme=registry.programme,
            child=registry.child,
            centre=registry.centre,
            surgery_date=dt.date(2026, 1, 1),
            actor=registry.clinician,
        )
    assert stranger_centre == registry.centre
    assert Enrolment.objects.count() == 1


def test_a_centre_adds_a_measure_and_records_it(registry: Registry) -> None:
    trustee = user_with_role(Role.TRUSTEE)
    gps = services.measure_add(
        slug="gps",
        name="Gait Profile Score",
        unit="degrees",
        min_value=0,
        max_value=40,
        higher_is_better=False,
        source="3D gait analysis (Derby gait lab)",
        actor=trustee,
    )
    obs = services.observation_record(
        enrolment=registry.enrolment,
        measure=gps,
        time_point=registry.baseline,
        value=12.5,
        observed_on=dt.date(2025, 12, 1),
        assessor="gait lab",
        actor=registry.clinician,
    )
    assert obs.measure.slug == "gps"
    with pytest.raises(PermissionDeniedError):
        services.measure_add(slug="x", name="X", source="s", actor=registry.clinician)
    with pytest.raises(ValidationError, match="source: say where"):
        services.measure_add(slug="y", name="Y", source=" ", actor=trustee)
    assert not Measure.objects.filter(slug__in=["x", "y"]).exists()


def test_follow_up_lists_due_and_overdue(registry: Registry) -> None:
    # today 1 June 2027, surgery 15 January 2026: baseline, 6 and 12 months are overdue; 24 months opens 17 Oct 2027
    record(registry)  # baseline done
    rows = selectors.follow_up_rows(centre=registry.centre)
    assert [(r.time_point.months, r.status.value) for r in rows] == [(6, "overdue"), (12, "overdue")]
    rows = selectors.follow_up_rows(centre=registry.centre, today=dt.date(2027, 12, 1))
    assert [(r.time_point.months, r.status.value) for r in rows] == [(6, "overdue"), (12, "overdue"), (24, "due")]
    assert selectors.follow_up_rows(centre=registry.other_centre) == []
