"""Writes of the outcomes registry: load, decide (rules.py), write, audit. Keyword-only, typed, atomic.

A service given an `actor` checks the model permission and object-level access: a clinician records only for
children treated at a centre they work for. `actor=None` is the system (the demo, an import run by an operator
who named the clinician's centre) and is trusted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from carefund.care.models import Child, Provider
from carefund.core import clock
from carefund.core.errors import ConflictError, PermissionDeniedError, ValidationError
from carefund.core.people import person_ref
from carefund.core.permissions import require_child_visible, require_perm
from carefund.core.services import audit_record
from carefund.outcomes import rules
from carefund.outcomes.models import (
    AdverseEvent,
    Enrolment,
    EvaluationProgramme,
    Measure,
    MeasureKind,
    Observation,
    Severity,
    TimePoint,
)


def _require_centre_clinician(actor: Any, centre: Provider) -> None:
    """A clinician records only for the centre they work for (a superuser anywhere; the system always)."""
    if actor is None or getattr(actor, "is_superuser", False):
        return
    if not centre.clinicians.filter(pk=actor.pk).exists():
        raise PermissionDeniedError(
            f"centre: this child is treated at {centre.name}, where you do not work; only its clinicians may "
            "record their outcomes."
        )


def measure_spec(measure: Measure) -> rules.MeasureSpec:
    return rules.MeasureSpec(
        slug=measure.slug,
        name=measure.name,
        unit=measure.unit,
        min_value=measure.min_value,
        max_value=measure.max_value,
        whole_numbers=measure.whole_numbers,
    )


def window_of(time_point: TimePoint) -> rules.Window:
    return rules.Window(time_point.months, time_point.label, time_point.days_before, time_point.days_after)


# ---------------------------------------------------------------------------------------------------------------
# Measures and programmes (reference data)


@transaction.atomic
def measure_add(
    *,
    slug: str,
    name: str,
    kind: str = MeasureKind.SCORE,
    unit: str = "",
    min_value: float | None = None,
    max_value: float | None = None,
    whole_numbers: bool = False,
    higher_is_better: bool = True,
    description: str = "",
    source: str = "",
    actor: Any,
) -> Measure:
    """A centre adds a measure (e.g. the Gait Profile Score) with its valid range, unit and source."""
    require_perm(actor, "outcomes.add_measure", "add outcome measures")
    if kind not in MeasureKind.values:
        raise ValidationError(f"kind: choose one of {', '.join(MeasureKind.values)}.", field="kind")
    if min_value is not None and max_value is not None and max_value <= min_value:
        raise ValidationError("max_value: the largest valid value must be above the smallest.", field="max_value")
    if not source.strip():
        raise ValidationError("source: say where the measure and its range come from.", field="source")
    if Measure.objects.filter(slug=slug).exists():
        raise ConflictError(f"slug: a measure called {slug!r} exists already; choose another short name.")
    measure = Measure.objects.create(
        slug=slug,
        name=name,
        kind=kind,
        unit=unit,
        min_value=min_value,
        max_value=max_value,
        whole_numbers=whole_numbers,
        higher_is_better=higher_is_better,
        description=description,
        source=source,
    )
    audit_record(actor=actor, action="outcome_measure.added", target=measure, summary=name)
    return measure


@transaction.atomic
def programme_upsert(
    *,
    slug: str,
    name: str,
    centres: Iterable[Provider],
    schedule: Iterable[rules.Window] = rules.DEFAULT_SCHEDULE,
    is_synthetic: bool = False,
    source: str = "",
    actor: Any,
) -> EvaluationProgramme:
    """Create or update an evaluation programme with its centres and time points (idempotent)."""
    require_perm(actor, "outcomes.change_evaluationprogramme", "set up evaluation programmes")
    windows = list(schedule)
    if not any(w.months == 0 for w in windows):
        raise ValidationError("schedule: a programme needs a baseline time point (0 months).", field="schedule")
    programme, created = EvaluationProgramme.objects.update_or_create(
        slug=slug, defaults={"name": name, "is_synthetic": is_synthetic, "source": source}
    )
    programme.centres.set(list(centres))
    for w in windows:
        TimePoint.objects.update_or_create(
            programme=programme,
            months=w.months,
            defaults={"label": w.label, "days_before": w.days_before, "days_after": w.days_after},
        )
    if created:
        audit_record(actor=actor, action="outcome_programme.created", target=programme, summary=name)
    return programme


# ---------------------------------------------------------------------------------------------------------------
# Enrolment and consent


@transaction.atomic
def enrolment_create(
    *,
    programme: EvaluationProgramme,
    child: Child,
    centre: Provider,
    surgery_date: dt.date,
    actor: Any,
) -> Enrolment:
    """Put a child on a programme's registry at the centre that treats them (no consent yet: not analysed)."""
    require_perm(actor, "outcomes.add_enrolment", "enrol children in the outcomes registry")
    require_child_visible(actor, child)
    _require_centre_clinician(actor, centre)
    if not programme.centres.filter(pk=centre.pk).exists():
        raise ValidationError(f"centre: {centre.name} is not a centre of {programme.name}.", field="centre")
    if surgery_date < child.date_of_birth:
        raise ValidationError("surgery_date: the surgery cannot be before the child's birth.", field="surgery_date")
    if Enrolment.objects.filter(programme=programme, child=child).exists():
        raise ConflictError(f"{child.public_name} is already on the {programme.name} registry.")
    enrolment = Enrolment.objects.create(programme=programme, child=child, centre=centre, surgery_date=surgery_date)
    audit_record(
        actor=actor, action="outcome_enrolment.created", target=enrolment, summary=person_ref("child", child.pk)
    )
    return enrolment


