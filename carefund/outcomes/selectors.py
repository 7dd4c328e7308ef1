"""Permission-checked reads of the outcomes registry. A child's measurements are read through
`child_outcomes_for_user` (audited: every read of a child's outcomes leaves an event); the evaluation reads only
children whose guardian consents, and gives aggregates with small cells suppressed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.db.models import CharField, Count, Max, Min, QuerySet
from django.db.models.functions import Cast

from carefund.care.models import Child, Provider
from carefund.core import clock
from carefund.core.errors import DomainError, NotFoundError, PermissionDeniedError
from carefund.core.people import person_ref
from carefund.core.permissions import restrict_children
from carefund.core.services import audit_record
from carefund.outcomes import evaluation, rules
from carefund.outcomes.models import (
    AdverseEvent,
    Enrolment,
    EvaluationProgramme,
    Measure,
    MeasureKind,
    Observation,
    TimePoint,
)
from carefund.outcomes.services import window_of


def _may(user: Any, perm: str) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_perm(perm))


def enrolments_for_user(*, user: Any) -> QuerySet[Enrolment]:
    if not _may(user, "outcomes.view_enrolment"):
        return Enrolment.objects.none()
    qs = Enrolment.objects.select_related("child", "centre", "programme")
    return restrict_children(qs, user, prefix="child__")


def enrolment_get_for_user(*, user: Any, pk: int) -> Enrolment:
    enrolment = enrolments_for_user(user=user).filter(pk=pk).first()
    if enrolment is None:
        raise NotFoundError("No such registry entry.")
    return enrolment


def clinician_centres(*, user: Any) -> QuerySet[Provider]:
    """The centres where `user` works (every centre for a superuser)."""
    if getattr(user, "is_superuser", False):
        return Provider.objects.filter(is_sdr_centre=True)
    return Provider.objects.filter(clinicians=user)


@dataclass(frozen=True)
class MeasureSeries:
    measure: Measure
    points: list[Observation]  # current versions, by time point


@dataclass
class ChildOutcomes:
    child: Child
    enrolments: list[Enrolment]
    series: list[MeasureSeries] = field(default_factory=list)
    corrections: list[Observation] = field(default_factory=list)  # replaced versions (staff only)
    adverse_events: list[AdverseEvent] = field(default_factory=list)
    synthetic: bool = False


def child_outcomes_for_user(*, user: Any, child_pk: int, with_history: bool = False) -> ChildOutcomes:
    """A child's measurements over time for someone who may see them (their guardian, a clinician at their
    centre, a trustee); audited. Anyone else: NotFoundError (a 404: never confirm the child exists)."""
    if not _may(user, "outcomes.view_observation"):
        raise NotFoundError("No such child.")
    child = restrict_children(Child.objects.filter(pk=child_pk), user).first()
    if child is None:
        raise NotFoundError("No such child.")
    enrolments = list(Enrolment.objects.filter(child=child).select_related("programme", "centre"))
    observations = list(
        Observation.objects.filter(enrolment__child=child)
        .select_related("measure", "time_point")
        .order_by("measure__position", "measure__slug", "time_point__months", "version")
    )
    by_measure: dict[int, list[Observation]] = defaultdict(list)
    measures: dict[int, Measure] = {}
    corrections = []
    for obs in observations:
        if obs.is_current:
            by_measure[obs.measure_id].append(obs)
            measures[obs.measure_id] = obs.measure
        else:
            corrections.append(obs)
    result = ChildOutcomes(
        child=child,
        enrolments=enrolments,
        series=[MeasureSeries(measures[mid], points) for mid, points in by_measure.items()],
        corrections=corrections if with_history else [],
        adverse_events=list(AdverseEvent.objects.filter(enrolment__child=child)) if with_history else [],
        synthetic=any(e.programme.is_synthetic for e in enrolments),
    )
    audit_record(actor=user, action="outcomes.viewed", target=child, summary=person_ref("child", child.pk))
    return result


# ---------------------------------------------------------------------------------------------------------------
# Follow-up


@dataclass(frozen=True)
class FollowUpRow:
    enrolment: Enrolment
    time_point: TimePoint
    status: rules.FollowUpStatus
    opens: dt.date
    closes: dt.date


def follow_up_rows(*, centre: Provider, today: dt.date | None = None) -> list[FollowUpRow]:
    """Children at `centre` (consenting or not: follow-up is clinical care) due or overdue for a time point,
    overdue first. Synthetic (demo) programmes have nobody to call, so they are left out."""
    today = today or clock.today()
    enrolments = list(
        Enrolment.objects.filter(centre=centre, programme__is_synthetic=False)
        .select_related("child", "programme")
        .order_by("surgery_date", "pk")
    )
    programmes = {e.programme_id for e in enrolments}
    points: dict[int, list[TimePoint]] = defaultdict(list)
    for tp in TimePoint.objects.filter(programme_id__in=programmes).order_by("months"):
        points[tp.programme_id].append(tp)
    # a time point counts as recorded when any measure was recorded for it
    done = set(
        Observation.objects.filter(enrolment__in=enrolments, is_current=True).values_list(
            "enrolment_id", "time_point_id"
        )
    )
    rows = []
    for e in enrolments:
        for tp in points[e.programme_id]:
            window = window_of(tp)
            status = rules.follow_up_status(
                surgery_date=e.surgery_date, window=window, today=today, recorded=(e.pk, tp.pk) in done
            )
            if status in (rules.FollowUpStatus.DUE, rules.FollowUpStatus.OVERDUE):
                opens, closes = rules.window_dates(e.surgery_date, window)
                rows.append(FollowUpRow(e, tp, status, opens, closes))
    rows.sort(key=lambda r: (r.status != rules.FollowUpStatus.OVERDUE, r.closes, r.enrolment.pk))
    return rows


def follow_up_for_user(*, user: Any, centre_pk: int) -> tuple[Provider, list[FollowUpRow]]:
    if not _may(user, "outcomes.view_follow_up"):
        raise PermissionDeniedError("You may not read follow-up lists.")
    centre = Provider.objects.filter(pk=centre_pk).first()
    if centre is None:
        raise NotFoundError("No such centre.")
    if not getattr(user, "is_superuser", False) and not (
        user.has_perm("outcomes.view_evaluation") or centre.clinicians.filter(pk=user.pk).exists()
    ):
        raise NotFoundError("No such centre.")
    audit_record(actor=user, action="outcomes.follow_up_viewed", target=centre, summary=centre.name)
    return centre, follow_up_rows(centre=centre)


# ---------------------------------------------------------------------------------------------------------------
# The evaluation


def programme_default() -> EvaluationProgramme | None:
    """The programme with the most children on its registry (the first made, on a tie)."""
    return EvaluationProgramme.objects.annotate(n=Count("enrolments")).order_by("-n", "pk").first()


def programme_get(*, slug: str | None) -> EvaluationProgramme:
    programme = programme_default() if not slug else EvaluationProgramme.objects.filter(slug=slug).first()
    if programme is None:
        known = ", ".join(EvaluationProgramme.objects.values_list("slug", flat=True)) or "none yet"
        raise NotFoundError(f"No such evaluation programme{f' {slug!r}' if slug else ''}; known: {known}.")
    return programme


def analysed_measures(*, slugs: list[str] | None = None) -> list[Measure]:
    qs = Measure.objects.exclude(kind=MeasureKind.ADVERSE_EVENT).exclude(kind=MeasureKind.LEVEL)
    if slugs:
        found = list(qs.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {m.slug for m in found})
        if missing:
            known = ", ".join(qs.values_list("slug", flat=True))
            raise NotFoundError(f"measure: no analysed measure called {', '.join(missing)}; choose from {known}.")
        return found
    return list(qs)


def cohort_for(*, programme: EvaluationProgramme, today: dt.date | None = None) -> evaluation.Cohort:
    """The consenting children of a programme as the evaluation's tables (numbers only, no identifiers).

    At 10,000 children the observations are about 450,000 rows, so they are read as plain columns of ids and
    numbers, with no join: measures and time points are mapped from their ids afterwards, and the date is read as
    its ISO text (a Cast, so neither the driver nor Django parses 450,000 dates one by one) and turned into days
    from surgery by pandas in one step (docs/benchmarks.md "Outcomes evaluation")."""
    today = today or clock.today()
    enrolments = Enrolment.objects.filter(
        programme=programme, consent_given_at__isnull=False, consent_withdrawn_at__isnull=True
    )
    rows = list(
        enrolments.values_list("pk", "centre__name", "surgery_date", "child__date_of_birth", "child__gmfcs_level")
    )
    gmfcs_baseline = dict(
        Observation.objects.filter(
            enrolment__in=enrolments, is_current=True, measure__slug="gmfcs", time_point__months=0
        ).values_list("enrolment_id", "value")
    )
    ids = [r[0] for r in rows]
    surgery = {r[0]: r[2] for r in rows}
    children = pd.DataFrame(
        {
            "centre": [r[1] for r in rows],
            "gmfcs": [gmfcs_baseline.get(r[0], r[4]) for r in rows],
            "age_years": [(r[2] - r[3]).days / evaluation.DAYS_PER_YEAR for r in rows],
        },
        index=pd.Index(ids, name="child"),
    )
    slugs = dict(Measure.objects.exclude(kind=MeasureKind.ADVERSE_EVENT).values_list("pk", "slug"))
    time_points = list(TimePoint.objects.filter(programme=programme))
    months_of = {tp.pk: tp.months for tp in time_points}
    obs = pd.DataFrame.from_records(
        Observation.objects.filter(enrolment__in=enrolments, is_current=True, measure_id__in=list(slugs))
        .order_by()
        .values_list("enrolment_id", "measure_id", "time_point_id", "value", Cast("observed_on", CharField())),
        columns=["child", "measure", "months", "value", "observed_on"],
    )
    obs["measure"] = obs["measure"].map(slugs)
    obs["months"] = obs["months"].map(months_of)
    if len(obs):
        observed = pd.to_datetime(obs["observed_on"], format="%Y-%m-%d")
        operated = pd.to_datetime(obs["child"].map(surgery))
        obs["years"] = (observed - operated).dt.days.astype(float) / evaluation.DAYS_PER_YEAR
    else:
        obs["years"] = pd.Series(dtype=float)
    obs = obs.drop(columns=["observed_on"])
    closed = []
    for tp in time_points:
        window = window_of(tp)
        closes: dict[dt.date, bool] = {}  # by surgery date: many children share one
        for pk in ids:
            day = surgery[pk]
            if day not in closes:
                closes[day] = rules.window_dates(day, window)[1] < today
            if closes[day]:
                closed.append((pk, tp.months))
    adverse = pd.DataFrame.from_records(
        AdverseEvent.objects.filter(enrolment__in=enrolments).values_list(
            "enrolment_id", "severity", "surgery_related"
        ),
        columns=["child", "severity", "surgery_related"],
    )
    return evaluation.Cohort(
        observations=obs,
        children=children,
        closed=pd.DataFrame.from_records(closed, columns=["child", "months"]),
        adverse_events=adverse,
        synthetic=programme.is_synthetic,
    )


def evaluation_run(
    *, programme: EvaluationProgramme, measure_slugs: list[str] | None = None, suppress: bool = True
) -> dict[str, Any]:
    """The evaluation of a programme (system use: the command, the task, the page through
    `evaluation_for_user`)."""
    measures = analysed_measures(slugs=measure_slugs)
    cohort = cohort_for(programme=programme)
    months = list(programme.time_points.values_list("months", flat=True))
    centres = list(programme.centres.order_by("name").values_list("name", flat=True))
    result = evaluation.evaluate(
        cohort,
        [evaluation.MeasureInfo(m.slug, m.name) for m in measures],
        months,
        evaluation.Options(suppress=suppress, centres=centres),
    )
    return {"programme": programme.name, **result}


def evaluation_for_user(*, user: Any, programme_slug: str | None = None, measure: str | None = None) -> dict[str, Any]:
    """The evaluation for commissioners, health economists and trustees: aggregates with small cells
    suppressed."""
    if not _may(user, "outcomes.view_evaluation"):
        raise PermissionDeniedError("You may not read the evaluation.")
    programme = programme_get(slug=programme_slug)
    return evaluation_run(programme=programme, measure_slugs=[measure] if measure else None)


# ---------------------------------------------------------------------------------------------------------------
# Evidence for the economic model

# The fewest consenting children with GMFM-66 measured before and after surgery whose fitted annual change may stand
# in for the literature's treatment effect (carefund's threshold: below it one centre's few children would decide
# the model; CtE had 137).
MIN_CHILDREN_FOR_EVIDENCE = 30
# The SDR cost-effectiveness model's treatment effect (carefund/economics/models/sdr.toml), which the evidence replaces.
EVIDENCE_PARAMETER = "gmfm_gain_per_year"


class InsufficientEvidenceError(DomainError):
    """The registry has too few children (or no fit) to replace the model's treatment effect."""


