"""Demo data for campaigns: James's campaign with the Daily Echo, gifts paid through the test gateway (the same
signed-webhook path as real payments) and offline gifts entered by a caseworker. `carefund demo` and
`carefund story` (funding) call `seed_campaigns`."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from carefund.campaigns import rules, services
from carefund.campaigns.gateways.test import TestGateway, charge_refunded_event, checkout_completed_event
from carefund.campaigns.models import Campaign, CampaignState, Donation, WebhookEvent, WebhookEventState
from carefund.care.models import Child
from carefund.core import clock

# An all-in family target for SDR abroad was about £50,000 including flights, four weeks' accommodation, surgery and
# physiotherapy (sources.md: Family fundraising targets; Grace, 2011, http://gracesfund.org/sdr.html). The funding
# waterfall replaces this starting target with the plan's unfunded amount through `campaign_set_target`.
DEMO_TARGET_PENCE = 5_000_000

STORY = (
    "James is three and lives in Hythe. He has cerebral palsy (spastic diplegia) and is not yet walking on his "
    "own. His doctors recommend selective dorsal rhizotomy, followed by two years of intensive physiotherapy. The "
    "NHS pays for the surgery; this campaign pays for the rest of his care, and every pound is shown on this site."
)

# (name, email, pounds, costs contribution pence, anonymous, message): illustrative demo gifts, not real donors.
ONLINE_GIFTS: tuple[tuple[str, str, int, int, bool, str], ...] = (
    ("Ann Smith", "ann.smith@example.org", 25, 250, False, "Go James! Love from Hythe."),
    ("Daily Echo readers", "appeal@dailyecho.example.org", 1500, 0, False, "From all at the Echo."),
    ("", "anon1@example.org", 50, 0, True, ""),
    ("Tom Baker", "tom.baker@example.org", 10, 0, False, "Keep going, little man."),
    ("Priya Patel", "priya@example.org", 100, 500, False, ""),
    ("", "anon2@example.org", 20, 0, True, "Get well soon"),
)
# (amount pence, kind, donor name, reference) for a sponsored walk's batch.
WALK_LINES: tuple[tuple[int, str, str, str], ...] = (
    (12_500, "event_takings", "Hythe Striders", "sponsored walk"),
    (4_375, "bucket_collection", "", "bucket at the finish"),
    (2_000, "cash", "Mrs Jones", ""),
)


@dataclass
class DemoCampaigns:
    campaign: Campaign
    online: list[Donation] = field(default_factory=list)
    offline: list[Donation] = field(default_factory=list)


def _through_webhook(payload: bytes) -> None:
    """Deliver a signed event to the webhook path (as the test gateway's "Pay" button does), then apply it here and
    now as the task worker would (the story's next steps spend these gifts, and `make run` starts the worker after
    the demo)."""
    gateway = TestGateway(
        webhook_secret=settings.TEST_GATEWAY_WEBHOOK_SECRET, tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS
    )
    services.webhook_receive(payload=payload, signature_header=gateway.sign(payload), gateway=gateway)
    stored = WebhookEvent.objects.filter(event_id=json.loads(payload)["id"], state=WebhookEventState.QUEUED).first()
    if stored is not None:
        services.webhook_event_process(event_pk=stored.pk)


# One donor gave £20 more than she meant to and asked for it back: a partial refund of her gift (illustrative).
DEMO_REFUND = ("priya@example.org", 2_000)


def seed_campaigns(*, child: Child, caseworker: Any, with_gifts: bool = True) -> DemoCampaigns:
    """James's campaign, published, with gifts online (test gateway) and offline. Idempotent per child: an existing
    campaign of the child is returned with its gifts."""
    existing = Campaign.objects.filter(child=child).order_by("pk").first()
    if existing is not None:
        gifts = list(existing.donations.order_by("pk"))
        return DemoCampaigns(
            campaign=existing,
            online=[g for g in gifts if g.gateway],
            offline=[g for g in gifts if not g.gateway],
        )
    campaign = services.campaign_create(
        child=child,
        title=f"Help {child.first_name} walk",
        story=STORY if child.first_name == "James" else f"Help {child.public_name} get the treatment they need.",
        media_partner="the Daily Echo",
        actor=caseworker,
    )
    services.campaign_set_target(
        campaign=campaign,
        target_pence=DEMO_TARGET_PENCE,
        nhs_covers_pence=0,
        explanation="A starting target; the funding plan sets the real one.",
        actor=caseworker,
    )
    services.campaign_transition(campaign=campaign, to_state=CampaignState.PUBLISHED, actor=caseworker)
    campaign.refresh_from_db()
    out = DemoCampaigns(campaign=campaign)
    if not with_gifts:
        return out
    test_gateway = TestGateway(webhook_secret="", tolerance_seconds=0)  # only to make checkout sessions
    for name, email, pounds, costs, anonymous, message in ONLINE_GIFTS:
        donation = services.donation_create_pending(
            campaign=campaign,
            amount_pence=pounds * 100,
            costs_contribution_pence=costs,
            donor_name=name,
            donor_email=email,
            is_anonymous=anonymous,
            message=message,
            gateway="test",
        )
        services.checkout_start(donation=donation, success_url="/", cancel_url="/", gateway=test_gateway)
        _through_webhook(
            checkout_completed_event(donation, fee_pence=rules.test_gateway_fee_pence(donation.total_pence))
        )
        donation.refresh_from_db()
        if donation.message:
            services.donation_message_moderate(donation=donation, approve=True, actor=caseworker)
        out.online.append(donation)
    email, refunded = DEMO_REFUND
    refund_of = next(d for d in out.online if d.donor_email == email)
    _through_webhook(charge_refunded_event(refund_of, amount_refunded=refunded))
    refund_of.refresh_from_db()
    received = clock.today() - dt.timedelta(days=1)
    batch = services.offline_batch_record(
        campaign=campaign,
        description="Hythe sponsored walk",
        stated_total_pence=sum(line[0] for line in WALK_LINES),
        received_on=received,
        lines=[services.OfflineLine(a, k, n, "", r) for a, k, n, r in WALK_LINES],
        actor=caseworker,
    )
    out.offline.extend(batch.lines.order_by("pk"))
    out.offline.append(
        services.donation_record_offline(
            campaign=campaign,
            amount_pence=5_000,
            kind="cheque",
            received_on=received,
            donor_name="Hythe Rotary Club",
            reference="cheque 000417",
            actor=caseworker,
        )
    )
    return out
