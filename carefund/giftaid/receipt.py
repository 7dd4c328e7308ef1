"""What a gift's receipt says about Gift Aid: campaigns writes the receipt and asks, through its `receipt_lines`
signal, what other apps know of the gift (campaigns never imports giftaid: docs/architecture.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from carefund.campaigns.models import Donation
from carefund.core.money import format_pence
from carefund.giftaid.rules import Scope
from carefund.giftaid.selectors import declaration_covering, gift_aid_due_for_donation

SCOPE_WORDS = {
    Scope.THIS_GIFT: "this gift",
    Scope.THIS_AND_FUTURE: "this gift and your future gifts",
    Scope.PAST_FOUR_YEARS_AND_FUTURE: "this gift, your future gifts and those of the past four years",
}


def receipt_gift_aid_lines(*, donation: Donation, **_: Any) -> list[str]:
    """The receipt's Gift Aid paragraph: the declaration that covers the gift (when made, which gifts), the Gift Aid
    it brings, and how to cancel it (sources.md: Gift Aid: declarations); none if no declaration covers it."""
    declaration = declaration_covering(donation=donation)
    due = gift_aid_due_for_donation(donation=donation)
    if declaration is None or not due:
        return []
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
