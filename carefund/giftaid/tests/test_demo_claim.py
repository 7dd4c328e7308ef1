"""The demo's Gift Aid claim: the story's declared gifts give a draft claim that a second finance officer takes to
paid through the pages, with the books clean and every penny of Gift Aid in the child's fund."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from carefund.campaigns.models import Campaign
from carefund.funding.tests.conftest import sync_groups
from carefund.giftaid.claim_selectors import claim_summary, gift_aid_claimed_for_child
from carefund.giftaid.models import Claim, ClaimState
from carefund.ledger.integrity import ledger_check

pytestmark = pytest.mark.django_db


def test_the_demo_claim_goes_from_draft_to_paid(settings: Any) -> None:
    settings.DEBUG = True
    settings.WEBHOOK_CONFIRM_AFTER_ANSWER = True
    sync_groups()
    out = io.StringIO()
    call_command("demo", stdout=out)
    claim = Claim.objects.get()
    assert f"Gift Aid claim {claim.pk} made by finance1 as a draft" in out.getvalue()
    summary = claim_summary(claim)
    # Ann's £25, Tom's £10 and the £80.96 Priya kept of her £100: 25p per £1 (the declared online gifts)
    assert (summary["state"], summary["gifts"], summary["gift_aid_pence"]) == ("draft", 3, 625 + 250 + 2_024)
    # the walk's bucket collection (£43.75) under the Small Donations Scheme, 25% top-up
    assert (claim.gasds_donations_pence, claim.gasds_pence) == (4_375, 1_093)
    reasons = {row["reason"] for row in summary["left_out"]}
    assert reasons == {"no_declaration"}
    finance2 = Client()
    finance2.force_login(get_user_model().objects.get(username="finance2"))
    ods = finance2.get(f"/giftaid/claims/{claim.pk}/export/ods/")
    assert ods.status_code == 200 and ods["Content-Disposition"].endswith(f'giftaid-claim-{claim.pk}-001.ods"')
    assert finance2.post(f"/giftaid/claims/{claim.pk}/submit/", {"hmrc_reference": "DEMO-1"}).status_code == 302
    expected = claim.gift_aid_pence + claim.gasds_pence
    paid = finance2.post(
        f"/giftaid/claims/{claim.pk}/paid/",
        {"paid": f"{expected // 100}.{expected % 100:02d}", "paid_on": dt.date.today().isoformat()},
    )
    assert paid.status_code == 302
    assert Claim.objects.get().state == ClaimState.PAID
    child_id = Campaign.objects.get().child_id
    assert gift_aid_claimed_for_child(child_id=child_id).paid_pence == 625 + 250 + 2_024
    assert ledger_check() == []
    # and running the demo again changes nothing
    call_command("demo", stdout=io.StringIO())
    assert Claim.objects.count() == 1
