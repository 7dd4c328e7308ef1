"""JSON API: campaigns. Public reads of published campaigns (what the public page shows: amounts, never donors'
personal data); staff reads of a campaign's gifts need the `campaigns.view_gifts` permission."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from django.urls import reverse
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.security import django_auth

from carefund.campaigns import selectors
from carefund.campaigns.cache import campaign_public_cache_get_or_compute
from carefund.campaigns.models import Campaign
from carefund.core.errors import NotFoundError, PermissionDeniedError
from carefund.giftaid.claim_selectors import GiftAidSplit, gift_aid_split_for_campaign

router = Router(tags=["campaigns"])


class CampaignOut(Schema):
    slug: str
    title: str
    state: str
    child: str
    media_partner: str
    target_pence: int
    nhs_covers_pence: int
    raised_pence: int
    # all the Gift Aid on the campaign's declared gifts (what the page's total and `percent` count), and its split,
    # as the public page shows it: still to claim + claimed from HMRC (awaiting payment) + paid by HMRC = the total
    gift_aid_to_come_pence: int
    gift_aid_to_claim_pence: int
    gift_aid_claimed_pence: int
    gift_aid_paid_pence: int
    percent: int


class PublicGiftOut(Schema):
    donor: str
    amount_pence: int
    message: str


class PhotoOut(Schema):
    url: str  # the JPEG, served while the campaign is public
    alt_text: str
    caption: str
    width: int
    height: int


class CampaignDetailOut(CampaignOut):
    story: str
    target_explanation: str
    recent_gifts: list[PublicGiftOut]
    photos: list[PhotoOut]


class StaffGiftOut(Schema):
    id: int
    amount_pence: int
    costs_contribution_pence: int
    fee_pence: int | None
    status: str
    kind: str
    gateway: str
    donor_name: str
    received_on: dt.date | None


def _gift_aid(campaign_id: int) -> GiftAidSplit:
    """The Gift Aid, split as the public page splits it and as fresh (docs/campaigns.md, "The public campaign page"):
    kept `CAMPAIGN_PAGE_CACHE_SECONDS` per campaign and process, forgotten when a declaration, gift or claim changes
    it."""
    return campaign_public_cache_get_or_compute(
        campaign_id=campaign_id,
        part="api-gift-aid-split",
        compute=lambda: gift_aid_split_for_campaign(campaign_id=campaign_id),
    )


def _out(campaign: Campaign) -> dict[str, object]:
    gift_aid = _gift_aid(campaign.pk)
    progress = selectors.campaign_progress(campaign=campaign, gift_aid_to_come_pence=gift_aid.total_pence)
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "state": campaign.state,
        "child": campaign.child.public_name,
        "media_partner": campaign.media_partner,
        "target_pence": campaign.target_pence,
        "nhs_covers_pence": campaign.nhs_covers_pence,
        "raised_pence": progress.raised_pence,
        "gift_aid_to_come_pence": progress.gift_aid_to_come_pence,
        "gift_aid_to_claim_pence": gift_aid.to_claim_pence,
        "gift_aid_claimed_pence": gift_aid.claimed_pence,
        "gift_aid_paid_pence": gift_aid.paid_pence,
        "percent": progress.percent,
    }


@router.get("/", response=list[CampaignOut])
def campaign_list(request: HttpRequest) -> list[dict[str, object]]:
    return [_out(c) for c in selectors.campaigns_published()]


@router.get("/{slug}", response=CampaignDetailOut)
def campaign_detail(request: HttpRequest, slug: str) -> dict[str, object]:
    try:
        campaign = selectors.campaign_get_public(slug=slug)
    except NotFoundError:
        raise Http404("No such campaign.") from None
    gifts = [
        {"donor": g.donor, "amount_pence": g.amount_pence, "message": g.message}
        for g in selectors.recent_gifts_public(campaign=campaign)
    ]
    return _out(campaign) | {
        "story": campaign.story,
        "target_explanation": campaign.target_explanation,
        "recent_gifts": gifts,
        "photos": [
            {
                "url": request.build_absolute_uri(
                    reverse("campaigns:photo", kwargs={"slug": campaign.slug, "token": p.token})
                ),
                "alt_text": p.alt_text,
                "caption": p.caption,
                "width": p.width,
                "height": p.height,
            }
            for p in selectors.photos_public(campaign=campaign)
        ],
    }


@router.get("/{slug}/gifts", response=list[StaffGiftOut], auth=django_auth)
def campaign_gifts(request: HttpRequest, slug: str) -> list[StaffGiftOut]:
    try:
        campaign = selectors.campaign_get_for_staff(user=request.user, slug=slug)
        gifts = selectors.gifts_for_campaign(user=request.user, campaign=campaign)
    except PermissionDeniedError:
        raise HttpError(403, "You may not see campaign gifts.") from None
    except NotFoundError:
        raise Http404("No such campaign.") from None
    return [StaffGiftOut.model_validate(g, from_attributes=True) for g in gifts]
