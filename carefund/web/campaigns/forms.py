"""Forms at the edge of giving: syntax only (amounts parse as whole pence); the rules decide the rest."""

from __future__ import annotations

from typing import Any

from django import forms

from carefund.campaigns import rules
from carefund.campaigns.models import OFFLINE_KINDS, DonationKind
from carefund.core.errors import ValidationError as DomainValidationError
from carefund.core.money import format_pence, parse_pounds

PRESET_CHOICES = [(str(p), format_pence(p)) for p in rules.PRESET_AMOUNTS_PENCE] + [("other", "Another amount")]
OFFLINE_KIND_CHOICES = [(k.value, k.label) for k in DonationKind if k in OFFLINE_KINDS]


def _pence(text: str, field: str) -> int:
    try:
        return parse_pounds(text, field=field)
    except DomainValidationError as exc:
        raise forms.ValidationError(exc.message) from None


class GiveForm(forms.Form):
    preset = forms.ChoiceField(choices=PRESET_CHOICES, widget=forms.RadioSelect, initial="2500", label="Amount")
    custom_amount = forms.CharField(required=False, label="Another amount (£)", max_length=20)
    costs_contribution = forms.CharField(
        required=False, label="Add a contribution to the charity's costs (£, optional)", max_length=20
    )
    donor_name = forms.CharField(max_length=200, required=False, label="Your name")
    donor_email = forms.EmailField(required=True, label="Your email (for your receipt)")
    is_anonymous = forms.BooleanField(required=False, label="Show my gift as anonymous")
    message = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=rules.MAX_MESSAGE_LENGTH,
        label="A message for the family (plain text; shown once approved)",
    )

    def clean_custom_amount(self) -> str:
        return str(self.cleaned_data.get("custom_amount") or "").strip()

    def clean_message(self) -> str:
        message = str(self.cleaned_data.get("message") or "").strip()
        problem = rules.message_problem(message)
        if problem:
            raise forms.ValidationError(problem.split(": ", 1)[1])
        return message

    def clean_costs_contribution(self) -> int:
        text = str(self.cleaned_data.get("costs_contribution") or "").strip()
        if not text:
            return 0
        pence = _pence(text, "costs contribution")
        problem = rules.costs_contribution_problem(pence)
        if problem:
            raise forms.ValidationError(problem.split(": ", 1)[1])
        return pence

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        preset = cleaned.get("preset")
        if preset == "other" or cleaned.get("custom_amount"):
            text = cleaned.get("custom_amount", "")
            if not text:
                self.add_error("custom_amount", "Enter an amount in pounds, for example 15 or 15.50.")
                return cleaned
            try:
                amount = _pence(text, "amount")
            except forms.ValidationError as exc:
                self.add_error("custom_amount", exc)
                return cleaned
        elif preset:
            amount = int(preset)
        else:
            return cleaned
        problem = rules.gift_amount_problem(amount)
        if problem:
            self.add_error(
                "custom_amount" if preset == "other" or cleaned.get("custom_amount") else "preset",
                problem.split(": ", 1)[1],
            )
            return cleaned
        cleaned["amount_pence"] = amount
        if not cleaned.get("donor_name") and not cleaned.get("is_anonymous"):
            self.add_error("donor_name", "Enter your name, or tick 'Show my gift as anonymous'.")
        return cleaned


class OfflineGiftForm(forms.Form):
    amount = forms.CharField(label="Amount (£)", max_length=20)
    kind = forms.ChoiceField(choices=OFFLINE_KIND_CHOICES)
    received_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    donor_name = forms.CharField(max_length=200, required=False)
    donor_email = forms.EmailField(required=False)
    reference = forms.CharField(max_length=100, required=False, help_text="Cheque number, bank reference or event")

    def clean_amount(self) -> int:
        return _pence(str(self.cleaned_data.get("amount") or ""), "amount")