def _require_guardian_or_staff(actor: Any, enrolment: Enrolment) -> None:
    if actor is None:
        return
    require_perm(actor, "outcomes.record_consent", "record the registry consent")
    require_child_visible(actor, enrolment.child)


@transaction.atomic
def consent_give(*, enrolment: Enrolment, actor: Any) -> Enrolment:
    """The guardian consents to their child's outcomes being in the registry and its analyses."""
    _require_guardian_or_staff(actor, enrolment)
    enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    if enrolment.has_consent:
        return enrolment
    enrolment.consent_given_at = clock.now()
    enrolment.consent_withdrawn_at = None
    enrolment.save(update_fields=["consent_given_at", "consent_withdrawn_at"])
    audit_record(
        actor=actor, action="outcome_consent.given", target=enrolment, summary=person_ref("child", enrolment.child_id)
    )
    return enrolment


@transaction.atomic
def consent_withdraw(*, enrolment: Enrolment, actor: Any) -> Enrolment:
    """The guardian withdraws consent: the child is left out of every later analysis and export. Their recorded
    measurements stay (clinical record) and are still shown to the family and their clinicians."""
    _require_guardian_or_staff(actor, enrolment)
    enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    if not enrolment.has_consent:
        raise ConflictError("There is no consent to withdraw: the child is not in the registry's analyses.")
    enrolment.consent_withdrawn_at = clock.now()
    enrolment.save(update_fields=["consent_withdrawn_at"])
    audit_record(
        actor=actor,
        action="outcome_consent.withdrawn",
        target=enrolment,
        summary=person_ref("child", enrolment.child_id),
    )
    return enrolment


# ---------------------------------------------------------------------------------------------------------------
# Observations


def _check_observation(
    *, enrolment: Enrolment, measure: Measure, time_point: TimePoint, value: float, observed_on: dt.date
) -> float:
    if measure.kind == MeasureKind.ADVERSE_EVENT:
        raise ValidationError(
            f"measure: record an adverse event as an event (date, severity, related to surgery), not as a value "
            f"of {measure.name}.",
            field="measure",
        )
    if time_point.programme_id != enrolment.programme_id:
        raise ValidationError("time_point: this time point belongs to another programme.", field="time_point")
    if observed_on > clock.today():
        raise ValidationError(
            f"observed_on: {observed_on:%d %B %Y} is in the future; record a measurement once it is taken.",
            field="observed_on",
        )
    checked = rules.check_value(measure_spec(measure), value)
    rules.check_in_window(surgery_date=enrolment.surgery_date, window=window_of(time_point), observed_on=observed_on)
    return checked


