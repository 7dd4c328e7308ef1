"""What the home page shows: published campaigns of children whose guardians consented to publicity."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from carefund.campaigns import selectors
from carefund.core.money import format_pence


def home_context(request: HttpRequest) -> dict[str, Any]:
    cards = []
    for campaign in selectors.campaigns_published()[:24]:
        progress = selectors.campaign_progress(campaign=campaign)
        cards.append(
            {
                "url": reverse("campaigns:page", kwargs={"slug": campaign.slug}),
                "title": campaign.title,
                "summary": campaign.story[:160] + ("…" if len(campaign.story) > 160 else ""),
                "percent": progress.percent,
                "raised": format_pence(progress.raised_pence),
                "target": format_pence(progress.target_pence),
            }
        )
    return {"campaigns": cards}
