"""Service tests: every refusal in the issue is refused with a reason and writes nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from carefund.care.models import CarePlanItem
from carefund.core.errors import FourEyesError, StateTransitionError, ValidationError
from carefund.core.models import AuditEvent
from carefund.core.roles import Role
from carefund.funding import services, surplus
from carefund.funding.models import (
    Allocation,
    AllocationChange,
    FundingRequest,
    Invoice,
    InvoiceApproval,
    SurplusTransfer,
    SurplusTransferApproval,
    WaterfallRun,
)
from carefund.funding.selectors import allocation_state, funding_input_for_child, waiting_list_for
from carefund.funding.tests.conftest import World, give

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    from carefund.ledger.models import Transaction

    return {
        "audit": AuditEvent.objects.count(),
        "requests_approved": FundingRequest.objects.filter(status="approved").count(),
        "runs": WaterfallRun.objects.count(),
        "invoices": Invoice.objects.count(),
        "invoice_approvals": InvoiceApproval.objects.count(),
        "transfers": SurplusTransfer.objects.count(),
        "transfer_approvals": SurplusTransferApproval.objects.count(),
        "ledger": Transaction.objects.count(),
        "changes": AllocationChange.objects.count(),
    }


def nottingham(world: World) -> Allocation:
    return Allocation.objects.get(programme=world.funding.cte, centre__slug="nottingham-university")


def approve_james(world: World) -> tuple[Any, Any, FundingRequest]:
    caseworker = world.user("cw", Role.CASEWORKER)
    commissioner = world.user("nhs", Role.COMMISSIONER)
    req = services.funding_request_create(
        programme=world.funding.cte, care_plan=world.care.plans["james"], actor=caseworker
    )
    req = services.funding_request_decide(
        request=req, approve=True, reason="Allocation not used up", actor=commissioner
    )
    return caseworker, commissioner, req


# --------------------------------------------------------------------------------------------- allocations
def test_allocations_seeded_with_sources(world: World) -> None:
    alloc = nottingham(world)
    assert (alloc.procedures, alloc.budget_pence) == (24, None)
    assert alloc.changes.get().kind == "set"
    assert Allocation.objects.filter(programme=world.funding.cte).count() == 5


def test_allocation_add_cut_move_recorded_and_audited(world: World) -> None:
    nhs = world.user("nhs", Role.COMMISSIONER)
    notts = nottingham(world)
    leeds = Allocation.objects.get(programme=world.funding.cte, centre__slug="leeds-teaching")
    services.allocation_add(allocation=notts, procedures=6, reason="More referrals", actor=nhs)
    services.allocation_cut(allocation=notts, procedures=2, reason="Theatre time", actor=nhs)
    services.allocation_move(source=notts, target=leeds, procedures=3, reason="Leeds list longer", actor=nhs)
    notts.refresh_from_db()
    leeds.refresh_from_db()
    assert (notts.procedures, leeds.procedures) == (25, 27)
    assert list(notts.changes.order_by("pk").values_list("kind", "procedures_delta")) == [
        ("set", 24), ("add", 6), ("cut", -2), ("move_out", -3),
    ]  # fmt: skip
    assert AuditEvent.objects.filter(action="allocation.move_in", actor=nhs).count() == 1


def test_allocation_cut_below_committed_refused(world: World) -> None:
    _, nhs, _ = approve_james(world)
    notts = nottingham(world)
    before = counts()
    with pytest.raises(ValidationError, match="cannot go below the 1 already used or committed"):
        services.allocation_cut(allocation=notts, procedures=24, reason="cut", actor=nhs)
    assert counts() == before
    notts.refresh_from_db()
    assert notts.procedures == 24


def test_allocation_change_needs_commissioner(world: World) -> None:
    cw = world.user("cw2", Role.CASEWORKER)
    before = counts()
    with pytest.raises(services.PermissionDeniedError):
        services.allocation_add(allocation=nottingham(world), procedures=1, reason="x", actor=cw)
    assert counts() == before


# --------------------------------------------------------------------------------------------- NHS requests
def test_request_approval_consumes_allocation_and_recomputes(world: World) -> None:
    _, nhs, req = approve_james(world)
    assert req.status == "approved" and req.decided_by == nhs
    assert req.decided_at is not None and req.decided_at.date() == dt.date(2015, 4, 1)
    assert req.cost_pence == 1_000_000
    assert req.eligible is True
    state = allocation_state(nottingham(world))
    assert (state.committed_procedures, state.used_procedures, state.committed_pence) == (1, 0, 1_000_000)
    run = WaterfallRun.objects.get(care_plan=world.care.plans["james"])
    assert run.nhs_pence == 1_000_000
    assert run.reason == "NHS decision: SDR Commissioning through Evaluation (2014-2016) approved"
    surgery = next(line for line in run.lines if line["payer"] == "nhs")
    assert surgery["description"] == "Selective dorsal rhizotomy (surgery)"


def test_ineligible_request_approval_refused(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    nhs = world.user("nhs", Role.COMMISSIONER)
    req = services.funding_request_create(programme=world.funding.cte, care_plan=world.care.plans["amelia"], actor=cw)
    assert req.eligible is False
    before = counts()
    with pytest.raises(ValidationError, match="not eligible"):
        services.funding_request_decide(request=req, approve=True, reason="try", actor=nhs)
    assert counts() == before
    req.refresh_from_db()
    assert req.status == "pending"


def test_approval_with_no_allocation_left_refused_and_waiting_list(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    nhs = world.user("nhs", Role.COMMISSIONER)
    notts = nottingham(world)
    services.allocation_cut(allocation=notts, procedures=23, reason="One left", actor=nhs)
    # Both plans at Nottingham: James's, and Noah's plan moved there for the test.
    noah_plan = world.care.plans["noah"]
    noah_plan.provider = notts.centre
    noah_plan.save()
    first = services.funding_request_create(programme=world.funding.cte, care_plan=world.care.plans["james"], actor=cw)
    second = services.funding_request_create(programme=world.funding.cte, care_plan=noah_plan, actor=cw)
    services.funding_request_decide(request=first, approve=True, reason="last one", actor=nhs)
    before = counts()
    with pytest.raises(services.AllocationExhaustedError, match="no funded procedures left"):
        services.funding_request_decide(request=second, approve=True, reason="too late", actor=nhs)
    assert counts() == before
    second = services.funding_request_wait(request=second, actor=nhs)
    assert [r.pk for r in waiting_list_for(notts)] == [second.pk]


def test_request_joins_waiting_list_when_allocation_used_up(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    nhs = world.user("nhs", Role.COMMISSIONER)
    services.allocation_cut(allocation=nottingham(world), procedures=24, reason="None this year", actor=nhs)
    req = services.funding_request_create(programme=world.funding.cte, care_plan=world.care.plans["james"], actor=cw)
    assert req.status == "waiting"
    services.allocation_add(allocation=nottingham(world), procedures=1, reason="One more", actor=nhs)
    req = services.funding_request_decide(request=req, approve=True, reason="head of the list", actor=nhs)
    assert req.status == "approved"


def test_waiting_list_head_goes_first(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    nhs = world.user("nhs", Role.COMMISSIONER)
    notts = nottingham(world)
    services.allocation_cut(allocation=notts, procedures=24, reason="None", actor=nhs)
    plans = [world.care.plans["james"], world.care.plans["oliver"]]
    plans[1].provider = notts.centre
    plans[1].save()
    reqs = [services.funding_request_create(programme=world.funding.cte, care_plan=p, actor=cw) for p in plans]
    # Oliver (9 years 11 months) ages out of CtE (3 to 10) first, so he heads the list though he asked second.
    assert [r.pk for r in waiting_list_for(notts)] == [reqs[1].pk, reqs[0].pk]
    services.allocation_add(allocation=notts, procedures=1, reason="One", actor=nhs)
    before = counts()
    with pytest.raises(services.ConflictError, match=f"request #{reqs[1].pk} is ahead"):
        services.funding_request_decide(request=reqs[0], approve=True, reason="jump", actor=nhs)
    assert counts() == before


def test_deciding_twice_refused(world: World) -> None:
    _, nhs, req = approve_james(world)
    before = counts()
    with pytest.raises(StateTransitionError, match="already approved"):
        services.funding_request_decide(request=req, approve=False, reason="again", actor=nhs)
    assert counts() == before


def test_request_outside_programme_period_refused(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    before = counts()
    with pytest.raises(ValidationError, match="does not take requests on 2015-04-01"):
        services.funding_request_create(
            programme=world.funding.nhse_2018, care_plan=world.care.plans["james"], actor=cw
        )
    assert counts() == before
    assert FundingRequest.objects.count() == 0


# --------------------------------------------------------------------------------------------- invoices
def deliver(items: list[CarePlanItem], actor: Any) -> None:
    from carefund.care.services import care_plan_item_transition

    for item in items:
        for state in ("booked", "delivered"):
            care_plan_item_transition(item=item, to_state=state, actor=actor)
        item.refresh_from_db()


def item(world: World, child: str, category: str) -> CarePlanItem:
    return world.care.plans[child].items.filter(category=category).order_by("planned_date", "pk").first()  # type: ignore[return-value]


def test_invoice_four_eyes_and_payment_posts_to_ledger(world: World) -> None:
    from carefund.ledger import chart
    from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

    f1 = world.user("f1", Role.FINANCE_OFFICER)
    f2 = world.user("f2", Role.FINANCE_OFFICER)
    james = world.care.children["james"]
    give(james, 500_000, "gift-1")
    assessment = item(world, "james", "assessment")
    deliver([assessment], f1)
    inv = services.invoice_enter(
        provider=assessment.plan.provider, care_plan=assessment.plan, number="N-1", issued_on=dt.date(2015, 4, 1),
        lines=[(assessment, 250_000)], actor=f1,
    )  # fmt: skip
    before = counts()
    with pytest.raises(FourEyesError, match="you entered this invoice"):
        services.invoice_approve(invoice=inv, actor=f1)
    assert counts() == before
    with pytest.raises(StateTransitionError, match="only an approved invoice can be paid"):
        services.invoice_pay(invoice=inv, actor=f2)
    assert counts() == before
    services.invoice_approve(invoice=inv, actor=f2)
    inv = services.invoice_pay(invoice=inv, actor=f2)
    assert inv.state == "paid"
    assert fund_balance_pence(child_id=james.pk) == 250_000
    assert account_balance_pence(name=chart.provider_payable(inv.provider_id)) == 0
    assessment.refresh_from_db()
    assert assessment.state == "paid"
    assert funding_input_for_child(james).items[0].paid_pence == 250_000


def test_invoice_above_threshold_needs_two_different_approvers(world: World, settings: Any) -> None:
    settings.CAREFUND_INVOICE_SECOND_APPROVAL_ABOVE_PENCE = 100_000
    f1, f2, f3 = (world.user(n, Role.FINANCE_OFFICER) for n in ("f1", "f2", "f3"))
    assessment = item(world, "james", "assessment")
    deliver([assessment], f1)
    inv = services.invoice_enter(
        provider=assessment.plan.provider, care_plan=assessment.plan, number="N-2", issued_on=dt.date(2015, 4, 1),
        lines=[(assessment, 250_000)], actor=f1,
    )  # fmt: skip
    assert inv.approvals_required == 2
    services.invoice_approve(invoice=inv, actor=f2)
    before = counts()
    with pytest.raises(FourEyesError, match="already approved"):
        services.invoice_approve(invoice=inv, actor=f2)
    assert counts() == before
    inv.refresh_from_db()
    assert inv.state == "entered"
    inv = services.invoice_approve(invoice=inv, actor=f3)
    assert inv.state == "approved"


def test_invoice_more_than_approved_amount_refused(world: World) -> None:
    f1 = world.user("f1", Role.FINANCE_OFFICER)
    assessment = item(world, "james", "assessment")
    deliver([assessment], f1)
    before = counts()
    with pytest.raises(services.OverpaymentError, match=re.escape("more than its approved amount £2,500.00")):
        services.invoice_enter(
            provider=assessment.plan.provider, care_plan=assessment.plan, number="N-3", issued_on=dt.date(2015, 4, 1),
            lines=[(assessment, 250_001)], actor=f1,
        )  # fmt: skip
    assert counts() == before
    assessment.refresh_from_db()
    assert assessment.state == "delivered"


def test_invoice_for_nhs_paid_item_refused(world: World) -> None:
    approve_james(world)
    f1 = world.user("f1", Role.FINANCE_OFFICER)
    surgery = item(world, "james", "surgery")
    deliver([surgery], f1)
    before = counts()
    with pytest.raises(ValidationError, match="paid by the NHS; it never touches the charity's funds"):
        services.invoice_enter(
            provider=surgery.plan.provider, care_plan=surgery.plan, number="N-4", issued_on=dt.date(2015, 4, 1),
            lines=[(surgery, 1_000_000)], actor=f1,
        )  # fmt: skip
    assert counts() == before


def test_payment_below_zero_refused(world: World) -> None:
    f1, f2 = world.user("f1", Role.FINANCE_OFFICER), world.user("f2", Role.FINANCE_OFFICER)
    james = world.care.children["james"]
    give(james, 100_000, "gift-small")
    assessment = item(world, "james", "assessment")
    deliver([assessment], f1)
    inv = services.invoice_enter(
        provider=assessment.plan.provider, care_plan=assessment.plan, number="N-5", issued_on=dt.date(2015, 4, 1),
        lines=[(assessment, 250_000)], actor=f1,
    )  # fmt: skip
    services.invoice_approve(invoice=inv, actor=f2)
    before = counts()
    with pytest.raises(
        services.InsufficientFundError, match=re.escape("holds £1,000.00; paying £2,500.00 would take it below zero")
    ):
        services.invoice_pay(invoice=inv, actor=f2)
    assert counts() == before
    inv.refresh_from_db()
    assert inv.state == "approved"


# --------------------------------------------------------------------------------------------- surplus
def test_surplus_transfer_refusals_and_posting(world: World, mailoutbox: list[Any]) -> None:
    from carefund.ledger.selectors import fund_balance_pence

    cw = world.user("cw", Role.CASEWORKER)
    f2 = world.user("f2", Role.FINANCE_OFFICER)
    trustee = world.user("t", Role.TRUSTEE)
    james, noah, amelia = (world.care.children[k] for k in ("james", "noah", "amelia"))
    before = counts()
    with pytest.raises(surplus.NoSurplusError, match="has no surplus"):
        surplus.surplus_transfer_propose(source_child=james, actor=cw)
    assert counts() == before

    approve_james(world)  # the NHS pays the surgery: £10,000 of the gifts become surplus
    give(james, 5_000_000, "gift-big")
    result_surplus = 5_000_000 - (5_011_000 - 1_000_000) - 401_100  # balance - remaining need - 10% contingency
    before = counts()
    with pytest.raises(surplus.IneligibleRecipientError, match=re.escape("Amelia P. is not eligible")):
        surplus.surplus_transfer_propose(source_child=james, actor=cw, amounts=[(amelia, 100_000)])
    with pytest.raises(surplus.NoSurplusError, match=re.escape("more than the surplus £5,879.00")):
        surplus.surplus_transfer_propose(source_child=james, actor=cw, amounts=[(noah, result_surplus + 1)])
    assert counts() == before

    # The proposer holds both roles, so only four eyes (not a missing permission) stops them approving.
    proposer = world.user("cw-fo", Role.CASEWORKER, Role.FINANCE_OFFICER)
    transfer = surplus.surplus_transfer_propose(source_child=james, actor=proposer, amounts=[(noah, 500_000)])
    assert transfer.source_surplus_pence == result_surplus == 587_900
    ranked_names = [r["name"] for r in transfer.ranking["ranked"]]
    assert "Noah B." in ranked_names and "Amelia P." not in ranked_names
    before = counts()
    with pytest.raises(FourEyesError, match="you proposed this transfer"):
        surplus.surplus_transfer_approve(transfer=transfer, actor=proposer)
    assert counts() == before
    surplus.surplus_transfer_approve(transfer=transfer, actor=f2)
    before = counts()
    with pytest.raises(FourEyesError, match="already approved"):
        surplus.surplus_transfer_approve(transfer=transfer, actor=f2)
    assert counts() == before
    assert fund_balance_pence(child_id=noah.pk) == 0
    transfer = surplus.surplus_transfer_approve(transfer=transfer, actor=trustee)
    assert transfer.state == "posted"
    assert fund_balance_pence(child_id=noah.pk) == 500_000
    assert fund_balance_pence(child_id=james.pk) == 4_500_000


# --------------------------------------------------------------------------------------------- grants
def fund_general(amount_pence: int) -> None:
    from carefund.ledger import chart
    from carefund.ledger.rules import PostingSpec
    from carefund.ledger.services import ledger_post

    ledger_post(
        kind="donation",
        postings=[
            PostingSpec(account=chart.BANK, amount_pence=amount_pence),
            PostingSpec(account=chart.GENERAL_FUND, amount_pence=-amount_pence),
        ],
        memo="Unrestricted gift",
        on_date=dt.date(2015, 4, 1),
        idempotency_key=f"general-{amount_pence}",
    )


def test_grant_is_third_tier_and_drawn_on_payment(world: World) -> None:
    from carefund.ledger import chart
    from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

    trustee = world.user("t", Role.TRUSTEE)
    f1, f2 = world.user("f1", Role.FINANCE_OFFICER), world.user("f2", Role.FINANCE_OFFICER)
    james = world.care.children["james"]
    fund_general(1_000_000)
    give(james, 100_000, "gift-grant")
    before = counts()
    with pytest.raises(ValidationError, match=re.escape("general funds hold £10,000.00")):
        services.grant_approve(child=james, amount_pence=1_000_001, reason="help", actor=trustee)
    assert counts() == before
    services.grant_approve(child=james, amount_pence=200_000, reason="Assessment gap", actor=trustee)
    line = WaterfallRun.objects.filter(care_plan__child=james).first().lines[0]  # type: ignore[union-attr]
    assert (line["fund_pence"], line["grant_pence"], line["payer"]) == (100_000, 150_000, "mixed")
    assessment = item(world, "james", "assessment")
    deliver([assessment], f1)
    inv = services.invoice_enter(
        provider=assessment.plan.provider, care_plan=assessment.plan, number="G-1", issued_on=dt.date(2015, 4, 1),
        lines=[(assessment, 250_000)], actor=f1,
    )  # fmt: skip
    services.invoice_approve(invoice=inv, actor=f2)
    services.invoice_pay(invoice=inv, actor=f2)
    assert fund_balance_pence(child_id=james.pk) == 0
    assert -account_balance_pence(name=chart.GENERAL_FUND) == 1_000_000 - 150_000
    assert world.care.children["james"].grants.get().drawn_pence == 150_000


def test_2018_programme_pays_surgery_and_capped_rehabilitation(world: World) -> None:
    from carefund.core.clock import frozen_at

    cw = world.user("cw", Role.CASEWORKER)
    nhs = world.user("nhs", Role.COMMISSIONER)
    noah = world.care.children["noah"]  # GMFCS II, 9 in August 2018: inside the 2018 policy (ages 3-9)
    with frozen_at(dt.datetime(2018, 8, 1, 10, 0)):
        req = services.funding_request_create(
            programme=world.funding.nhse_2018, care_plan=world.care.plans["noah"], actor=cw
        )
        assert req.eligible is True
        # The surgery (£10,000) plus the GMFCS II rehabilitation amount (£6,000, an assumption: not published).
        assert req.cost_pence == 1_600_000
        services.funding_request_decide(request=req, approve=True, reason="2018 policy", actor=nhs)
    run = WaterfallRun.objects.filter(care_plan__child=noah).first()
    assert run is not None and run.nhs_pence == 1_600_000
    assert run.unfunded_pence == 5_011_000 - 1_600_000
    assert [line["payer"] for line in run.lines if line["nhs_pence"]] == ["nhs", "nhs", "mixed"]


@pytest.mark.parametrize(
    ("noah_gift", "message"),
    [
        (5_011_000, "Noah B. is no longer eligible under the surplus policy (no gap: the plan is fully funded)"),
        (4_700_000, "Noah B.'s gap is now £3,110.00, less than the £5,000.00 proposed"),
    ],
)
def test_surplus_transfer_refused_at_posting_when_the_recipients_gap_closed(
    world: World, mailoutbox: list[Any], noah_gift: int, message: str
) -> None:
    # Regression: the recipient was checked only when the transfer was proposed; a gift (or another transfer) that
    # closed their gap before the second approval still moved the money, to a child who no longer needed it.
    from carefund.ledger.services import account_open

    cw = world.user("cw", Role.CASEWORKER)
    f2, trustee = world.user("f2", Role.FINANCE_OFFICER), world.user("t", Role.TRUSTEE)
    james, noah = world.care.children["james"], world.care.children["noah"]
    approve_james(world)
    give(james, 5_000_000, "gift-big")
    transfer = surplus.surplus_transfer_propose(source_child=james, actor=cw, amounts=[(noah, 500_000)])
    surplus.surplus_transfer_approve(transfer=transfer, actor=f2)
    from carefund.ledger import chart

    account_open(name=chart.child_fund(noah.pk), description="Noah's fund", child_id=noah.pk)
    give(noah, noah_gift, "gift-noah")
    before = counts()
    with pytest.raises(surplus.IneligibleRecipientError, match=re.escape(message)):
        surplus.surplus_transfer_approve(transfer=transfer, actor=trustee)
    assert counts() == before
    transfer.refresh_from_db()
    assert transfer.state == "proposed"
    assert mailoutbox == []


def test_the_donors_letter_names_only_consenting_children_and_keeps_their_dates_private(world: World) -> None:
    # Regression: the letter to the public named every recipient, with or without publicity consent, and quoted
    # the ranking's reasons (the day the child ages out, from their birthday; their surgery date).
    cw = world.user("cw", Role.CASEWORKER)
    f2, trustee = world.user("f2", Role.FINANCE_OFFICER), world.user("t", Role.TRUSTEE)
    james, noah = world.care.children["james"], world.care.children["noah"]
    approve_james(world)
    give(james, 5_000_000, "gift-big")
    transfer = surplus.surplus_transfer_propose(source_child=james, actor=cw, amounts=[(noah, 500_000)])
    surplus.surplus_transfer_approve(transfer=transfer, actor=f2)
    surplus.surplus_transfer_approve(transfer=transfer, actor=trustee)
    reasons = transfer.lines.get().reasons
    assert reasons == ["gap of £50,110.00 (+100)"]  # the snapshot keeps the reasons for staff

    noah.publicity_consent = True
    noah.save(update_fields=["publicity_consent"])
    rank = transfer.lines.get().rank
    assert f"Noah B. (£5,000.00, ranked {rank} in urgency)" in surplus.surplus_transfer_letter(transfer=transfer)
    noah.publicity_consent = False
    noah.save(update_fields=["publicity_consent"])
    letter = surplus.surplus_transfer_letter(transfer=transfer)
    assert f"another child (£5,000.00, ranked {rank} in urgency)" in letter
    assert "Noah" not in letter
    assert not any(reason in letter for reason in reasons)
    assert not re.search(r"\d{2} \w{3} \d{4}", letter)  # no dates at all


def test_an_item_invoiced_for_less_costs_what_was_charged_and_frees_the_rest(world: World) -> None:
    # Regression: an item paid at less than its planned cost kept the difference as "still needed" for ever: the
    # waterfall held it back from the fund's surplus and the campaign's target kept asking for it.
    from carefund.funding.rules import waterfall

    f1, f2 = world.user("f1", Role.FINANCE_OFFICER), world.user("f2", Role.FINANCE_OFFICER)
    james = world.care.children["james"]
    give(james, 500_000, "gift-less")
    assessment = item(world, "james", "assessment")
    assert assessment.cost_pence == 250_000
    deliver([assessment], f1)
    inv = services.invoice_enter(
        provider=assessment.plan.provider, care_plan=assessment.plan, number="L-1", issued_on=dt.date(2015, 4, 1),
        lines=[(assessment, 200_000)], actor=f1,
    )  # fmt: skip
    assessment.refresh_from_db()
    assert (assessment.state, assessment.cost_pence) == ("invoiced", 200_000)
    assert AuditEvent.objects.get(action="care_plan_item.cost_changed").details == {
        "from_pence": 250_000,
        "to_pence": 200_000,
    }
    services.invoice_approve(invoice=inv, actor=f2)
    services.invoice_pay(invoice=inv, actor=f2)
    line = next(x for x in waterfall(funding_input_for_child(james)).lines if x.item_id == assessment.pk)
    assert (line.cost_pence, line.paid_pence, line.fund_pence, line.unfunded_pence, line.payer) == (
        200_000, 200_000, 0, 0, "paid",
    )  # fmt: skip
    assert world.care.plans["james"].total_pence == 5_011_000 - 50_000


def test_an_invoice_from_a_provider_that_did_not_deliver_the_item_is_refused(world: World) -> None:
    # Regression: any provider could bill for any delivered item, and the payment went to that provider.
    from carefund.care.models import Provider

    f1 = world.user("f1", Role.FINANCE_OFFICER)
    assessment = item(world, "james", "assessment")
    deliver([assessment], f1)
    other = Provider.objects.exclude(pk=assessment.plan.provider_id).order_by("pk").first()
    assert other is not None
    before = counts()
    with pytest.raises(ValidationError, match=re.escape(f"is delivered by {assessment.plan.provider}, not {other}")):
        services.invoice_enter(
            provider=other, care_plan=assessment.plan, number="X-1", issued_on=dt.date(2015, 4, 1),
            lines=[(assessment, 250_000)], actor=f1,
        )  # fmt: skip
    assert counts() == before
    assessment.refresh_from_db()
    assert assessment.state == "delivered"


def test_a_second_plan_the_nhs_did_not_approve_is_the_charitys_to_fund(world: World) -> None:
    from carefund.care.services import care_plan_create_from_template
    from carefund.funding.rules import waterfall

    approve_james(world)
    james, first = world.care.children["james"], world.care.plans["james"]
    second = care_plan_create_from_template(
        child=james, provider=first.provider, template=first.template, start_date=dt.date(2016, 9, 1), actor=None
    )
    lines = {line.item_id: line for line in waterfall(funding_input_for_child(james)).lines}
    surgeries = {p.pk: p.items.get(category="surgery").pk for p in (first, second)}
    assert lines[surgeries[first.pk]].payer == "nhs"
    assert (lines[surgeries[second.pk]].payer, lines[surgeries[second.pk]].nhs_pence) == ("unfunded", 0)
