"""What a gift's receipt says about Gift Aid: campaigns writes the receipt and asks, through its `receipt_lines`
signal, what other apps know of the gift (campaigns never imports giftaid: docs/architecture.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from carefund.campaigns.models import Donation
from carefund.core.money import format_pence
from carefund.giftaid.rules import Scope
from carefund.giftaid.selectors import declarations_covering

SCOPE_WORDS = {
    Scope.THIS_GIFT: "this gift",
    Scope.THIS_AND_FUTURE: "this gift and your future gifts",
    Scope.PAST_FOUR_YEARS_AND_FUTURE: "this gift, your future gifts and those of the past four years",
}


def receipt_gift_aid_lines(*, donations: list[Donation], **_: Any) -> dict[int, list[str]]:
    """The receipts' Gift Aid paragraphs, by gift id: the declaration that covers the gift (when made, which gifts),
    the Gift Aid it brings, and how to cancel it (sources.md: Gift Aid: declarations); none for a gift no declaration
    covers. The declarations of all the gifts are read at once."""
    return {
        donation.pk: _paragraph(donation, declaration, due)
        for donation, (declaration, due) in zip(donations, declarations_covering(donations=donations), strict=True)
        if declaration is not None and due
    }


def _paragraph(donation: Donation, declaration: Any, due: int) -> list[str]:
    return [
        f"Gift Aid: your declaration of {declaration.declared_on:%d %B %Y} covers "
        f"{SCOPE_WORDS[Scope(declaration.scope)]}. It adds {format_pence(due)} to this gift from HMRC, at no cost to "
        "you, as long as you pay at least as much Income Tax or Capital Gains Tax in the tax year as all charities "
        "claim on your gifts.",
        _how_to_cancel(declaration, donation),
    ]


def _how_to_cancel(declaration: Any, donation: Donation) -> str:
    """What the donor can truly do: a declaration for this gift only has nothing left to cancel (the gift's page
    offers no control for it); one made with this gift for later gifts too is cancelled on the gift's page, whose
    link ends the receipt; any other by a reply."""
    if declaration.scope == Scope.THIS_GIFT:
        return (
            "It covers this gift only, so there is nothing to cancel for later gifts. If you should not have made it "
            f"(you pay less tax than the Gift Aid claimed), tell {settings.CHARITY_NAME}: reply to this email."
        )
    where = "use your gift's page (the link below) or " if declaration.donation_id == donation.pk else ""
    return (
        f"To cancel it for your gifts from now on, {where}tell {settings.CHARITY_NAME} (reply to this email); tell "
        "us too if you stop paying enough tax or move home."
    )
