"""Gift Aid declarations for a subject-access export, an erasure, and the retention schedule.

HMRC may check a Gift Aid claim: a charity claims within four years of the end of the period the gift was received
in and keeps its records a further two years (https://gov.uk/claim-gift-aid/how-to-claim). So a declaration (the
donor's name and home address) is kept until six years after the end of the tax year (ending 5 April) of the last
gift it covered, even when its donor asks for erasure; then `retention_sweep` pseudonymises it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Max

from carefund.campaigns.models import Donation
from carefund.giftaid.models import Declaration, donor_key_for

RETENTION_YEARS_AFTER_TAX_YEAR = 6  # 4 years to claim + 2 years more (gov.uk/claim-gift-aid/how-to-claim)
ERASED = "erased"  # the declaration must name someone (a database check): this names no one


def tax_year_end(day: dt.date) -> dt.date:
    """The 5 April that ends the UK tax year `day` falls in."""
    end = dt.date(day.year, 4, 5)
    return end if day <= end else dt.date(day.year + 1, 4, 5)


def keep_until(last_gift_on: dt.date) -> dt.date:
    end = tax_year_end(last_gift_on)
    return end.replace(year=end.year + RETENTION_YEARS_AFTER_TAX_YEAR)


def _last_gift_on(declaration: Declaration) -> dt.date:
    """The last gift the declaration covered: its own, or a later one by the same donor (same email key)."""
    own = declaration.donation.received_on or declaration.declared_on
    if not declaration.donor_key or declaration.covers_from is None:
        return own
    later = Donation.objects.filter(
        donor_email__iexact=declaration.donor_key, received_on__gte=declaration.covers_from
    ).aggregate(last=Max("received_on"))["last"]
    return max(own, later or own)


def _pseudonymise(declaration: Declaration) -> None:
    Declaration.objects.filter(pk=declaration.pk).update(
        title="", first_name=ERASED, last_name=ERASED, house_name_or_number=ERASED, address=ERASED, postcode=ERASED,
        email="", donor_key="",
    )  # fmt: skip


def declarations_export(*, email: str, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    rows = Declaration.objects.filter(donor_key=donor_key_for(email)).order_by("pk")
    return "gift_aid_declarations", [
        {
            "declaration": d.pk,
            "gift": d.donation_id,
            "name": " ".join(p for p in (d.title, d.first_name, d.last_name) if p),
            "house_name_or_number": d.house_name_or_number,
            "address": d.address,
            "postcode": d.postcode,
            "scope": d.scope,
            "declared_on": d.declared_on.isoformat(),
            "cancelled_on": d.cancelled_on.isoformat() if d.cancelled_on else None,
            "wording": d.wording,
        }
        for d in rows
    ]


def declarations_erase(*, email: str, today: dt.date, **kwargs: Any) -> tuple[str, int, list[str]]:
    erased, kept = 0, []
    for declaration in Declaration.objects.filter(donor_key=donor_key_for(email)).select_related("donation"):
        until = keep_until(_last_gift_on(declaration))
        if until < today:
            _pseudonymise(declaration)
            erased += 1
        else:
            kept.append(
                f"Gift Aid declaration #{declaration.pk}: kept until {until.isoformat()} (HMRC may check Gift Aid "
                "claims; the retention schedule erases it then)"
            )
    return "gift_aid_declarations", erased, kept


def retention_sweep(*, today: dt.date) -> int:
    """Pseudonymise every declaration past its retention (run daily: `carefund privacy sweep`); returns how many."""
    done = 0
    for declaration in Declaration.objects.exclude(first_name=ERASED).select_related("donation").iterator():
        if keep_until(_last_gift_on(declaration)) < today:
            _pseudonymise(declaration)
            done += 1
    return done


def retention_receiver(*, today: dt.date, **kwargs: Any) -> tuple[str, int]:
    return "gift_aid_declarations", retention_sweep(today=today)