@dataclass(frozen=True)
class RegistryEvidence:
    programme: str
    synthetic: bool
    estimate: float  # GMFM-66 units a year
    standard_error: float
    ci95: tuple[float, float]
    n_children: int
    first_measured: dt.date
    last_measured: dt.date

    @property
    def source(self) -> str:
        label = " (SYNTHETIC demo data)" if self.synthetic and "SYNTHETIC" not in self.programme else ""
        return (
            f"carefund outcomes registry, {self.programme}{label}: annual GMFM-66 change {self.estimate:.2f} "
            f"(95% CI {self.ci95[0]:.2f} to {self.ci95[1]:.2f}) from a mixed model with a random intercept and slope "
            f"per child, n = {self.n_children} children measured {self.first_measured:%d %b %Y} to "
            f"{self.last_measured:%d %b %Y}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "programme": self.programme,
            "synthetic": self.synthetic,
            "estimate": self.estimate,
            "standard_error": self.standard_error,
            "ci95": list(self.ci95),
            "n_children": self.n_children,
            "first_measured": self.first_measured.isoformat(),
            "last_measured": self.last_measured.isoformat(),
        }


def registry_evidence(*, programme_slug: str | None = None, min_children: int | None = None) -> RegistryEvidence:
    """The registry's fitted annual GMFM-66 change, its uncertainty, n and dates (consenting children with a
    baseline and at least one later GMFM-66); InsufficientEvidenceError, saying why, below `min_children`."""
    from carefund.outcomes.mixed_model import fit_random_slope

    min_children = MIN_CHILDREN_FOR_EVIDENCE if min_children is None else min_children
    try:
        programme = programme_get(slug=programme_slug)
    except NotFoundError as exc:
        raise InsufficientEvidenceError(f"No registry evidence: {exc.message}") from None
    obs = cohort_for(programme=programme).observations
    gmfm = obs.loc[obs["measure"] == "gmfm66"]
    with_baseline = set(gmfm.loc[gmfm["months"] == 0, "child"])
    followed = set(gmfm.loc[gmfm["months"] > 0, "child"])
    children = sorted(with_baseline & followed)
    if len(children) < min_children:
        raise InsufficientEvidenceError(
            f"The {programme.name} registry has {len(children)} consenting children with GMFM-66 measured before and "
            f"after surgery; the economic model takes its treatment effect from the registry only from "
            f"{min_children}. It keeps the published figure until then."
        )
    series = gmfm.loc[gmfm["child"].isin(children)]
    try:
        fit = fit_random_slope(series["child"].to_numpy(), series["years"].to_numpy(), series["value"].to_numpy())
    except ValueError as exc:
        raise InsufficientEvidenceError(f"The registry's GMFM-66 series cannot be fitted: {exc}.") from None
    if not fit.converged:
        raise InsufficientEvidenceError("The registry's mixed model did not converge; the published figure is kept.")
    dates = Observation.objects.filter(enrolment_id__in=children, measure__slug="gmfm66", is_current=True).aggregate(
        first=Min("observed_on"), last=Max("observed_on")
    )
    z = 1.959963984540054
    return RegistryEvidence(
        programme=programme.name,
        synthetic=programme.is_synthetic,
        estimate=round(fit.slope, 4),
        standard_error=round(fit.slope_se, 4),
        ci95=(round(fit.slope - z * fit.slope_se, 4), round(fit.slope + z * fit.slope_se, 4)),
        n_children=len(children),
        first_measured=dates["first"],
        last_measured=dates["last"],
    )
