"""Two caseworkers take the last allocation at the same moment: exactly one wins (PostgreSQL row locks)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from carefund.core.errors import DomainError
from carefund.core.roles import Role
from carefund.funding import services, surplus
from carefund.funding.models import Allocation, FundingRequest
from carefund.funding.tests.conftest import World


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_decisions_on_the_last_allocation_exactly_one_wins(world: World) -> None:
    cw = world.user("cw", Role.CASEWORKER)
    deciders = [world.user("nhs1", Role.COMMISSIONER), world.user("nhs2", Role.COMMISSIONER)]
    notts = Allocation.objects.get(programme=world.funding.cte, centre__slug="nottingham-university")
    services.allocation_cut(allocation=notts, procedures=23, reason="One left", actor=deciders[0])
    noah_plan = world.care.plans["noah"]
    noah_plan.provider = notts.centre
    noah_plan.save()
    requests = [
        services.funding_request_create(programme=world.funding.cte, care_plan=plan, actor=cw)
        for plan in (world.care.plans["james"], noah_plan)
    ]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(request: FundingRequest, actor: Any) -> None:
        try:
            barrier.wait()
            services.funding_request_decide(request=request, approve=True, reason="last one", actor=actor)
            outcomes.append("approved")
        except DomainError as exc:
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(r, a)) for r, a in zip(requests, deciders, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["AllocationExhaustedError", "approved"]
    assert FundingRequest.objects.filter(status="approved").count() == 1
    assert FundingRequest.objects.filter(status="pending").count() == 1


def _race(calls: list[Any]) -> list[str]:
    """Run each call in its own thread, all released at once; return the outcomes (sorted)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Any) -> None:
        try:
            barrier.wait()
            call()
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_trustees_cannot_promise_the_same_general_funds_at_once(world: World) -> None:
    # Regression: the grant check locked only the existing grants; with none yet, both promises passed.
    from carefund.funding.models import Grant
    from carefund.funding.tests.test_services import fund_general

    fund_general(1_000_000)
    trustees = [world.user("t1", Role.TRUSTEE), world.user("t2", Role.TRUSTEE)]
    children = [world.care.children["james"], world.care.children["noah"]]
    outcomes = _race(
        [
            (lambda c=c, t=t: services.grant_approve(child=c, amount_pence=600_000, reason="gap", actor=t))
            for c, t in zip(children, trustees, strict=True)
        ]
    )
    assert outcomes == ["ValidationError", "ok"]
    assert Grant.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transfers_cannot_both_fill_one_childs_gap(world: World) -> None:
    # Regression: each transfer checked the recipient's gap only when proposed, so two sources could both fill it.
    from carefund.funding.models import SurplusTransfer
    from carefund.funding.tests.conftest import give
    from carefund.funding.tests.test_services import approve_james
    from carefund.ledger.selectors import fund_balance_pence

    cw = world.user("cw", Role.CASEWORKER)
    f2, trustee = world.user("f2", Role.FINANCE_OFFICER), world.user("t", Role.TRUSTEE)
    james, oliver, noah = (world.care.children[k] for k in ("james", "oliver", "noah"))
    approve_james(world)
    give(james, 5_000_000, "gift-james")
    give(oliver, 6_100_000, "gift-oliver")  # £50,110 plan + 10% contingency leaves £5,879 surplus
    transfers = []
    for source, amount in ((james, 500_000), (oliver, 500_000)):
        transfers.append(surplus.surplus_transfer_propose(source_child=source, actor=cw, amounts=[(noah, amount)]))
    # Close Noah's gap to less than both transfers together (it is the plan's £50,110 less what he holds).
    give(noah, 5_011_000 - 700_000, "gift-noah")
    for transfer in transfers:
        surplus.surplus_transfer_approve(transfer=transfer, actor=f2)
    outcomes = _race([(lambda t=t: surplus.surplus_transfer_approve(transfer=t, actor=trustee)) for t in transfers])
    assert outcomes == ["IneligibleRecipientError", "ok"]
    assert SurplusTransfer.objects.filter(state="posted").count() == 1
    assert fund_balance_pence(child_id=noah.pk) == 5_011_000 - 700_000 + 500_000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_caseworkers_asking_for_the_same_plan_at_once_get_one_request_and_a_conflict(world: World) -> None:
    # Regression: both passed the "already has an open request" check and the loser hit the database's unique
    # constraint as an IntegrityError (a 500 on the page) instead of a clear refusal.
    caseworkers = [world.user("cw1", Role.CASEWORKER), world.user("cw2", Role.CASEWORKER)]
    plan = world.care.plans["james"]
    outcomes = _race(
        [
            (lambda a=a: services.funding_request_create(programme=world.funding.cte, care_plan=plan, actor=a))
            for a in caseworkers
        ]
    )
    assert outcomes == ["ConflictError", "ok"]
    assert FundingRequest.objects.filter(care_plan=plan).count() == 1