class OfflineBatchForm(forms.Form):
    description = forms.CharField(max_length=200, help_text="e.g. Sponsored walk, 3 May")
    stated_total = forms.CharField(label="Stated total (£)", max_length=20)
    received_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="One gift a line: amount, kind, donor name (optional), reference (optional). "
        "For example: 25.00, cash, Ann Smith",
    )

    def clean_stated_total(self) -> int:
        return _pence(str(self.cleaned_data.get("stated_total") or ""), "stated total")

    def clean_lines(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kinds = {k for k, _ in OFFLINE_KIND_CHOICES}
        for number, raw in enumerate(str(self.cleaned_data.get("lines") or "").splitlines(), start=1):
            if not raw.strip():
                continue
            parts = [p.strip() for p in raw.split(",")]
            if len(parts) < 2:
                raise forms.ValidationError(f"Line {number}: write at least an amount and a kind, e.g. '25.00, cash'.")
            try:
                amount = parse_pounds(parts[0], field=f"line {number} amount")
            except DomainValidationError as exc:
                raise forms.ValidationError(exc.message) from None
            if parts[1] not in kinds:
                raise forms.ValidationError(f"Line {number}: kind must be one of {', '.join(sorted(kinds))}.")
            out.append(
                {
                    "amount_pence": amount,
                    "kind": parts[1],
                    "donor_name": parts[2] if len(parts) > 2 else "",
                    "reference": parts[3] if len(parts) > 3 else "",
                }
            )
        if not out:
            raise forms.ValidationError("Enter at least one line.")
        return out


class CampaignCreateForm(forms.Form):
    child: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, help_text="Only children whose guardians have consented to publicity are listed."
    )
    title = forms.CharField(max_length=200)
    story = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    media_partner = forms.CharField(max_length=200, required=False, help_text="e.g. the Daily Echo")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from carefund.care.models import Child

        super().__init__(*args, **kwargs)
        field = self.fields["child"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Child.objects.filter(publicity_consent=True).order_by("last_name", "first_name")
        field.label_from_instance = lambda child: str(child.public_name)  # type: ignore[method-assign,assignment]


class CampaignUpdateForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=5000, label="Update")


class CampaignPhotoForm(forms.Form):
    image = forms.FileField(
        label="Photo",
        help_text="JPEG, PNG or WebP, up to 10 MB. It is shown at most 1,600 pixels wide, with its location and "
        "camera details removed.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    alt_text = forms.CharField(
        max_length=rules.PHOTO_MAX_ALT_TEXT,
        label="What the photo shows",
        help_text="A few words read aloud to people who cannot see the photo, e.g. “James in his walking frame at "
        "physio”.",
    )
    caption = forms.CharField(max_length=rules.PHOTO_MAX_CAPTION, required=False, label="Caption (optional)")


def offline_declaration_form(data: Any, *, amount_pence: int | None) -> Any:
    """The written Gift Aid declaration a donor made with an offline gift (a form or a letter: sources.md: Gift Aid:
    declarations), as a
    caseworker enters it beside the gift: the giving form's declaration fields, for someone else's declaration, with
    the date the donor made it. Oral declarations are not taken here: they need the date the written record was sent
    and its 30-day right to cancel kept too (sources.md: Gift Aid: declarations), which carefund does not record."""
    from carefund.giftaid.forms import DeclarationFields

    class OfflineDeclarationFields(DeclarationFields):
        declared_on = forms.DateField(
            widget=forms.DateInput(attrs={"type": "date"}),
            label="Declared on",
            help_text="The date on the donor's form or letter.",
        )

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            wants = self.fields["wants_gift_aid"]
            wants.label = "The donor made a written Gift Aid declaration with this gift"
            wants.help_text = (
                "A form or letter with the donor's name, home address and the wording (not an oral declaration). "
                "HMRC's model wording: " + self.declaration_text
            )
            for name in ("first_name", "last_name", "house_name_or_number", "address", "postcode"):
                self.fields[name].help_text = ""
            self.fields["postcode"].help_text = "The donor's home postcode; X if they live outside the UK"

    return OfflineDeclarationFields(data, prefix="ga", amount_pence=amount_pence)
