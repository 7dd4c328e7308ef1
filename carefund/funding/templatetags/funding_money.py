"""Template filters for money: pence are formatted only at the edge."""

from __future__ import annotations

from django import template

from carefund.core.money import format_pence
from carefund.funding.rules import PAYER_LABELS

register = template.Library()


@register.filter(name="pence")
def pence(value: object) -> str:
    """Format integer pence for people: 123450 -> '£1,234.50' (empty for None)."""
    if value is None or value == "":
        return ""
    return format_pence(int(value))  # type: ignore[call-overload]


@register.filter(name="payer_label")
def payer_label(value: str) -> str:
    """Say who pays in words: 'nhs' -> 'The NHS'."""
    return PAYER_LABELS.get(value, value)
