"""Forms for the care pages: syntax only; the rules (check digits, dates, access) are the services'."""

from __future__ import annotations

from typing import Any

from django import forms

from carefund.care.models import ItemCategory, PathwayTemplate, Provider
from carefund.core.errors import ValidationError as DomainValidationError
from carefund.core.money import parse_pounds


class ChildRegisterForm(forms.Form):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    date_of_birth = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Not in the future.")
    home_postcode = forms.CharField(max_length=10, help_text="A UK postcode, for example CT21 5AB.")
    nhs_number = forms.CharField(max_length=14, label="NHS number", help_text="10 digits, for example 943 476 5919.")
    diagnosis = forms.CharField(max_length=200)
    gmfcs_level = forms.TypedChoiceField(
        label="GMFCS level",
        coerce=int,
        choices=[(i, f"Level {r}") for i, r in enumerate(["I", "II", "III", "IV", "V"], 1)],
    )
    publicity_consent = forms.BooleanField(required=False, label="The guardians consent to a public campaign page")


class ChildEditForm(forms.Form):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    date_of_birth = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Not in the future.")
    home_postcode = forms.CharField(max_length=10, help_text="A UK postcode, for example CT21 5AB.")
    diagnosis = forms.CharField(max_length=200)
    gmfcs_level = ChildRegisterForm.base_fields["gmfcs_level"]
    nhs_number = forms.CharField(
        max_length=14,
        required=False,
        label="Correct the NHS number",
        help_text="Leave empty to keep the number on record; a new one is checked and the change is audited.",
    )


class CarePlanFromTemplateForm(forms.Form):
    template = forms.ModelChoiceField(queryset=PathwayTemplate.objects.all(), empty_label=None)
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.all(), label="Treating centre", help_text="The centre that treats the child."
    )
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    title = forms.CharField(max_length=200, required=False, help_text="Leave empty for a title from the template.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # each treating organisation once: a trust's hospitals (providers with a parent) are named under the trust
        # rather than listed again beside it
        centres = Provider.objects.filter(parent__isnull=True).prefetch_related("children_providers")
        field = self.fields["provider"]
        field.queryset = centres.order_by("-is_sdr_centre", "name")  # type: ignore[attr-defined]
        field.label_from_instance = _centre_label  # type: ignore[attr-defined]


def _centre_label(provider: Provider) -> str:
    hospitals = ", ".join(sorted(h.name for h in provider.children_providers.all()))
    return f"{provider} — {hospitals}" if hospitals else str(provider)


class ItemTransitionForm(forms.Form):
    to_state = forms.CharField(max_length=20)


def _pence(text: str, field: str) -> int:
    try:
        return parse_pounds(text, field=field)
    except DomainValidationError as exc:
        raise forms.ValidationError(exc.message) from None


class CarePlanItemAddForm(forms.Form):
    """An item added by hand (a second orthotic, a private physio block): its cost in pounds, its date within the
    plan's dates (checked by the service)."""

    category = forms.ChoiceField(choices=ItemCategory.choices)
    description = forms.CharField(max_length=200, help_text="What it is, e.g. 'Ankle-foot orthoses, second pair'.")
    planned_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Within the plan's dates.")
    cost = forms.CharField(max_length=20, label="Cost (£)", help_text="For example 450 or 450.50.")

    def clean_cost(self) -> int:
        return _pence(self.cleaned_data["cost"], "cost")


class ItemCostForm(forms.Form):
    cost = forms.CharField(max_length=20, label="New cost (£)")

    def clean_cost(self) -> int:
        return _pence(self.cleaned_data["cost"], "cost")


class SdrAssessmentForm(forms.Form):
    provider = forms.ModelChoiceField(queryset=Provider.objects.none(), label="Assessing centre")
    assessed_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    gmfcs_level = forms.TypedChoiceField(
        label="GMFCS level",
        coerce=int,
        choices=[(i, f"Level {r}") for i, r in enumerate(["I", "II", "III", "IV", "V"], 1)],
    )
    spastic_diplegia = forms.BooleanField(required=False, label="Spasticity mainly in the legs (spastic diplegia)")
    spasticity_affects_function = forms.BooleanField(required=False, label="Spasticity affects function and mobility")
    dystonia = forms.BooleanField(required=False, label="Dystonia present")
    mri_typical_pvl = forms.BooleanField(required=False, label="MRI shows typical PVL changes")
    mri_basal_ganglia_or_cerebellar_lesion = forms.BooleanField(
        required=False, label="MRI shows a basal ganglia or cerebellar lesion"
    )
    genetic_or_progressive_condition = forms.BooleanField(required=False, label="Genetic or progressive illness")
    antigravity_strength = forms.BooleanField(required=False, label="Can hold antigravity postures")
    reimers_index_percent = forms.IntegerField(label="Reimers index (%)", min_value=0, max_value=100)
    significant_scoliosis = forms.BooleanField(required=False, label="Significant scoliosis")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        providers = Provider.objects.filter(clinicians=user) if user is not None else Provider.objects.none()
        self.fields["provider"].queryset = providers  # type: ignore[attr-defined]
