"""Forms of the outcomes pages: syntax only (numbers, dates); the rules are the services'."""

from __future__ import annotations

from typing import Any

from django import forms

from carefund.care.models import Provider
from carefund.outcomes.models import EvaluationProgramme, Measure, MeasureKind, Severity, TimePoint


class ObservationForm(forms.Form):
    measure = forms.ModelChoiceField(queryset=Measure.objects.none(), label="Measure")
    time_point = forms.ModelChoiceField(queryset=TimePoint.objects.none(), label="Time point")
    value = forms.FloatField(label="Value", help_text="The score or level as recorded on the assessment form.")
    observed_on = forms.DateField(
        label="Date assessed", widget=forms.DateInput(attrs={"type": "date"}), help_text="For example 2026-07-15."
    )
    assessor = forms.CharField(
        label="Assessed by", max_length=120, help_text="Name and role, e.g. A. Khan, physiotherapist."
    )
    instrument_version = forms.CharField(
        label="Instrument version", max_length=60, required=False, help_text="e.g. GMFM-66 (GMAE-3)."
    )

    def __init__(self, *args: Any, programme: EvaluationProgramme, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["measure"].queryset = Measure.objects.exclude(kind=MeasureKind.ADVERSE_EVENT)  # type: ignore[attr-defined]
        self.fields["time_point"].queryset = programme.time_points.all()  # type: ignore[attr-defined]


class CorrectionForm(forms.Form):
    value = forms.FloatField(label="Corrected value")
    observed_on = forms.DateField(
        label="Date assessed",
        widget=forms.DateInput(attrs={"type": "date"}),
        required=False,
        help_text="Leave empty to keep the recorded date.",
    )
    reason = forms.CharField(
        label="Reason for the correction", max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )


class EnrolmentForm(forms.Form):
    programme = forms.ModelChoiceField(queryset=EvaluationProgramme.objects.all(), label="Programme")
    centre = forms.ModelChoiceField(queryset=Provider.objects.none(), label="Treating centre")
    surgery_date = forms.DateField(label="Date of surgery", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, centres: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["centre"].queryset = centres  # type: ignore[attr-defined]


class AdverseEventForm(forms.Form):
    occurred_on = forms.DateField(label="Date it happened", widget=forms.DateInput(attrs={"type": "date"}))
    description = forms.CharField(label="What happened", max_length=300)
    severity = forms.ChoiceField(label="Severity", choices=Severity.choices)
    surgery_related = forms.BooleanField(label="Related to the surgery", required=False)


class EvaluationFilterForm(forms.Form):
    measure = forms.ModelChoiceField(
        queryset=Measure.objects.filter(kind=MeasureKind.SCORE), to_field_name="slug", label="Measure", required=False
    )
