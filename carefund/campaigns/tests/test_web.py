"""The whole giving flow through the pages and the test gateway, and the pages' refusals."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.test import Client, TestCase

from carefund.campaigns import services
from carefund.campaigns.models import CampaignState, Donation
from carefund.campaigns.tests.factories import caseworker, completed_event, deliver, make_campaign, make_pending
from carefund.core import clock
from carefund.ledger import chart
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

pytestmark = pytest.mark.django_db

GIFT = {
    "preset": "other",
    "custom_amount": "40",
    "costs_contribution": "2.50",
    "donor_name": "Ann Smith",
    "donor_email": "ann@example.org",
    "message": "Go James!",
}
GIFT_AID = {
    "ga-wants_gift_aid": "on",
    "ga-title": "Mrs",
    "ga-first_name": "Ann",
    "ga-last_name": "Smith",
    "ga-house_name_or_number": "12",
    "ga-address": "High Street, Hythe",
    "ga-postcode": "ct21 5ab",
    "ga-scope": "this_and_future",
}


def test_whole_giving_flow_through_the_test_gateway(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign(target_pence=5_000_000)
    client = Client()
    page = client.get(f"/campaigns/{campaign.slug}/")
    assert page.status_code == 200
    assert b'property="og:title"' in page.content
    give = client.get(f"/campaigns/{campaign.slug}/give/")
    assert b"Test payments: no real money moves" in give.content
    # the declaration's wording for each scope the donor may choose (the page shows the chosen one's)
    for scope in ("this_gift", "this_and_future", "past_four_years_and_future"):
        assert f'data-scope="{scope}"' in give.content.decode()
    # the amount is chosen on the same page: the wording keeps £__ for the page's script to fill in
    assert give.content.decode().count('data-wording="I want to Gift Aid my donation of £__') == 3
    response = client.post(f"/campaigns/{campaign.slug}/give/", GIFT | GIFT_AID)
    assert response.status_code == 302, response.content.decode()
    checkout_url = response["Location"]
    assert checkout_url.startswith("/test-gateway/checkout/cs_test_")
    donation = Donation.objects.get()
    assert (donation.status, donation.amount_pence, donation.costs_contribution_pence) == ("pending", 4000, 250)
    assert donation.gift_aid_declaration.postcode == "CT21 5AB"
    assert Transaction.objects.count() == 0  # nothing posted before the webhook confirms it
    checkout = client.get(checkout_url)
    assert b"Test payments: no real money moves" in checkout.content
    assert b"Pay \xc2\xa342.50 (test)" in checkout.content
    with django_capture_on_commit_callbacks(execute=True):
        paid = client.post(checkout_url, {"action": "pay"})
    assert paid.status_code == 302 and paid["Location"] == f"/gifts/{donation.receipt_token}/thanks/"
    donation.refresh_from_db()
    assert donation.status == "succeeded" and donation.fee_pence == 84  # 1.5% of £42.50 = 63.75p -> 64p, + 20p
    assert fund_balance_pence(child_id=campaign.child_id) == 4000
    assert account_balance_pence(name=chart.GENERAL_FUND) == -250
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 4250 - 84
    thanks = client.get(paid["Location"])
    assert b"is confirmed" in thanks.content and b"Test payments" in thanks.content
    thanked = thanks.content.decode()
    assert "is confirmed, with <strong>£2.50</strong> towards the charity's costs." in thanked
    assert "Your Gift Aid declaration adds <strong>£10.00</strong> from HMRC." in thanked
    assert len(mail.outbox) == 1
    receipt = mail.outbox[0].body
    assert "Thank you too for £2.50 towards our costs." in receipt
    # the declaration made while giving, named on the receipt by giftaid (campaigns' receipt_lines signal)
    assert (
        f"Gift Aid: your declaration of {clock.today():%d %B %Y} covers this gift and your future gifts. It adds "
        "£10.00 to this gift from HMRC" in receipt
    )
    assert "To cancel it for your gifts from now on, use your gift's page (the link below) or tell" in receipt
    link = re.search(r"http\S+/gifts/\S+/", mail.outbox[0].body)
    assert link is not None
    mine = Client().get(urlparse(link.group(0)).path)
    assert mine.status_code == 200
    assert b"What my gift paid for" in mine.content
    assert b"Nothing has been paid from your gift yet." in mine.content
    assert b"\xc2\xa310.00" in mine.content  # Gift Aid: 25% of £40
    page = client.get(f"/campaigns/{campaign.slug}/")
    assert b"\xc2\xa340.00</strong> raised" in page.content
    assert b"Go James!" not in page.content  # not approved yet
    staff = Client()
    staff.force_login(caseworker())
    gifts = staff.get(f"/staff/campaigns/{campaign.slug}/gifts/").content.decode()
    assert (
        '<td class="num">£40.00</td><td class="num">£2.50</td><td class="num">£0.84</td><td class="num">£10.00</td>'
        in gifts
    )


def test_gift_page_needs_the_exact_token() -> None:
    d = make_pending(make_campaign())
    assert Client().get(f"/gifts/{d.receipt_token[:-1]}/").status_code == 404
    assert Client().get(f"/gifts/{d.receipt_token}/").status_code == 200


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"custom_amount": "0.99"}, "the smallest gift is £1"),
        ({"custom_amount": "100000.01"}, "the largest gift online is £100,000"),
        ({"custom_amount": "ten pounds"}, "is not an amount in pounds"),
        ({"custom_amount": "12.345"}, "is not an amount in pounds"),
        ({"custom_amount": "-5"}, "is not an amount in pounds"),
        ({"custom_amount": ""}, "Enter an amount in pounds"),
        ({"message": "<script>alert(1)</script>"}, "plain text only"),
        ({"donor_name": "", "is_anonymous": ""}, "Enter your name"),
    ],
)
def test_bad_gift_input_is_400_and_writes_nothing(data: dict[str, str], error: str) -> None:
    campaign = make_campaign()
    response = Client().post(f"/campaigns/{campaign.slug}/give/", GIFT | data)
    assert response.status_code == 400
    assert error in response.content.decode().replace("&#x27;", "'")
    assert b"<script>alert(1)</script>" not in response.content
    assert Donation.objects.count() == 0


def test_gift_aid_without_address_is_400_and_writes_nothing() -> None:
    campaign = make_campaign()
    response = Client().post(
        f"/campaigns/{campaign.slug}/give/", GIFT | GIFT_AID | {"ga-address": "", "ga-house_name_or_number": ""}
    )
    assert response.status_code == 400
    assert "is required for Gift Aid" in response.content.decode()
    assert Donation.objects.count() == 0


def test_approved_messages_are_escaped() -> None:
    worker = caseworker()
    campaign = make_campaign()
    d = make_pending(campaign, amount_pence=500, message='Tom & "Jerry" say hi')
    services.donation_record_succeeded(donation_id=d.pk, amount_total_pence=500, session_id=str(d.checkout_session_id))
    services.donation_message_moderate(donation=d, approve=True, actor=worker)
    page = Client().get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "Tom &amp; &quot;Jerry&quot; say hi" in page


def test_draft_or_unconsented_campaigns_are_404_and_not_on_home() -> None:
    draft = make_campaign(state=CampaignState.DRAFT)
    hidden = make_campaign()
    hidden.child.publicity_consent = False
    hidden.child.save()
    shown = make_campaign()
    for c in (draft, hidden):
        assert Client().get(f"/campaigns/{c.slug}/").status_code == 404
        assert Client().get(f"/campaigns/{c.slug}/give/").status_code == 404
    home = Client().get("/").content.decode()
    assert shown.title in home and draft.title not in home and hidden.title not in home


def test_surplus_wording_and_nhs_sentence_on_page() -> None:
    campaign = make_campaign()
    services.campaign_set_target(
        campaign=campaign, target_pence=3_000_000, nhs_covers_pence=2_400_000, explanation="", actor=None
    )
    page = Client().get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "The NHS pays for the surgery (£24,000.00); this campaign pays for the rest." in page
    assert "If more (or less) is raised than needed" in page


def test_test_gateway_checkout_is_404_when_stripe_is_set(settings) -> None:  # type: ignore[no-untyped-def]
    d = make_pending(make_campaign())
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    assert Client().get(f"/test-gateway/checkout/{d.checkout_session_id}/").status_code == 404
    assert Client().post(f"/test-gateway/checkout/{d.checkout_session_id}/", {"action": "pay"}).status_code == 404
    d.refresh_from_db()
    assert d.status == "pending"


def test_staff_pages(client) -> None:  # type: ignore[no-untyped-def]
    worker = caseworker("cw")
    campaign = make_campaign()
    d = make_pending(campaign, amount_pence=700, message="<b>hi</b>".replace("<", "").replace(">", ""))
    deliver(completed_event(d))
    assert client.get(f"/staff/campaigns/{campaign.slug}/gifts/").status_code == 302  # sign in first
    client.force_login(worker)
    gifts = client.get(f"/staff/campaigns/{campaign.slug}/gifts/")
    assert gifts.status_code == 200 and b"Approve" in gifts.content
    assert client.post(f"/staff/gifts/{d.pk}/moderate/", {"decision": "approve"}).status_code == 302
    d.refresh_from_db()
    assert d.message_status == "approved"
    bad_batch = client.post(
        f"/staff/campaigns/{campaign.slug}/offline/",
        {
            "form": "batch",
            "batch-description": "Sponsored walk",
            "batch-stated_total": "30",
            "batch-received_on": "2026-05-03",
            "batch-lines": "10, cash, Ann\n15, bucket_collection",
        },
    )
    assert bad_batch.status_code == 400
    assert "add up to £25.00 but the batch says £30.00" in bad_batch.content.decode()
    assert Donation.objects.count() == 1
    good = client.post(
        f"/staff/campaigns/{campaign.slug}/offline/",
        {
            "form": "single",
            "one-amount": "20",
            "one-kind": "cheque",
            "one-received_on": "2026-05-03",
            "one-reference": "000123",
        },
    )
    assert good.status_code == 302
    assert Donation.objects.filter(kind="cheque", entered_by=worker).count() == 1
    recon = client.get("/staff/reconciliation/").content.decode()
    assert "matches" in recon and "does not match" not in recon


def test_staff_pages_refused_to_guardian(client) -> None:  # type: ignore[no-untyped-def]
    from carefund.care.tests.factories import user_with_role
    from carefund.core.roles import Role

    caseworker()
    campaign = make_campaign()
    client.force_login(user_with_role(Role.GUARDIAN))
    assert client.get(f"/staff/campaigns/{campaign.slug}/gifts/").status_code == 403
    assert client.get("/staff/reconciliation/").status_code == 403
    assert (
        client.post(
            f"/staff/campaigns/{campaign.slug}/offline/",
            {"form": "single", "one-amount": "5", "one-kind": "cash", "one-received_on": "2026-01-01"},
        ).status_code
        == 403
    )
    assert Donation.objects.count() == 0


def test_staff_create_publish_and_guardian_update(client) -> None:  # type: ignore[no-untyped-def]
    from carefund.care.tests.factories import ChildFactory, user_with_role
    from carefund.core.roles import Role

    worker = caseworker()
    child = ChildFactory(publicity_consent=True, first_name="James")
    hidden = ChildFactory(publicity_consent=False)
    client.force_login(worker)
    refused = client.post("/staff/campaigns/", {"child": hidden.pk, "title": "Nope"})
    assert refused.status_code == 400
    assert client.post("/staff/campaigns/", {"child": child.pk, "title": "Help James walk"}).status_code == 302
    campaign = child.campaigns.get()
    assert client.get(f"/campaigns/{campaign.slug}/").status_code == 404  # a draft is not public
    client.post(f"/staff/campaigns/{campaign.slug}/state/", {"to_state": "target_reached"})
    campaign.refresh_from_db()
    assert campaign.state == "draft"  # refused: not an allowed move
    client.post(f"/staff/campaigns/{campaign.slug}/state/", {"to_state": "published"})
    campaign.refresh_from_db()
    assert campaign.state == "published"
    guardian = user_with_role(Role.GUARDIAN)
    child.guardians.add(guardian)
    other_parent = user_with_role(Role.GUARDIAN)
    client.force_login(other_parent)
    assert client.post(f"/campaigns/{campaign.slug}/updates/new/", {"body": "spam"}).status_code == 404
    client.force_login(guardian)
    assert b"Post an update" in client.get(f"/campaigns/{campaign.slug}/").content
    assert (
        client.post(f"/campaigns/{campaign.slug}/updates/new/", {"body": "James stood <b>alone</b>!"}).status_code
        == 302
    )
    page = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "James stood &lt;b&gt;alone&lt;/b&gt;!" in page
    assert list(campaign.updates.values_list("body", flat=True)) == ["James stood <b>alone</b>!"]


def test_test_gateway_payout_and_reconciliation(client) -> None:  # type: ignore[no-untyped-def]
    worker = caseworker()
    campaign = make_campaign()
    d = make_pending(campaign, amount_pence=4000)
    deliver(completed_event(d, fee_pence=80))
    client.force_login(worker)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the worker applies the payout's event after commit
        assert client.post("/staff/test-gateway/payout/").status_code == 302
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 0
    assert account_balance_pence(name=chart.BANK) == 3920
    recon = client.get("/staff/reconciliation/").content.decode()
    assert "test payouts to the bank" in recon and "does not match" not in recon
    client.post("/staff/test-gateway/payout/")  # nothing left: refused, nothing posted
    assert account_balance_pence(name=chart.BANK) == 3920
