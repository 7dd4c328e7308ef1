from __future__ import annotations

from typing import Any

import pytest

from carefund.funding.models import WaterfallRun
from carefund.funding.tasks import waterfall_recompute_after_commit, waterfall_recompute_child
from carefund.funding.tests.conftest import World, give


def test_a_gift_then_the_task_keeps_a_run_showing_the_new_fund(world: World, django_capture_on_commit_callbacks: Any):
    james = world.care.children["james"]
    give(james, 1_234_00, key="task-gift")
    with django_capture_on_commit_callbacks(execute=True):
        waterfall_recompute_after_commit(child_id=james.pk, reason="gift confirmed online")
    run = WaterfallRun.objects.get()
    assert (run.reason, run.fund_balance_pence) == ("gift confirmed online", 1_234_00)
    assert run.care_plan.child == james


def test_nothing_is_enqueued_when_the_change_rolls_back(world: World, django_capture_on_commit_callbacks: Any):
    from django.db import transaction

    james = world.care.children["james"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                waterfall_recompute_after_commit(child_id=james.pk, reason="gift confirmed online")
                raise RuntimeError("crash before commit")
        except RuntimeError:
            pass
    assert callbacks == []
    assert WaterfallRun.objects.count() == 0


@pytest.mark.parametrize("child_id", [0, 10**9])
def test_unknown_child_does_nothing(world: World, child_id: int):
    assert waterfall_recompute_child.call(child_id=child_id, reason="x") is None
    assert WaterfallRun.objects.count() == 0


def test_cancelling_an_item_on_the_care_plan_page_keeps_a_new_waterfall_run(
    world: World, client: Any, django_capture_on_commit_callbacks: Any
):
    from carefund.care.models import ItemState
    from carefund.core.roles import Role

    james = world.care.children["james"]
    plan = james.care_plans.get()
    item = plan.items.filter(state=ItemState.PLANNED).order_by("-planned_date").first()
    assert item is not None
    total_before = plan.total_pence
    client.force_login(world.user("cw-tasks", Role.CASEWORKER))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/care-plans/items/{item.pk}/state/", {"to_state": ItemState.CANCELLED})
    assert response.status_code == 302
    run = WaterfallRun.objects.get()
    assert run.reason == f"'{item.description}' moved to cancelled on the care plan"
    assert run.plan_cost_pence == total_before - item.cost_pence


def test_an_offline_gift_recorded_on_the_staff_page_keeps_a_new_waterfall_run(
    world: World, client: Any, django_capture_on_commit_callbacks: Any
):
    from carefund.campaigns.demo import seed_campaigns
    from carefund.core.roles import Role

    james = world.care.children["james"]
    worker = world.user("cw-offline", Role.CASEWORKER)
    campaign = seed_campaigns(child=james, caseworker=worker, with_gifts=False).campaign
    client.force_login(worker)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/staff/campaigns/{campaign.slug}/offline/",
            {"form": "single", "one-amount": "20", "one-kind": "cheque", "one-received_on": "2015-04-01"},
        )
    assert response.status_code == 302
    run = WaterfallRun.objects.get(reason="an offline gift was recorded")
    assert run.fund_balance_pence == 20_00
