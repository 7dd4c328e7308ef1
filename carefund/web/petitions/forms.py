"""Petition forms: syntax only (the rules in carefund.petitions.rules decide, with messages the page shows)."""

from __future__ import annotations

from django import forms

from carefund.petitions.models import PetitionTarget, RejectionCode
from carefund.petitions.rules import ACTION_MAX, BACKGROUND_MAX, DETAILS_MAX

# The UK first, then the countries most British people abroad live in; "Another country" asks for its code.
COUNTRIES = [
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("ES", "Spain"),
    ("FR", "France"),
    ("PT", "Portugal"),
    ("DE", "Germany"),
    ("NL", "Netherlands"),
    ("IT", "Italy"),
    ("US", "United States"),
    ("CA", "Canada"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
    ("AE", "United Arab Emirates"),
    ("ZA", "South Africa"),
]
COUNTRY_NAMES = dict(COUNTRIES)


class SignatureForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=300, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.CharField(label="Email", max_length=300, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    email_confirmation = forms.CharField(
        label="Email again (to check it)", max_length=300, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    uk_citizen_or_resident = forms.BooleanField(required=False, label="I am a British citizen or I live in the UK")
    location = forms.ChoiceField(label="Where you live", choices=COUNTRIES, initial="GB")
    postcode = forms.CharField(
        label="Postcode (if you live in the UK)",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    notify_by_email = forms.BooleanField(
        required=False, label="Email me once when there is a response to this petition"
    )


class PetitionForm(SignatureForm):
    action = forms.CharField(
        label=f"What do you want to happen? ({ACTION_MAX} characters at most)",
        max_length=ACTION_MAX + 200,
        widget=forms.TextInput(attrs={"maxlength": ACTION_MAX}),
    )
    background = forms.CharField(
        label=f"Why? ({BACKGROUND_MAX} characters at most)",
        max_length=BACKGROUND_MAX + 200,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": BACKGROUND_MAX}),
    )
    additional_details = forms.CharField(
        label=f"More details (optional, {DETAILS_MAX} characters at most)",
        required=False,
        max_length=DETAILS_MAX + 200,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": DETAILS_MAX}),
    )
    target = forms.ChoiceField(label="Who are you asking?", choices=PetitionTarget.choices)
    target_name = forms.CharField(label="Its name (for an ICB or a trust)", max_length=120, required=False)
    field_order = ["action", "background", "additional_details", "target", "target_name"]


class RejectForm(forms.Form):
    code = forms.ChoiceField(label="Reason", choices=RejectionCode.choices)
    details = forms.CharField(
        label="Details (published unless hidden)", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    hide = forms.BooleanField(label="Hide the petition (not shown publicly)", required=False)
    duplicate_of = forms.CharField(label="Duplicate of (its address name)", required=False, max_length=90)


class ResponseForm(forms.Form):
    responded_by = forms.CharField(label="Who responded", max_length=120)
    summary = forms.CharField(label="Summary", max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    details = forms.CharField(label="The full response", required=False, widget=forms.Textarea(attrs={"rows": 8}))


class PaperForm(forms.Form):
    signature_count = forms.IntegerField(label="Number of signatures", min_value=1, max_value=100_000)
    collected_on = forms.DateField(label="Date collected", widget=forms.DateInput(attrs={"type": "date"}))
    place = forms.CharField(label="Where they were collected", max_length=200)
    held_by = forms.CharField(label="Who holds the sheets", max_length=200)


class InvalidationForm(forms.Form):
    petition = forms.CharField(label="Petition (address name; empty for all petitions)", required=False, max_length=90)
    ip_address = forms.GenericIPAddressField(label="IP address", required=False)
    email_domain = forms.CharField(label="Email domain (e.g. example.com)", required=False, max_length=254)
    signed_from = forms.DateTimeField(
        label="Signed from", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    signed_until = forms.DateTimeField(
        label="Signed before", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reason = forms.CharField(label="Reason (for the audit trail)", required=False, max_length=300)
