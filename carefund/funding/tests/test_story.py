"""The seed story: its figures, its timeline, a clean ledger, donors told, and `carefund demo` idempotent."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from carefund.core.models import AuditEvent
from carefund.funding.models import FundingRequest, Invoice, SurplusTransfer, WaterfallRun
from carefund.funding.tests.conftest import sync_groups

pytestmark = pytest.mark.django_db


def run_story() -> dict[str, Any]:
    sync_groups()
    out = io.StringIO()
    call_command("story", "--json", "--start", "2015-04-01", stdout=out)
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


def test_story_figures_and_clean_ledger(mailoutbox: list[Any], django_capture_on_commit_callbacks: Any) -> None:
    from carefund.ledger.integrity import ledger_check

    with django_capture_on_commit_callbacks(execute=True):
        data = run_story()
    by_name = {c["name"]: c for c in data["children"]}
    assert by_name["James Hartley"] == {
        "name": "James Hartley",
        "raised_pence": 5_000_000,
        "nhs_funded_pence": 1_000_000,
        "spent_pence": 4_011_000,  # the plan's £50,110 less the £10,000 surgery the NHS paid
        "surplus_out_pence": 989_000,
        "surplus_in_pence": 0,
        "balance_pence": 0,
    }
    assert by_name["Noah Bennett"] == {
        "name": "Noah Bennett",
        "raised_pence": 0,
        "nhs_funded_pence": 0,
        "spent_pence": 0,
        "surplus_out_pence": 0,
        "surplus_in_pence": 989_000,
        "balance_pence": 989_000,
    }
    assert len(data["children"]) == 5
    assert all(isinstance(v, int) for c in data["children"] for k, v in c.items() if k != "name")
    assert ledger_check() == []
    request = FundingRequest.objects.get(status="approved")
    assert request.allocation.centre.slug == "nottingham-university"
    assert request.decided_at is not None and request.decided_at.date().isoformat() == "2015-04-24"
    assert Invoice.objects.filter(state="paid").count() == 17
    transfer = SurplusTransfer.objects.get()
    assert transfer.state == "posted" and transfer.approvals.count() == 2
    assert transfer.ranking["ranked"][0]["name"] == "Noah B."
    letters = [m for m in mailoutbox if m.subject == "What happened to the money left over in James H.'s fund"]
    # Every donor who left an email: the online gifts of the campaigns demo and the appeal's gifts.
    assert sorted(m.to[0] for m in letters) == [
        "ann.smith@example.org", "anon1@example.org", "anon2@example.org", "appeal@dailyecho.example.org",
        "bakesale@example.org", "business@example.org", "echo-readers@example.org", "hythe-primary@example.org",
        "priya@example.org", "rotary@example.org", "tom.baker@example.org",
    ]  # fmt: skip
    assert "£9,890.00 was not needed" in letters[0].body and "Noah B. (£9,890.00, ranked 1" in letters[0].body
    assert (
        WaterfallRun.objects.filter(care_plan__child__first_name="James").order_by("computed_at").first().nhs_pence == 0
    )  # type: ignore[union-attr]
    last = WaterfallRun.objects.filter(care_plan__child__first_name="James").order_by("-computed_at", "-pk").first()
    assert last is not None and (last.nhs_pence, last.unfunded_pence, last.surplus_pence) == (1_000_000, 0, 0)
    # The family's page shows the history and where the surplus went.
    from django.test import Client

    from carefund.core.roles import Role
    from carefund.funding.tests.conftest import make_user

    client = Client()
    client.force_login(make_user("story-reader", Role.CASEWORKER))
    page = client.get(f"/children/{last.care_plan.child_id}/funding/").content.decode()
    assert "NHS decision: SDR Commissioning through Evaluation (2014-2016) approved" in page
    assert "Paid by the NHS (SDR Commissioning through Evaluation (2014-2016)): £10,000.00" in page
    assert "Out: transfer #" in page and "£9,890.00" in page
    commissioner = make_user("story-nhs", Role.COMMISSIONER)
    client.force_login(commissioner)
    page = client.get(f"/funding/programmes/{request.programme_id}/").content.decode()
    assert "Nottingham&#x27;s CtE allocation is not used up" in page


def test_story_timeline_and_refusal_on_second_play() -> None:
    sync_groups()
    out = io.StringIO()
    call_command("story", "--start", "2015-04-01", stdout=out)
    text = out.getvalue()
    assert "24 Apr 2015  NHS England approves: Nottingham's CtE allocation is not used up" in text
    assert "the campaign's target becomes £40,110.00" in text
    assert "03 Jul 2017  Surplus transfer of £9,890.00 approved by two people and posted: Noah B. £9,890.00" in text
    before = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="already been played"):
        call_command("story", "--start", "2015-04-01", stdout=io.StringIO())
    assert AuditEvent.objects.count() == before


def test_demo_refuses_accounts_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="Refusing to create demo accounts"):
        call_command("demo", stdout=io.StringIO())
    assert AuditEvent.objects.count() == 0


def test_demo_is_idempotent(settings: Any) -> None:
    from carefund.ledger.models import Transaction

    settings.DEBUG = True
    settings.WEBHOOK_CONFIRM_AFTER_ANSWER = True  # as `make run` serves: the demo's gifts are still applied at once
    sync_groups()
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "Played the story" in out.getvalue()
    from carefund.campaigns.models import WebhookEvent

    assert WebhookEvent.objects.exists() and not WebhookEvent.objects.filter(state="queued").exists()
    assert "demo-caseworker-carefund" in out.getvalue()
    # three online donors declared Gift Aid when they gave (carefund.giftaid.demo): a quarter of £25 (Ann), £10 (Tom)
    # and of the £80.96 Priya kept of her £100 after her partial refund
    assert "Gift Aid declarations by 3 of the campaign's online donors" in out.getvalue()
    from django.test import Client

    from carefund.campaigns.models import Campaign
    from carefund.giftaid.selectors import gift_aid_due_for_campaign

    campaign = Campaign.objects.get()
    assert gift_aid_due_for_campaign(campaign_id=campaign.pk) == 625 + 250 + 2_024
    assert (
        "plus <strong>£28.99</strong> Gift Aid to come" in Client().get(f"/campaigns/{campaign.slug}/").content.decode()
    )
    counts = (Transaction.objects.count(), WaterfallRun.objects.count(), AuditEvent.objects.count())
    out2 = io.StringIO()
    call_command("demo", stdout=out2)
    assert "Played the story" not in out2.getvalue()
    assert (Transaction.objects.count(), WaterfallRun.objects.count(), AuditEvent.objects.count()) == counts
    # The story's decisions are made by the demo accounts, so the history names people one can sign in as.
    assert FundingRequest.objects.get(status="approved").decided_by.username == "commissioner"  # type: ignore[union-attr]


def test_the_story_played_today_ends_a_month_ago_with_james_three_at_its_start() -> None:
    """Played without a start, the story keeps its order and spacing and ends a month before today: James is three
    on its first day, the NHS request goes to the programme open then (2018 routine commissioning), and today's
    ranking still finds a child to help."""
    import datetime as dt

    from carefund.care.models import Child
    from carefund.core import clock
    from carefund.funding.story import ENDS_BEFORE_TODAY, STORY_START, TRANSFER_DAY

    sync_groups()
    with clock.frozen_at(dt.datetime(2026, 12, 7, 12, 0)):
        call_command("story", "--json", stdout=io.StringIO())
    today = dt.date(2026, 12, 7)
    transfer = SurplusTransfer.objects.get()
    assert transfer.proposed_at.date() == today - ENDS_BEFORE_TODAY
    first_day = transfer.proposed_at.date() - (TRANSFER_DAY - STORY_START.date())
    james = Child.objects.get(first_name="James")
    assert james.age_on(first_day) == 3
    request = FundingRequest.objects.get(status="approved")
    assert request.programme.slug == "sdr-nhse-2018"
    assert request.requested_on == first_day + dt.timedelta(days=19)  # 1 April -> 20 April as written
    assert transfer.ranking["ranked"][0]["name"] == "Noah B."
