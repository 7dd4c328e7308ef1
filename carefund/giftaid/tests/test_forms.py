"""The declaration fields the giving form embeds: HMRC's wording, required fields, normalised values."""

from __future__ import annotations

import pytest

from carefund.giftaid import rules
from carefund.giftaid.forms import DeclarationFields
from carefund.giftaid.rules import Scope

GOOD = {
    "wants_gift_aid": "on",
    "title": "Mrs",
    "first_name": "Ann",
    "last_name": "Smith-Jones",
    "house_name_or_number": "12",
    "address": "Acacia Avenue, Sheffield",
    "postcode": "s19 2bd",
    "scope": "this_and_future",
}


def test_help_text_is_hmrc_model_wording_with_the_charity_and_amount(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHARITY_NAME = "Daily Echo Children's Fund"
    form = DeclarationFields(amount_pence=2500)
    assert form.fields["wants_gift_aid"].help_text == (
        "I want to Gift Aid my donation of £25.00 and any donations I make in the future or have made in the past "
        "4 years to Daily Echo Children's Fund. I am a UK taxpayer and understand that if I pay less Income Tax "
        "and/or Capital Gains Tax than the amount of Gift Aid claimed on all my donations in that tax year it is my "
        "responsibility to pay any difference."
    )


def test_the_form_has_the_wording_of_each_scope_the_donor_may_choose(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHARITY_NAME = "X Trust"
    texts = {scope: text for scope, _, text in DeclarationFields(amount_pence=1000).declaration_texts}
    assert texts["this_gift"] == f"I want to Gift Aid my donation of £10.00 to X Trust. {rules.TAX_EXPLANATION}"
    assert texts["this_and_future"].startswith("I want to Gift Aid my donation of £10.00 and any donations I make in")
    assert "past 4 years" in texts["past_four_years_and_future"] and "past 4 years" not in texts["this_and_future"]


def test_help_text_without_an_amount_keeps_the_blank(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHARITY_NAME = "X Trust"
    assert DeclarationFields().declaration_text.startswith("I want to Gift Aid my donation of £__ and any donations")


@pytest.mark.parametrize(
    ("scope", "middle"),
    [
        (Scope.THIS_GIFT, "£5.00 to T."),
        (Scope.THIS_AND_FUTURE, "£5.00 and any donations I make in the future to T."),
        (
            Scope.PAST_FOUR_YEARS_AND_FUTURE,
            "£5.00 and any donations I make in the future or have made in the past 4 years to T.",
        ),
    ],
)
def test_wording_per_scope(scope: Scope, middle: str) -> None:
    text = rules.declaration_wording(charity_name="T", amount="£5.00", scope=scope)
    assert text == f"I want to Gift Aid my donation of {middle} {rules.TAX_EXPLANATION}"


def test_good_input_is_cleaned_and_normalised() -> None:
    form = DeclarationFields(data=GOOD)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["postcode"] == "S19 2BD"
    assert form.cleaned_data["scope"] is Scope.THIS_AND_FUTURE
    assert form.cleaned_data["last_name"] == "Smith-Jones"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("address", "Home address is required for Gift Aid."),
        ("postcode", "Postcode is required for Gift Aid."),
        ("house_name_or_number", "House name or number is required for Gift Aid."),
        ("first_name", "First name is required for Gift Aid."),
        ("last_name", "Last name is required for Gift Aid."),
    ],
)
def test_missing_field_is_refused_by_name(field: str, message: str) -> None:
    form = DeclarationFields(data={**GOOD, field: ""})
    assert not form.is_valid()
    assert form.errors == {field: [message]}


def test_the_declaration_box_must_be_ticked() -> None:
    data = dict(GOOD)
    del data["wants_gift_aid"]
    form = DeclarationFields(data=data)
    assert not form.is_valid()
    assert list(form.errors) == ["wants_gift_aid"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"postcode": "qi11aa"},
            "postcode",
            # what the donor typed, not carefund's re-spacing of it
            "'qi11aa' is not a UK postcode such as S19 2BD (or X if you live outside the UK).",
        ),
        (
            {"title": "M"},
            "title",
            "Title must be 2 to 4 letters (apostrophes and hyphens allowed after the first), e.g. Mr, Mrs, Dr.",
        ),
        ({"first_name": "A" * 36}, "first_name", "Ensure this value has at most 35 characters (it has 36)."),
        (
            {"house_name_or_number": "H" * 41},
            "house_name_or_number",
            "Ensure this value has at most 40 characters (it has 41).",
        ),
        ({"scope": "forever"}, "scope", "Select a valid choice. forever is not one of the available choices."),
    ],
)
def test_hmrc_limits_are_refused_by_field(change: dict[str, str], field: str, message: str) -> None:
    form = DeclarationFields(data={**GOOD, **change})
    assert not form.is_valid()
    assert form.errors == {field: [message]}
