"""Refusals in the page's words (web/words.py)."""

from __future__ import annotations

from carefund.core.errors import FourEyesError, ValidationError
from carefund.web.words import in_words

LABELS = {"number": "Invoice number", "reason": "Reason"}


def test_a_code_name_becomes_the_pages_label() -> None:
    error = ValidationError("number: give the provider's invoice number.", field="number")
    assert in_words(error, LABELS) == "Invoice number: give the provider's invoice number."


def test_a_code_name_with_no_field_on_the_page_is_dropped() -> None:
    error = FourEyesError("approver: you entered this invoice; another finance officer must approve it.")
    assert in_words(error, LABELS) == "You entered this invoice; another finance officer must approve it."
    assert in_words("entered_by: must be named.") == "Must be named."


def test_a_message_in_words_is_left_alone() -> None:
    assert in_words("journal entry: no entry #4.", LABELS) == "journal entry: no entry #4."
    message = "Amount for Physio 1: enter an amount in pounds."
    assert in_words(message) == message
    assert in_words("No prefix here.") == "No prefix here."
