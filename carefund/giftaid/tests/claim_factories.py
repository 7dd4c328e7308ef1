"""Test data for Gift Aid claims: real gifts posted through the campaigns services (so the ledger holds them),
finance officers with the roles' permissions, and a claim made, filed and paid."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from carefund.campaigns.services import donation_record_offline
from carefund.campaigns.tests.factories import make_campaign
from carefund.giftaid.rules import Scope
from carefund.giftaid.services import declaration_record
from carefund.giftaid.tests.factories import make_user

_n = itertools.count(1)
OFFICER_PERMS = (
    "giftaid.view_claim",
    "giftaid.add_claim",
    "giftaid.submit_claim",
    "giftaid.record_claim_outcome",
    "campaigns.record_offline_gift",
)


def officer(username: str = "") -> Any:
    return make_user(username or f"officer{next(_n)}", perms=OFFICER_PERMS)


def gift(
    campaign: Any,
    *,
    amount_pence: int = 10_000,
    on: dt.date = dt.date(2026, 6, 15),
    name: str = "Ann Smith",
    email: str = "",
    kind: str = "cheque",
    reference: str = "",
    actor: Any = None,
) -> Any:
    """A confirmed offline gift, posted: bank +amount, the child's fund -amount."""
    n = next(_n)
    return donation_record_offline(
        campaign=campaign,
        amount_pence=amount_pence,
        kind=kind,
        received_on=on,
        donor_name=name,
        donor_email=email or f"donor{n}@example.org",
        reference=reference,
        actor=actor or officer(),
    )


def declared_gift(
    campaign: Any,
    *,
    amount_pence: int = 10_000,
    on: dt.date = dt.date(2026, 6, 15),
    first_name: str = "Ann",
    last_name: str = "Smith",
    postcode: str = "S19 2BD",
    reference: str = "",
    title: str = "Mrs",
) -> Any:
    donation = gift(campaign, amount_pence=amount_pence, on=on, name=f"{first_name} {last_name}", reference=reference)
    declaration_record(
        donation=donation,
        title=title,
        first_name=first_name,
        last_name=last_name,
        house_name_or_number="12",
        address="Acacia Avenue, Sheffield",
        postcode=postcode,
        scope=Scope.THIS_GIFT,
        declared_on=on,
    )
    return donation


__all__ = ["declared_gift", "gift", "make_campaign", "officer"]
