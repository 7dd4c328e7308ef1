"""The Gift Aid declaration fields the giving form (web) embeds: what HMRC needs (sources.md: Gift Aid: declarations),
with HMRC's
model declaration wording as the help text, checked against the schedule's limits (sources.md: Gift Aid claims)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from carefund.core.money import format_pence
from carefund.giftaid import rules
from carefund.giftaid.rules import SCOPE_LABELS, Scope


class DeclarationFields(forms.Form):
    """Pass `amount_pence` to put the gift's amount into the wording; `cleaned_data` then holds normalised
    values (postcode in capitals with its space) ready for `giftaid.services.declaration_record`."""

    wants_gift_aid = forms.BooleanField(label="Yes, I want to Gift Aid my donation", required=True)
    title = forms.CharField(max_length=4, required=False, help_text="Optional, e.g. Mr, Mrs, Ms, Dr")
    first_name = forms.CharField(max_length=rules.NAME_MAX_LENGTH, help_text="Your first name (an initial is enough)")
    last_name = forms.CharField(max_length=rules.NAME_MAX_LENGTH)
    house_name_or_number = forms.CharField(max_length=rules.HOUSE_MAX_LENGTH, label="House name or number")
    address = forms.CharField(max_length=300, label="Home address", help_text="Street and town")
    postcode = forms.CharField(max_length=10, help_text="Your home postcode; X if you live outside the UK")
    scope = forms.ChoiceField(
        choices=[(s.value, SCOPE_LABELS[s]) for s in Scope],
        initial=Scope.PAST_FOUR_YEARS_AND_FUTURE.value,
        label="Which gifts this covers",
    )

    def __init__(self, *args: Any, amount_pence: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        amount = format_pence(amount_pence) if amount_pence is not None else "£__"
        self.declaration_text = rules.declaration_wording(charity_name=settings.CHARITY_NAME, amount=amount)
        self.fields["wants_gift_aid"].help_text = self.declaration_text
        # the wording of each scope, so that the donor reads the declaration they are about to make (the page shows
        # the chosen scope's; without scripts, all three, each with its choice)
        self.declaration_texts = [
            (
                s.value,
                SCOPE_LABELS[s],
                rules.declaration_wording(charity_name=settings.CHARITY_NAME, amount=amount, scope=s),
            )
            for s in Scope
        ]
        # Every field is required for Gift Aid except the title; say so when the box is left empty.
        for name in ("first_name", "last_name", "house_name_or_number", "address", "postcode"):
            label = self.fields[name].label or name.replace("_", " ").capitalize()
            self.fields[name].error_messages["required"] = f"{label} is required for Gift Aid."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        details = rules.DonorDetails.normalised(
            title=cleaned.get("title", "") or "",
            first_name=cleaned.get("first_name", "") or "",
            last_name=cleaned.get("last_name", "") or "",
            house_name_or_number=cleaned.get("house_name_or_number", "") or "",
            address=cleaned.get("address", "") or "",
            postcode=cleaned.get("postcode", "") or "",
        )
        typed_postcode = str(cleaned.get("postcode", "") or "").strip()
        for problem in rules.donor_details_problems(details):
            if problem.field in self.errors:  # a missing field already has its "is required" message
                continue
            message = problem.message[0].upper() + problem.message[1:] + "."
            if problem.field == "postcode" and typed_postcode:  # echo what the donor typed, not our re-spacing of it
                message = f"'{typed_postcode}' is not a UK postcode such as S19 2BD (or X if you live outside the UK)."
            self.add_error(problem.field, message)
        cleaned.update(
            title=details.title,
            first_name=details.first_name,
            last_name=details.last_name,
            house_name_or_number=details.house_name_or_number,
            address=details.address,
            postcode=details.postcode,
        )
        if "scope" in cleaned:
            cleaned["scope"] = Scope(cleaned["scope"])
        return cleaned
