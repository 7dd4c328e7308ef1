"""Funding pages and API: who may see a child's funding (404 otherwise, every view audited), the programme page,
and forms that call the services and show their refusals as clear messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from carefund.core.models import AuditEvent
from carefund.core.roles import Role
from carefund.funding import services, surplus
from carefund.funding.models import FundingRequest, Invoice, WaterfallRun
from carefund.funding.tests.conftest import World, give

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_guardian_sees_own_child_funding_and_404_for_another(world: World) -> None:
    guardian = world.user("mum", Role.GUARDIAN)
    james, noah = world.care.children["james"], world.care.children["noah"]
    james.guardians.add(guardian)
    c = client_for(guardian)
    page = c.get(f"/children/{james.pk}/funding/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Funding for James H." in text
    assert "Selective dorsal rhizotomy (surgery)" in text and "£10,000.00 not yet funded." in text
    assert (
        AuditEvent.objects.filter(action="child.funding_viewed", actor=guardian, target_id=str(james.pk)).count() == 1
    )
    assert c.get(f"/children/{noah.pk}/funding/").status_code == 404
    assert c.get(f"/api/funding/children/{noah.pk}").status_code == 404
    assert AuditEvent.objects.filter(action="child.funding_viewed", target_id=str(noah.pk)).count() == 0
    assert c.get("/funding/programmes/").status_code == 404


def test_api_child_funding_lines(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    james = world.care.children["james"]
    give(james, 1_000_000, "api-gift")
    data = client_for(cw).get(f"/api/funding/children/{james.pk}").json()
    assert data["balance_pence"] == 1_000_000
    assert data["unfunded_pence"] == 5_011_000 - 1_000_000
    assert data["lines"][0]["explanation"] == "£2,500.00 from the child's fund."
    assert Client().get(f"/api/funding/children/{james.pk}").status_code == 401


def test_surplus_policy_is_public(world: World) -> None:
    data = Client().get("/api/funding/surplus-policy").json()
    assert data == {
        "wording": "Money over what the plan needs goes to other children in urgent need, by a published ranking."
    }


def test_commissioner_programme_page_and_decision_form(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    nhs = world.user("nhs", Role.COMMISSIONER)
    req = services.funding_request_create(programme=world.funding.cte, care_plan=world.care.plans["james"], actor=cw)
    c = client_for(nhs)
    page = c.get(f"/funding/programmes/{world.funding.cte.pk}/")
    assert page.status_code == 200
    assert "Nottingham University Hospitals NHS Trust" in page.content.decode()
    # A decision without a reason is refused with a clear message and nothing changes.
    resp = c.post(f"/funding/requests/{req.pk}/decide/", {"decision": "approve", "reason": ""}, follow=True)
    assert "Reason: every decision is recorded with its reason" in resp.content.decode()
    assert FundingRequest.objects.get(pk=req.pk).status == "pending"
    c.post(f"/funding/requests/{req.pk}/decide/", {"decision": "approve", "reason": "Allocation left"})
    assert FundingRequest.objects.get(pk=req.pk).status == "approved"
    api = c.get(f"/api/funding/programmes/{world.funding.cte.pk}").json()
    notts = next(a for a in api["allocations"] if a["centre"] == "Nottingham University Hospitals NHS Trust")
    assert (notts["procedures"], notts["committed_procedures"], notts["left_procedures"]) == (24, 1, 23)


def test_invoice_forms_four_eyes_message(world: World) -> None:
    from carefund.care.services import care_plan_item_transition

    f1 = world.user("f1", Role.FINANCE_OFFICER)
    james = world.care.children["james"]
    item = world.care.plans["james"].items.get(category="assessment")
    for state in ("booked", "delivered"):
        care_plan_item_transition(item=item, to_state=state, actor=f1)
    c = client_for(f1)
    c.post(
        f"/children/{james.pk}/funding/invoices/",
        {"number": "INV-9", "issued_on": dt.date(2015, 4, 1).isoformat(), f"item_{item.pk}": "2,500.00"},
    )
    invoice = Invoice.objects.get(number="INV-9")
    assert invoice.amount_pence == 250_000
    resp = c.post(f"/funding/invoices/{invoice.pk}/approve/", follow=True)
    assert "You entered this invoice; another finance officer must approve it." in resp.content.decode()
    assert invoice.approvals.count() == 0


def test_surplus_preview_for_caseworker(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    page = client_for(cw).get("/funding/surplus/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Noah B." in text and "GMFCS level IV" in text


def test_recompute_button_keeps_a_run_and_guardian_cannot(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    guardian = world.user("mum", Role.GUARDIAN)
    james = world.care.children["james"]
    james.guardians.add(guardian)
    give(james, 300_000, "online-gift")
    client_for(guardian).post(f"/children/{james.pk}/funding/recompute/")
    assert WaterfallRun.objects.filter(care_plan__child=james).count() == 0
    client_for(cw).post(f"/children/{james.pk}/funding/recompute/")
    run = WaterfallRun.objects.get(care_plan__child=james)
    assert (run.reason, run.fund_balance_pence) == ("recomputed on request (a price or a gift changed)", 300_000)


# --------------------------------------------------------------------------------------------- bad input (regressions)
def test_next_must_be_a_page_of_this_site(world: World) -> None:
    # Regression: `next` was followed wherever it pointed, an open redirect from a trusted page.
    from carefund.funding.models import Allocation

    nhs = world.user("nhs", Role.COMMISSIONER)
    notts = Allocation.objects.get(programme=world.funding.cte, centre__slug="nottingham-university")
    c = client_for(nhs)
    data = {"kind": "add", "procedures": "1", "reason": "More referrals"}
    evil = c.post(f"/funding/allocations/{notts.pk}/change/", {**data, "next": "https://evil.example/"})
    assert evil.status_code == 302
    assert evil["Location"] == f"/funding/programmes/{notts.programme_id}/"
    local = c.post(f"/funding/allocations/{notts.pk}/change/", {**data, "next": "/funding/programmes/"})
    assert local["Location"] == "/funding/programmes/"


@pytest.mark.parametrize(
    ("procedures", "message"),
    [
        ("99999999999999999999999", "Procedures: give a positive number of procedures"),
        ("100001", "Procedures: 100,001 is more than an allocation can hold; the most is 100,000."),
    ],
)
def test_a_huge_number_of_procedures_is_refused_with_a_reason_not_a_500(
    world: World, procedures: str, message: str
) -> None:
    # Regression: a 23-digit figure overflowed the database column (a 500).
    from carefund.funding.models import Allocation, AllocationChange

    nhs = world.user("nhs", Role.COMMISSIONER)
    notts = Allocation.objects.get(programme=world.funding.cte, centre__slug="nottingham-university")
    changes = AllocationChange.objects.count()
    response = client_for(nhs).post(
        f"/funding/allocations/{notts.pk}/change/",
        {"kind": "add", "procedures": procedures, "reason": "typo"},
        follow=True,
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    notts.refresh_from_db()
    assert notts.procedures == 24
    assert AllocationChange.objects.count() == changes


def test_allocation_limits_in_the_service(world: World) -> None:
    from carefund.funding.models import Allocation

    nhs = world.user("nhs", Role.COMMISSIONER)
    notts = Allocation.objects.get(programme=world.funding.cte, centre__slug="nottingham-university")
    with pytest.raises(services.ValidationError, match="the most is 100,000"):
        services.allocation_add(allocation=notts, procedures=99_977, reason="typo", actor=nhs)  # 24 + 99,977
    notts.refresh_from_db()
    assert notts.procedures == 24


def test_a_programme_that_is_not_a_number_is_a_message_not_a_500(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    james = world.care.children["james"]
    response = client_for(cw).post(
        f"/children/{james.pk}/funding/request/",
        {"programme": "abc", "care_plan": str(world.care.plans["james"].pk)},
        follow=True,
    )
    assert response.status_code == 200
    assert "Choose a programme and one of the child&#x27;s care plans." in response.content.decode()
    assert FundingRequest.objects.count() == 0


@pytest.mark.parametrize("decision", [None, "", "aprove"])
def test_a_missing_or_mistyped_decision_declines_nothing(world: World, decision: str | None) -> None:
    # Regression: anything but "approve" declined the child's NHS funding request.
    cw, nhs = world.user("cw", Role.CASEWORKER), world.user("nhs", Role.COMMISSIONER)
    req = services.funding_request_create(programme=world.funding.cte, care_plan=world.care.plans["james"], actor=cw)
    data = {"reason": "Allocation not used up"}
    if decision is not None:
        data["decision"] = decision
    response = client_for(nhs).post(f"/funding/requests/{req.pk}/decide/", data, follow=True)
    assert "Choose Approve or Decline." in response.content.decode()
    req.refresh_from_db()
    assert req.status == "pending"
    assert req.decided_at is None


def test_a_family_sees_another_childs_name_only_with_that_childs_consent(world: World) -> None:
    # Regression: the recipient's guardians saw the source child's name on their funding page, consent or not.
    from carefund.funding.tests.test_services import approve_james

    cw = world.user("cw", Role.CASEWORKER)
    f2, trustee = world.user("f2", Role.FINANCE_OFFICER), world.user("t", Role.TRUSTEE)
    james, noah = world.care.children["james"], world.care.children["noah"]
    approve_james(world)
    give(james, 5_000_000, "gift-big")
    transfer = surplus.surplus_transfer_propose(source_child=james, actor=cw, amounts=[(noah, 500_000)])
    surplus.surplus_transfer_approve(transfer=transfer, actor=f2)
    surplus.surplus_transfer_approve(transfer=transfer, actor=trustee)
    guardian = world.user("noah-dad", Role.GUARDIAN)
    noah.guardians.add(guardian)
    james.publicity_consent = False
    james.save(update_fields=["publicity_consent"])
    page = client_for(guardian).get(f"/children/{noah.pk}/funding/").content.decode()
    assert "In: £5,000.00 from another child's fund" in page
    assert "James" not in page
    staff_page = client_for(cw).get(f"/children/{noah.pk}/funding/").content.decode()
    assert "In: £5,000.00 from James H.'s fund" in staff_page
    james.publicity_consent = True
    james.save(update_fields=["publicity_consent"])
    page = client_for(guardian).get(f"/children/{noah.pk}/funding/").content.decode()
    assert "In: £5,000.00 from James H.'s fund" in page


def test_approvers_can_reach_the_proposals_on_the_surplus_page_and_approve(world: World) -> None:
    # Regression: the page with the proposals and their Approve buttons was only for caseworkers (who cannot
    # approve), so finance officers and trustees got a 404 and the four-eyes approval could not be given on the web.
    from carefund.funding.models import SurplusTransfer
    from carefund.funding.tests.test_services import approve_james

    cw = world.user("cw", Role.CASEWORKER)
    f2, trustee = world.user("f2", Role.FINANCE_OFFICER), world.user("t", Role.TRUSTEE)
    james, noah = world.care.children["james"], world.care.children["noah"]
    approve_james(world)
    give(james, 5_000_000, "gift-big")
    transfer = surplus.surplus_transfer_propose(source_child=james, actor=cw, amounts=[(noah, 500_000)])
    for approver in (f2, trustee):
        c = client_for(approver)
        page = c.get("/funding/surplus/")
        assert page.status_code == 200
        text = page.content.decode()
        assert f'action="/funding/surplus/transfers/{transfer.pk}/approve/"' in text
        assert "Propose (the surplus goes down the ranking)" not in text  # proposing is for caseworkers
        c.post(f"/funding/surplus/transfers/{transfer.pk}/approve/")
    transfer.refresh_from_db()
    assert transfer.state == SurplusTransfer.State.POSTED
    guardian = world.user("mum", Role.GUARDIAN)
    assert client_for(guardian).get("/funding/surplus/").status_code == 404


def test_trustee_approves_a_grant_on_the_funding_page_and_a_refusal_says_why(world: World) -> None:
    from carefund.funding.models import Grant
    from carefund.funding.tests.test_services import fund_general

    trustee, caseworker = world.user("trustee", Role.TRUSTEE), world.user("cw", Role.CASEWORKER)
    james = world.care.children["james"]
    fund_general(500_000)
    url = f"/children/{james.pk}/funding/"
    c = client_for(trustee)
    assert "Approve a grant towards the £50,110.00 not yet funded" in c.get(url).content.decode()
    page = c.post(f"{url}grants/", {"amount": "6,000", "reason": "Orthotics gap"}, follow=True).content.decode()
    assert "Amount (£): general funds hold £5,000.00" in page and not Grant.objects.exists()
    page = c.post(f"{url}grants/", {"amount": "12.345", "reason": "x"}, follow=True).content.decode()
    assert "at most two decimals" in page and not Grant.objects.exists()
    page = c.post(f"{url}grants/", {"amount": "2,000", "reason": "Orthotics gap"}, follow=True).content.decode()
    assert "Grant of £2,000.00 from general funds approved" in page
    grant = Grant.objects.get()
    assert (grant.amount_pence, grant.reason, grant.approved_by) == (200_000, "Orthotics gap", trustee)
    assert "£2,000.00 approved by" in page and ": Orthotics gap" in page
    other = client_for(caseworker)
    assert "Approve a grant" not in other.get(url).content.decode()
    other.post(f"{url}grants/", {"amount": "100", "reason": "mine"})
    assert Grant.objects.count() == 1
