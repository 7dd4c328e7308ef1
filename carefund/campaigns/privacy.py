"""The donor's gifts for a subject-access export or an erasure (answers `core.privacy.subject_export` and
`subject_erase`). Erasure keeps each gift's amount, dates, campaign, status and ledger links (the books and the
restricted-fund history) and removes who gave it: name, email and message.

A child's campaigns likewise (`core.privacy.child_export` and `child_erase`): erasure closes them and removes what
tells who the child is (title, address, story, photos, updates, donors' messages to the child); the gifts' amounts and
dates stay."""

from __future__ import annotations

import datetime as dt
from typing import Any

from carefund.campaigns.models import Campaign, CampaignPhoto, CampaignState, CampaignUpdate, Donation, MessageStatus
from carefund.core.privacy import ACCOUNTS_KEPT
from carefund.ledger.selectors import memos_naming

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


def child_campaigns_export(*, child_id: int, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    records = []
    campaigns = Campaign.objects.filter(child_id=child_id).prefetch_related("updates", "photos").order_by("pk")
    for c in campaigns:
        records.append(
            {
                "campaign": c.pk,
                "address": c.slug,
                "title": c.title,
                "story": c.story,
                "media_partner": c.media_partner,
                "state": c.state,
                "target_pence": c.target_pence,
                "nhs_covers_pence": c.nhs_covers_pence,
                "created_at": c.created_at.isoformat(),
                "updates": [{"posted_at": u.posted_at.isoformat(), "body": u.body} for u in c.updates.all()],
                # the photos themselves are on the campaign's page while it is up; their descriptions here
                "photos": [{"alt_text": p.alt_text, "caption": p.caption} for p in c.photos.all()],
                "messages_from_donors": list(
                    c.donations.exclude(message="").order_by("pk").values_list("message", flat=True)
                ),
                "gifts": c.donations.filter(status="succeeded").count(),
            }
        )
    return "campaigns", records


def child_campaigns_erase(*, child_id: int, now: dt.datetime, **kwargs: Any) -> tuple[str, int, list[str]]:
    """Close the child's campaigns and remove what tells who the child is; the gifts (amounts, dates, ledger links)
    stay for the books."""
    campaigns = list(Campaign.objects.select_for_update().filter(child_id=child_id))
    old_memos = memos_naming([c.title for c in campaigns if c.title])
    count = 0
    for c in campaigns:
        Campaign.objects.filter(pk=c.pk).update(
            slug=f"erased-{c.pk}",
            title=f"Campaign #{c.pk}",
            story="",
            media_partner="",
            target_explanation="",
            state=CampaignState.CLOSED,
        )
        photos, _ = CampaignPhoto.objects.filter(campaign=c).delete()
        updates = CampaignUpdate.objects.filter(campaign=c).update(body="")
        messages = (
            Donation.objects.filter(campaign=c)
            .exclude(message="")
            .update(message="", message_status=MessageStatus.NONE)
        )
        count += 1 + photos + updates + messages
    kept = (
        [f"{len(campaigns)} campaign(s), closed: their gifts' amounts and dates, {ACCOUNTS_KEPT}"] if campaigns else []
    )
    if old_memos:
        kept.append(
            f"{old_memos} ledger memo(s) written before carefund named campaigns by number hold a campaign's title: "
            f"the books are append-only, {ACCOUNTS_KEPT}"
        )
    return "campaigns", count, kept
