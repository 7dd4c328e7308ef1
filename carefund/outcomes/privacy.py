"""A child's outcomes for a subject-access export or an erasure (answers `core.privacy.child_export` and
`child_erase`). The registry rests on the guardian's consent (docs/adr/0071-outcomes-consent-and-disclosure.md): on
erasure the child's enrolments, measurements and adverse events are deleted (not merely withdrawn), so no later
analysis can include them. Analyses published before stay as published (aggregates that name no one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from carefund.outcomes.models import AdverseEvent, Enrolment, Observation


def child_outcomes_export(*, child_id: int, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    records = []
    enrolments = Enrolment.objects.filter(child_id=child_id).select_related("programme", "centre").order_by("pk")
    for e in enrolments:
        observations = (
            Observation.objects.filter(enrolment=e)
            .select_related("measure", "time_point")
            .order_by("measure__slug", "time_point__months", "version")
        )
        records.append(
            {
                "enrolment": e.pk,
                "programme": str(e.programme),
                "centre": e.centre.name,
                "surgery_date": e.surgery_date.isoformat(),
                "consent_given_at": e.consent_given_at.isoformat() if e.consent_given_at else None,
                "consent_withdrawn_at": e.consent_withdrawn_at.isoformat() if e.consent_withdrawn_at else None,
                "measurements": [
                    {
                        "measure": o.measure.slug,
                        "months": o.time_point.months,
                        "value": o.value,
                        "observed_on": o.observed_on.isoformat(),
                        "assessor": o.assessor,
                        "version": o.version,
                        "current": o.is_current,
                        "correction_reason": o.correction_reason,
                    }
                    for o in observations
                ],
                "adverse_events": [
                    {
                        "occurred_on": a.occurred_on.isoformat(),
                        "description": a.description,
                        "severity": a.severity,
                        "surgery_related": a.surgery_related,
                    }
                    for a in AdverseEvent.objects.filter(enrolment=e).order_by("occurred_on", "pk")
                ],
            }
        )
    return "outcomes", records


def child_outcomes_erase(*, child_id: int, now: dt.datetime, **kwargs: Any) -> tuple[str, int, list[str]]:
    observations = Observation.objects.filter(enrolment__child_id=child_id)
    observations.update(supersedes=None)  # a correction protects the row it replaced: unlink, then delete both
    n_observations, _ = observations.delete()
    n_events, _ = AdverseEvent.objects.filter(enrolment__child_id=child_id).delete()
    n_enrolments, _ = Enrolment.objects.filter(child_id=child_id).delete()
    return "outcomes", n_observations + n_events + n_enrolments, []
