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
                # Deferred to the commit: an immediate enqueue would already have kept a run here.
                assert WaterfallRun.objects.count() == 0
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


def _paid_online(world: World, client: Any, amount_pence: int) -> Any:
    """A gift to James's campaign paid on the test gateway's checkout page (a signed event through the webhook)."""
    from carefund.campaigns import services
    from carefund.campaigns.demo import seed_campaigns
    from carefund.core.roles import Role

    james = world.care.children["james"]
    campaign = seed_campaigns(child=james, caseworker=world.user("cw-online", Role.CASEWORKER), with_gifts=False)
    pending = services.donation_create_pending(
        campaign=campaign.campaign, amount_pence=amount_pence, donor_email="ann@example.org", gateway="test"
    )
    from carefund.campaigns.tests.factories import run_after_commit

    started = services.checkout_start(donation=pending, success_url="/s", cancel_url="/c")
    with run_after_commit():  # the task worker confirms the gift once the webhook's event has committed
        response = client.post(started.redirect_url, {"action": "pay"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == "succeeded"
    return pending


def test_a_gift_paid_online_keeps_a_new_waterfall_run(
    world: World, client: Any, django_capture_on_commit_callbacks: Any
):
    with django_capture_on_commit_callbacks(execute=True):
        gift = _paid_online(world, client, 42_50)
    run = WaterfallRun.objects.get()
    assert (run.reason, run.fund_balance_pence) == ("a gift was confirmed online", 42_50)
    assert run.care_plan.child == world.care.children["james"]
    assert gift.campaign.child == world.care.children["james"]


def test_a_refund_through_the_webhook_keeps_a_new_waterfall_run(
    world: World, client: Any, django_capture_on_commit_callbacks: Any
):
    from carefund.campaigns.tests.factories import deliver, refund_event

    with django_capture_on_commit_callbacks(execute=True):
        gift = _paid_online(world, client, 30_00)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(refund_event(gift), client=client)
    assert response.status_code == 200
    gift.refresh_from_db()
    assert gift.status == "refunded"
    runs = list(WaterfallRun.objects.order_by("pk").values_list("reason", "fund_balance_pence"))
    assert runs == [("a gift was confirmed online", 30_00), ("a gift was refunded", 0)]


def test_a_refused_payment_keeps_no_waterfall_run(world: World, client: Any, django_capture_on_commit_callbacks: Any):
    from carefund.campaigns.tests.factories import completed_event, deliver

    with django_capture_on_commit_callbacks(execute=True):
        gift = _paid_online(world, client, 10_00)
    kept = list(WaterfallRun.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = deliver(completed_event(gift, event_id="evt_again"), client=client)  # already confirmed
        wrong = deliver(completed_event(gift, amount_total=1), client=client)
    assert (again.status_code, wrong.status_code) == (200, 400)
    assert callbacks == []
    assert list(WaterfallRun.objects.values_list("pk", flat=True)) == kept


def test_a_recomputation_waiting_for_the_child_is_not_enqueued_again(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """With the database queue (as the server runs): a burst of changes to one child brings one waiting
    recomputation; once a worker has started it, the next change enqueues a new one (the started one may have read
    the book before that change)."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    james = world.care.children["james"]
    other = world.care.children["noah"]

    def enqueue(child_id: int) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            waterfall_recompute_after_commit(child_id=child_id, reason="a gift was confirmed online")

    def waiting(child_id: int) -> int:
        return sum(
            1
            for a in DBTaskResult.objects.filter(status=TaskResultStatus.READY).values_list("args_kwargs", flat=True)
            if a["kwargs"]["child_id"] == child_id
        )

    for _ in range(5):
        enqueue(james.pk)
    enqueue(other.pk)
    assert (waiting(james.pk), waiting(other.pk)) == (1, 1)
    DBTaskResult.objects.filter(status=TaskResultStatus.READY).update(status=TaskResultStatus.RUNNING)  # started
    enqueue(james.pk)
    assert waiting(james.pk) == 1
    assert DBTaskResult.objects.count() == 3
