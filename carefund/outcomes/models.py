"""The outcomes registry: measures (as data), evaluation programmes and their time points, each child's enrolment
(centre, surgery date, the guardian's consent), observations (versioned: a correction is a new version, never an
edit) and adverse events.

Single-row truths are `Meta.constraints`; decisions are in `rules.py`; writes go through `services.py`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class MeasureKind(models.TextChoices):
    SCORE = "score", "Score (continuous)"
    LEVEL = "level", "Level (ordinal)"
    ADVERSE_EVENT = "adverse_event", "Adverse event"


class Measure(models.Model):
    """An outcome measure: its valid range, unit and source. Defined as data, so a centre can add one (for example
    the Gait Profile Score) without a code change."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=MeasureKind.choices)
    unit = models.CharField(max_length=60, blank=True)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    whole_numbers = models.BooleanField(default=False, help_text="Only whole numbers are valid (a GMFCS level).")
    higher_is_better = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=500, blank=True, help_text="Where the measure and its range come from.")
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["position", "slug"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MeasureKind.values), name="outcomes_measure_kind_valid"),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True) | Q(max_value__isnull=True) | Q(max_value__gt=F("min_value")),
                name="outcomes_measure_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EvaluationProgramme(models.Model):
    """A programme whose children's outcomes are followed (e.g. NHS England's Commissioning through Evaluation of
    SDR), with its centres and its schedule of time points."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    centres = models.ManyToManyField("care.Provider", related_name="evaluation_programmes")
    is_synthetic = models.BooleanField(default=False, help_text="Demo data: every page and export says so.")
    source = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("view_evaluation", "Can read the evaluation (aggregate tables, small cells suppressed)"),
            ("view_follow_up", "Can read the follow-up list of a centre"),
        ]

    def __str__(self) -> str:
        return self.name


class TimePoint(models.Model):
    """A time point of a programme's schedule: months after surgery (0 = baseline, before surgery) and the window
    of days around it in which a measurement counts for it."""

    programme = models.ForeignKey(EvaluationProgramme, on_delete=models.CASCADE, related_name="time_points")
    months = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=60)
    days_before = models.PositiveIntegerField(help_text="Days before the target date a measurement may be taken.")
    days_after = models.PositiveIntegerField(help_text="Days after the target date a measurement may be taken.")

    class Meta:
        ordering = ["programme", "months"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "months"], name="outcomes_time_point_unique"),
            models.CheckConstraint(condition=Q(months__lte=120), name="outcomes_time_point_months_le_120"),
        ]

    def __str__(self) -> str:
        return self.label


class Enrolment(models.Model):
    """A child in a programme: the centre that treats them, the date of surgery and the guardian's consent to the
    registry. No consent (or consent withdrawn): the child is left out of every analysis and export."""

    programme = models.ForeignKey(EvaluationProgramme, on_delete=models.PROTECT, related_name="enrolments")
    child = models.ForeignKey("care.Child", on_delete=models.PROTECT, related_name="outcome_enrolments")
    centre = models.ForeignKey("care.Provider", on_delete=models.PROTECT, related_name="outcome_enrolments")
    surgery_date = models.DateField()
    consent_given_at = models.DateTimeField(null=True, blank=True)
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["programme", "centre", "surgery_date", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "child"], name="outcomes_enrolment_unique"),
        ]
        permissions = [("record_consent", "Can record or withdraw a guardian's consent to the registry")]

    def __str__(self) -> str:
        return f"{self.child} in {self.programme}"

    @property
    def has_consent(self) -> bool:
        return self.consent_given_at is not None and self.consent_withdrawn_at is None


class Observation(models.Model):
    """One measurement of one measure at one time point. A correction is a new row (version + 1, with a reason);
    the row it replaces stays, marked no longer current. At most one current row per enrolment, measure and time
    point (a duplicate is refused by the database too)."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="observations")
    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="observations")
    time_point = models.ForeignKey(TimePoint, on_delete=models.PROTECT, related_name="observations")
    value = models.FloatField()
    observed_on = models.DateField()
    assessor = models.CharField(max_length=120, help_text="Who assessed the child (name and role).")
    instrument_version = models.CharField(max_length=60, blank=True)
    version = models.PositiveIntegerField(default=1)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    correction_reason = models.CharField(max_length=300, blank=True)
    is_current = models.BooleanField(default=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["enrolment", "measure", "time_point", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "measure", "time_point"],
                condition=Q(is_current=True),
                name="outcomes_observation_one_current",
            ),
            models.UniqueConstraint(
                fields=["enrolment", "measure", "time_point", "version"], name="outcomes_observation_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(version=1, supersedes__isnull=True, correction_reason="")
                | (Q(version__gt=1, supersedes__isnull=False) & ~Q(correction_reason="")),
                name="outcomes_observation_correction_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["measure", "is_current"], name="outcomes_obs_measure_current")]

    def __str__(self) -> str:
        return f"{self.measure.slug} {self.value} at {self.time_point} (v{self.version})"


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class AdverseEvent(models.Model):
    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="adverse_events")
    occurred_on = models.DateField()
    description = models.CharField(max_length=300)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    surgery_related = models.BooleanField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["enrolment", "occurred_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="outcomes_adverse_severity_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.severity})"