@transaction.atomic
def observation_record(
    *,
    enrolment: Enrolment,
    measure: Measure,
    time_point: TimePoint,
    value: float,
    observed_on: dt.date,
    assessor: str,
    instrument_version: str = "",
    actor: Any,
) -> Observation:
    """A clinician records a measurement. Refused: a value out of the measure's range, a date outside the time
    point's window, a child at another centre, and a second measurement of the same measure and time point (a
    correction is `observation_correct`)."""
    require_perm(actor, "outcomes.add_observation", "record outcomes")
    require_child_visible(actor, enrolment.child)
    _require_centre_clinician(actor, enrolment.centre)
    checked = _check_observation(
        enrolment=enrolment, measure=measure, time_point=time_point, value=value, observed_on=observed_on
    )
    if not assessor.strip():
        raise ValidationError("assessor: say who assessed the child (name and role).", field="assessor")
    duplicate = ConflictError(
        f"{measure.name} at {time_point.label} is already recorded for {enrolment.child.public_name}; to change "
        "it, correct the recorded value and give the reason."
    )
    if Observation.objects.filter(
        enrolment=enrolment, measure=measure, time_point=time_point, is_current=True
    ).exists():
        raise duplicate
    try:
        with transaction.atomic():
            observation = Observation.objects.create(
                enrolment=enrolment,
                measure=measure,
                time_point=time_point,
                value=checked,
                observed_on=observed_on,
                assessor=assessor.strip(),
                instrument_version=instrument_version.strip(),
                recorded_by=actor if actor is not None and actor.is_authenticated else None,
                recorded_at=clock.now(),
            )
    except IntegrityError:  # a concurrent recording of the same measure and time point won the race
        raise duplicate from None
    audit_record(
        actor=actor,
        action="outcome_observation.recorded",
        target=observation,
        summary=f"{measure.slug} at {time_point.months} months for {person_ref('child', enrolment.child_id)}",
    )
    return observation


@transaction.atomic
def observation_correct(
    *,
    observation: Observation,
    value: float,
    observed_on: dt.date | None = None,
    reason: str,
    assessor: str | None = None,
    instrument_version: str | None = None,
    actor: Any,
) -> Observation:
    """A correction: a new version with the reason, replacing the current one (which stays, no longer current)."""
    require_perm(actor, "outcomes.add_observation", "correct outcomes")
    current = Observation.objects.select_for_update().select_related("enrolment", "measure", "time_point")
    old = current.get(pk=observation.pk)
    require_child_visible(actor, old.enrolment.child)
    _require_centre_clinician(actor, old.enrolment.centre)
    if not old.is_current:
        raise ConflictError("This measurement was already corrected; correct its latest version instead.")
    if not reason.strip():
        raise ValidationError("reason: say why the measurement is corrected.", field="reason")
    when = observed_on or old.observed_on
    checked = _check_observation(
        enrolment=old.enrolment, measure=old.measure, time_point=old.time_point, value=value, observed_on=when
    )
    old.is_current = False
    old.save(update_fields=["is_current"])
    new = Observation.objects.create(
        enrolment=old.enrolment,
        measure=old.measure,
        time_point=old.time_point,
        value=checked,
        observed_on=when,
        assessor=(assessor if assessor is not None else old.assessor).strip() or old.assessor,
        instrument_version=(instrument_version if instrument_version is not None else old.instrument_version),
        version=old.version + 1,
        supersedes=old,
        correction_reason=reason.strip()[:300],
        recorded_by=actor if actor is not None and actor.is_authenticated else None,
        recorded_at=clock.now(),
    )
    audit_record(
        actor=actor,
        action="outcome_observation.corrected",
        target=new,
        summary=f"{old.measure.slug} v{old.version} -> v{new.version}",
        details={"reason": new.correction_reason, "replaces": old.pk},
    )
    return new


@transaction.atomic
def adverse_event_record(
    *,
    enrolment: Enrolment,
    occurred_on: dt.date,
    description: str,
    severity: str,
    surgery_related: bool,
    actor: Any,
) -> AdverseEvent:
    require_perm(actor, "outcomes.add_adverseevent", "record adverse events")
    require_child_visible(actor, enrolment.child)
    _require_centre_clinician(actor, enrolment.centre)
    if severity not in Severity.values:
        raise ValidationError("severity: choose mild, moderate or severe.", field="severity")
    if occurred_on > clock.today():
        raise ValidationError("occurred_on: the date is in the future.", field="occurred_on")
    if occurred_on < enrolment.child.date_of_birth:
        raise ValidationError("occurred_on: the date is before the child's birth.", field="occurred_on")
    if not description.strip():
        raise ValidationError("description: say what happened.", field="description")
    event = AdverseEvent.objects.create(
        enrolment=enrolment,
        occurred_on=occurred_on,
        description=description.strip()[:300],
        severity=severity,
        surgery_related=surgery_related,
        recorded_by=actor if actor is not None and actor.is_authenticated else None,
        recorded_at=clock.now(),
    )
    audit_record(
        actor=actor,
        action="outcome_adverse_event.recorded",
        target=event,
        summary=person_ref("child", enrolment.child_id),
    )
    return event
