"""Each person's start page ("what needs me"), the header menu by role, the error pages and the API's index."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from carefund.core.roles import Role
from carefund.funding import services, surplus
from carefund.funding.models import Invoice
from carefund.funding.tests.conftest import World, give
from carefund.funding.tests.test_services import deliver, item
from carefund.web.nav import NavEntry, nav_for_user, nav_register
from carefund.web.plain import plain_cost_note

pytestmark = pytest.mark.django_db


def _entered_invoice(world: World, entered_by: Any) -> Invoice:
    assessment = item(world, "james", "assessment")
    deliver([assessment], entered_by)
    give(world.care.children["james"], 500_000, "gift-start-1")
    return services.invoice_enter(
        provider=assessment.plan.provider, care_plan=assessment.plan, number="S-1", issued_on=dt.date(2015, 4, 1),
        lines=[(assessment, 250_000)], actor=entered_by,
    )  # fmt: skip


def test_a_finance_officer_is_asked_to_approve_an_invoice_another_entered_and_not_their_own(
    world: World, client: Any
) -> None:
    f1 = world.user("f1", Role.FINANCE_OFFICER)
    f2 = world.user("f2", Role.FINANCE_OFFICER)
    invoice = _entered_invoice(world, f1)
    task = f"Approve invoice S-1 from {invoice.provider.name} for James Hartley: £2,500.00"

    client.force_login(f2)
    page = client.get("/start/").content.decode()
    assert task in page
    assert f'href="/children/{invoice.care_plan.child_id}/funding/"' in page

    client.force_login(f1)  # who entered it may not approve it (four eyes): nothing waits for them
    page = client.get("/start/").content.decode()
    assert "Approve invoice" not in page
    assert "Nothing is waiting for you now." in page

    services.invoice_approve(invoice=invoice, actor=f2)
    client.force_login(f2)
    assert "Approve invoice" not in client.get("/start/").content.decode()


def test_a_surplus_transfer_waits_for_its_approvers_not_its_proposer(world: World, client: Any) -> None:
    caseworker = world.user("cw", Role.CASEWORKER)
    f2 = world.user("f2", Role.FINANCE_OFFICER)
    james = world.care.children["james"]
    give(james, 9_000_000, "gift-start-2")
    transfer = surplus.surplus_transfer_propose(source_child=james, actor=caseworker, reason="plan fully funded")
    client.force_login(f2)
    page = client.get("/start/").content.decode()
    assert "Approve the surplus transfer of " in page and "from James Hartley" in page
    surplus.surplus_transfer_approve(transfer=transfer, actor=f2)
    assert "Approve the surplus transfer" not in client.get("/start/").content.decode()
    client.force_login(caseworker)
    assert "Approve the surplus transfer" not in client.get("/start/").content.decode()


def test_a_guardian_sees_only_their_child_with_links_to_record_plan_and_funding(world: World, client: Any) -> None:
    guardian = world.user("mum", Role.GUARDIAN)
    james = world.care.children["james"]
    james.guardians.add(guardian)
    client.force_login(guardian)
    page = client.get("/start/").content.decode()
    assert "Your children" in page and "James Hartley" in page
    assert f'href="/children/{james.pk}/"' in page
    assert f'href="/care-plans/{world.care.plans["james"].pk}/"' in page
    assert f'href="/children/{james.pk}/funding/"' in page
    others = [c for key, c in world.care.children.items() if key != "james"]
    assert others and all(c.full_name not in page for c in others)


def test_the_start_page_needs_a_sign_in(client: Any) -> None:
    response = client.get("/start/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_signing_in_lands_on_the_start_page(world: World, client: Any) -> None:
    user = world.user("f3", Role.FINANCE_OFFICER)
    user.set_password("a-long-enough-password")
    user.save()
    response = client.post("/login/", {"username": "f3", "password": "a-long-enough-password"})
    assert response.status_code == 302 and response["Location"] == "/start/"


def _labels(user: Any) -> list[str]:
    return [link.label for link in nav_for_user(user)]


def test_the_menu_offers_each_role_the_pages_it_may_open(world: World) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert _labels(AnonymousUser()) == ["Campaigns", "Petitions", "Cost-effectiveness"]
    assert _labels(world.user("g", Role.GUARDIAN)) == [
        "What needs me", "Campaigns", "Children", "Petitions", "Cost-effectiveness",
    ]  # fmt: skip
    assert _labels(world.user("c", Role.COMMISSIONER)) == [
        "What needs me", "Campaigns", "Children", "Programmes", "Petitions", "Evaluation", "Cost-effectiveness",
    ]  # fmt: skip
    assert _labels(world.user("f", Role.FINANCE_OFFICER)) == [
        "What needs me", "Campaigns", "Children", "Staff campaigns", "Programmes", "Surplus", "Reconciliation",
        "Ledger", "Journal", "Gift Aid", "Petitions", "Cost-effectiveness",
    ]  # fmt: skip
    assert "Moderate petitions" in _labels(world.user("m", Role.MODERATOR))
    assert "Follow-up" in _labels(world.user("cl", Role.CLINICIAN))
    assert "Evaluation" in _labels(world.user("e", Role.HEALTH_ECONOMIST))


def test_a_menu_entry_appears_only_once_its_url_exists(world: World) -> None:
    """An app may name its page in the menu before the page exists; an entry whose URL does not resolve is left out
    rather than linking to a 404."""
    from carefund.web import nav

    user = world.user("t", Role.TRUSTEE)
    nav_register(NavEntry("Nowhere yet", "no-such-app:page", 5))
    try:
        assert "Nowhere yet" not in _labels(user)
    finally:
        nav._REGISTRY.pop("no-such-app:page")
    nav_register(NavEntry("Health check", "health", 5))
    try:
        assert _labels(user)[0] == "Health check"
    finally:
        nav._REGISTRY.pop("health")


def test_a_404_is_in_the_layout(client: Any) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page and 'aria-label="Main"' in page


def test_a_403_is_in_the_layout_with_its_reason_and_logged_once_without_traceback(
    world: World, client: Any, caplog: Any
) -> None:
    client.force_login(world.user("g2", Role.GUARDIAN))
    with caplog.at_level(logging.WARNING):
        response = client.get("/staff/reconciliation/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>You cannot open this page</h1>" in page and "You may not see the reconciliation." in page
    records = [r for r in caplog.records if getattr(r, "status_code", None) == 403]
    assert len(records) == 1
    # Django attaches the PermissionDenied's traceback; the site's console handler (LOGGING) dropped it
    assert records[0].exc_info is None and records[0].exc_text is None


def test_the_api_answers_at_its_root_with_an_index(client: Any) -> None:
    body = client.get("/api/").json()
    assert body["openapi_schema"] == "http://testserver/api/openapi.json"
    assert body["docs"] == "http://testserver/api/docs"
    docs = client.get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle" in docs and "cdn" not in docs.lower()


def test_plain_cost_notes() -> None:
    assert plain_cost_note("") == ""
    assert plain_cost_note("  ") == ""
    assert plain_cost_note("NHS price UNCONFIRMED (x)").startswith("No published price: this is the charity's")
    assert plain_cost_note("£350 a day is a configurable Assumption").startswith("No published price")
    assert plain_cost_note("12 sessions x £70, price from a news report").startswith("Based on prices published")


def test_a_campaign_made_after_its_care_plan_gets_its_target_without_a_recompute(
    world: World, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from carefund.campaigns.models import Campaign
    from carefund.funding.rules import waterfall
    from carefund.funding.selectors import funding_input_for_child

    caseworker = world.user("cw2", Role.CASEWORKER)
    child = next(c for c in world.care.children.values() if c.publicity_consent)
    client.force_login(caseworker)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/staff/campaigns/", {"child": child.pk, "title": "Help them walk", "story": "", "media_partner": ""}
        )
    assert response.status_code == 302
    campaign = Campaign.objects.get(child=child, title="Help them walk")
    expected = waterfall(funding_input_for_child(child)).charity_share_pence
    assert expected > 0
    assert campaign.target_pence == expected
    page = client.get("/staff/campaigns/").content.decode()
    assert ">Publish</button>" in page and "Make " not in page


def test_approve_buttons_only_for_those_who_may_approve(world: World, client: Any) -> None:
    f1 = world.user("f1", Role.FINANCE_OFFICER)
    f2 = world.user("f2", Role.FINANCE_OFFICER)
    invoice = _entered_invoice(world, f1)
    url = f"/children/{invoice.care_plan.child_id}/funding/"
    approve = f'action="/funding/invoices/{invoice.pk}/approve/"'
    client.force_login(f1)
    page = client.get(url).content.decode()
    assert approve not in page and "Waiting for another person's approval" in page
    client.force_login(f2)
    assert approve in client.get(url).content.decode()


def test_a_commissioner_is_not_sent_to_the_surplus_page_they_cannot_open(world: World, client: Any) -> None:
    client.force_login(world.user("nhs", Role.COMMISSIONER))
    assert "/funding/surplus/" not in client.get("/funding/programmes/").content.decode()
    client.force_login(world.user("cw", Role.CASEWORKER))
    assert 'href="/funding/surplus/"' in client.get("/funding/programmes/").content.decode()
