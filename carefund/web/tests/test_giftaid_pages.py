"""The finance officer's Gift Aid pages: make a claim, see what it left out, download the schedule, and take it to
paid with a second person."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.test import Client

from carefund.giftaid.models import Claim, ClaimState
from carefund.giftaid.tests.claim_factories import declared_gift, gift, make_campaign, officer
from carefund.giftaid.tests.factories import make_user
from carefund.giftaid.tests.test_schedule import bulk_declared_gifts

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_claim_from_making_to_paid_through_the_pages():
    campaign = make_campaign()
    declared_gift(campaign, amount_pence=10_000, on=dt.date(2026, 6, 15))
    left = gift(campaign, amount_pence=5_000)
    maker, checker = officer(), officer()
    page = _client(maker).get("/giftaid/claims/")
    assert page.status_code == 200 and b"Make the claim" in page.content
    made = _client(maker).post("/giftaid/claims/", {"period_end": "2026-11-30"})
    claim = Claim.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/giftaid/claims/{claim.pk}/"
    detail = _client(maker).get(made["Location"])
    text = detail.content.decode()
    assert "£25.00" in text and f"Gift #{left.pk}: no Gift Aid declaration covers it" in text
    assert "you made this claim" in text and "Confirm the filing" not in text
    # the person who made it cannot confirm the filing; the page says why and nothing changes
    refused = _client(maker).post(f"/giftaid/claims/{claim.pk}/submit/", {"hmrc_reference": "R1"})
    assert refused.status_code == 400 and b"A second person must confirm" in refused.content
    assert Claim.objects.get().state == ClaimState.DRAFT
    assert "Confirm the filing" in _client(checker).get(made["Location"]).content.decode()
    filed = _client(checker).post(f"/giftaid/claims/{claim.pk}/submit/", {"hmrc_reference": "R1"})
    assert filed.status_code == 302 and Claim.objects.get().state == ClaimState.SUBMITTED
    bad = _client(checker).post(f"/giftaid/claims/{claim.pk}/paid/", {"paid": "25.0.0", "paid_on": dt.date.today()})
    assert bad.status_code == 400 and b"is not an amount in pounds" in bad.content
    paid = _client(checker).post(
        f"/giftaid/claims/{claim.pk}/paid/", {"paid": "25.00", "paid_on": dt.date.today().isoformat()}
    )
    assert paid.status_code == 302
    assert Claim.objects.get().state == ClaimState.PAID


def test_bad_period_end_says_what_to_fix_and_writes_nothing():
    response = _client(officer()).post("/giftaid/claims/", {"period_end": "30/11/2026"})
    assert response.status_code == 400
    assert b"Period end: &#x27;30/11/2026&#x27; is not a date" in response.content
    nothing = _client(officer()).post("/giftaid/claims/", {"period_end": "2026-11-30"})
    assert nothing.status_code == 400 and b"Nothing to claim" in nothing.content
    assert Claim.objects.count() == 0


def test_pages_are_for_finance_staff_only():
    assert _client(make_user()).get("/giftaid/claims/").status_code == 403
    assert Client().get("/giftaid/claims/").status_code == 302  # to sign in
    assert _client(officer()).get("/giftaid/claims/999/").status_code == 404


def test_downloads_an_ods_a_zip_when_over_1000_rows_and_csv():
    campaign = make_campaign()
    bulk_declared_gifts(campaign, 1_001)
    user = officer()
    _client(user).post("/giftaid/claims/", {"period_end": "2026-11-30"})
    claim = Claim.objects.get()
    response = _client(user).get(f"/giftaid/claims/{claim.pk}/export/ods/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="giftaid-claim-{claim.pk}.zip"'
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert names == [f"giftaid-claim-{claim.pk}-001.ods", f"giftaid-claim-{claim.pk}-002.ods"]
    csv_response = _client(user).get(f"/giftaid/claims/{claim.pk}/export/csv/")
    assert b"".join(csv_response.streaming_content).count(b"\n") == 1_002
    assert _client(user).get(f"/giftaid/claims/{claim.pk}/export/xls/").status_code == 404
    from carefund.core.models import AuditEvent

    exports = AuditEvent.objects.filter(action="giftaid.schedule_export")
    assert [(e.actor_id, e.details["format"], e.details["files"]) for e in exports.order_by("id")] == [
        (user.pk, "ods", 2),
        (user.pk, "csv", 1),
    ]


def test_public_page_and_childs_funding_count_claimed_and_received_gift_aid():
    from carefund.giftaid.claims import claim_create, claim_record_paid, claim_submit

    campaign = make_campaign()
    declared_gift(campaign, amount_pence=10_000)
    page = Client().get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "<strong>£25.00</strong> Gift Aid to come" in page
    maker, checker = officer(), officer()
    claim = claim_create(period_end=dt.date(2026, 11, 30), actor=maker)
    claim_submit(claim_id=claim.pk, hmrc_reference="R1", actor=checker)
    page = Client().get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "<strong>£25.00</strong> Gift Aid (£25.00 claimed and on its way)" in page
    claim_record_paid(claim_id=claim.pk, paid_pence=2_500, paid_on=dt.date.today(), actor=checker)
    page = Client().get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "<strong>£25.00</strong> Gift Aid (£25.00 received from HMRC)" in page
    trustee = make_user(perms=("funding.view_waterfallrun",))
    trustee.is_superuser = True
    trustee.save()
    funding = _client(trustee).get(f"/children/{campaign.child_id}/funding/").content.decode()
    assert "of which Gift Aid received from HMRC" in funding and "£25.00" in funding
    child = _client(trustee).get(f"/api/funding/children/{campaign.child_id}").json()
    assert (child["gift_aid_claimed_pence"], child["gift_aid_paid_pence"]) == (0, 2_500)


def test_page_and_api_split_gift_aid_into_still_to_claim_claimed_and_paid_alike():
    from carefund.giftaid.claims import claim_create, claim_record_paid, claim_submit

    campaign = make_campaign()
    declared_gift(campaign, amount_pence=10_000, on=dt.date(2026, 6, 15))
    maker, checker = officer(), officer()
    claim = claim_create(period_end=dt.date(2026, 6, 30), actor=maker)
    claim_submit(claim_id=claim.pk, hmrc_reference="R1", actor=checker)
    declared_gift(campaign, amount_pence=4_000, on=dt.date(2026, 7, 15), first_name="Bob", last_name="Jones")

    def api() -> tuple[int, int, int, int]:
        out = Client().get(f"/api/campaigns/{campaign.slug}").json()
        listed = [c for c in Client().get("/api/campaigns/").json() if c["slug"] == campaign.slug]
        assert listed[0]["gift_aid_to_claim_pence"] == out["gift_aid_to_claim_pence"]
        parts = (out["gift_aid_to_claim_pence"], out["gift_aid_claimed_pence"], out["gift_aid_paid_pence"])
        assert sum(parts) == out["gift_aid_to_come_pence"]  # every penny in one part
        return (*parts, out["gift_aid_to_come_pence"])

    page = Client().get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "<strong>£35.00</strong> Gift Aid (£25.00 claimed and on its way, £10.00 still to claim)" in page
    assert api() == (1_000, 2_500, 0, 3_500)
    claim_record_paid(claim_id=claim.pk, paid_pence=2_500, paid_on=dt.date.today(), actor=checker)
    page = Client().get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "<strong>£35.00</strong> Gift Aid (£25.00 received from HMRC, £10.00 still to claim)" in page
    assert api() == (1_000, 0, 2_500, 3_500)


def test_the_menu_and_start_page_lead_finance_officers_to_their_claims():
    from carefund.giftaid.claims import claim_create

    campaign = make_campaign()
    declared_gift(campaign)
    maker, checker = officer(), officer()
    claim = claim_create(period_end=dt.date(2026, 11, 30), actor=maker)
    start = _client(checker).get("/start/").content.decode()
    assert f'<a href="/giftaid/claims/{claim.pk}/">Confirm the filing of Gift Aid claim {claim.pk}' in start
    assert '<a href="/giftaid/claims/">Gift Aid</a>' in start
    assert "Confirm the filing" not in _client(maker).get("/start/").content.decode()  # not their own claim
    assert "/giftaid/claims/" not in _client(make_user()).get("/start/").content.decode()
