"""Two caseworkers take the last allocation at the same moment: exactly one wins (PostgreSQL row locks)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from carefund.core.errors import DomainError
from carefund.core.roles import Role
from carefund.funding import services
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
