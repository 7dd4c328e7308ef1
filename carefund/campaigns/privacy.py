"""The donor's gifts for a subject-access export or an erasure (answers `core.privacy.subject_export` and
`subject_erase`). Erasure keeps each gift's amount, dates, campaign, status and ledger links (the books and the
restricted-fund history) and removes who gave it: name, email and message."""

from __future__ import annotations

import datetime as dt
from typing import Any

from carefund.campaigns.models import Donation

ERASED_NAME = ""


def _gifts(email: str) -> Any:
    return Donation.objects.filter(donor_email__iexact=email)


def donor_gifts_export(*, email: str, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    records = [
        {
            "gift": d.pk,
            "campaign": d.campaign.title,
            "amount_pence": d.amount_pence,
            "costs_contribution_pence": d.costs_contribution_pence,
            "status": d.status,
            "received_on": d.received_on.isoformat() if d.received_on else None,
            "donor_name": d.donor_name,
            "donor_email": d.donor_email,
            "anonymous_on_the_page": d.is_anonymous,
            "message": d.message,
            "reference": d.reference,
        }
        for d in _gifts(email).select_related("campaign").order_by("pk")
    ]
    return "gifts", records


def donor_gifts_erase(*, email: str, today: dt.date, **kwargs: Any) -> tuple[str, int, list[str]]:
    count = _gifts(email).update(donor_name=ERASED_NAME, donor_email="", message="", is_anonymous=True)
    return "gifts", count, []
