"""Payment events as production runs them: the webhook stores the event and puts its task on the database queue in
one transaction, and django-tasks-db's own worker applies it, retrying with backoff what cannot apply yet."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from carefund.campaigns import services
from carefund.campaigns.models import Donation, WebhookEvent
from carefund.campaigns.tests.factories import (
    completed_event,
    deliver,
    event_state,
    make_campaign,
    make_pending,
    refund_event,
    run_worker,
)
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import fund_balance_pence

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("db_queue")]

APPLY = "carefund.campaigns.tasks.webhook_event_apply"


@pytest.fixture
def gift() -> Donation:
    return make_pending(make_campaign(target_pence=0), amount_pence=2500)


def test_the_answer_stores_the_event_and_its_task_and_the_worker_confirms_the_gift(gift: Donation) -> None:
    assert deliver(completed_event(gift, event_id="evt_1", fee_pence=58)).status_code == 200
    [task] = DBTaskResult.objects.filter(task_path=APPLY)
    assert task.args_kwargs == {"args": [], "kwargs": {"event_pk": WebhookEvent.objects.get().pk}}
    assert Donation.objects.get(pk=gift.pk).status == "pending" and not Transaction.objects.exists()
    assert run_worker() == 2  # the event, then the receipt it put on the queue
    assert Donation.objects.get(pk=gift.pk).status == "succeeded"
    assert event_state("evt_1") == ("applied", f"gift #{gift.pk} confirmed")
    assert len(mail.outbox) == 1
    assert run_worker() == 0


def test_what_cannot_apply_yet_is_retried_with_backoff(gift: Donation) -> None:
    assert deliver(refund_event(gift, event_id="evt_refund")).status_code == 200
    before = timezone.now()
    assert run_worker() == 1
    assert event_state("evt_refund")[1].startswith("try 1 of 6 failed (Refund: no confirmed gift matches")
    [retry] = DBTaskResult.objects.filter(task_path=APPLY, status="READY")
    assert before + dt.timedelta(seconds=29) < retry.run_after < timezone.now() + dt.timedelta(seconds=31)
    assert deliver(completed_event(gift, event_id="evt_pay")).status_code == 200
    run_worker()  # the payment (and its receipt); the refund's retry is not due yet
    assert event_state("evt_refund")[0] == "queued"
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())  # 30 seconds later
    assert run_worker() == 1
    assert event_state("evt_refund") == ("applied", f"gift #{gift.pk} refunded")
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 0
    second = DBTaskResult.objects.filter(task_path=APPLY).order_by("enqueued_at")
    assert [t.status for t in second] == ["SUCCESSFUL"] * 3


def test_the_backoff_grows_fourfold(gift: Donation) -> None:
    deliver(refund_event(gift, event_id="evt_refund"))
    waits = []
    for _ in range(3):
        before = timezone.now()
        run_worker()
        retry = DBTaskResult.objects.get(task_path=APPLY, status="READY")
        waits.append(round((retry.run_after - before).total_seconds() / 30))
        DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    assert waits == [1, 4, 16]


def test_an_event_whose_worker_died_is_put_back_by_the_sweep(gift: Donation) -> None:
    """kill -9 of the worker while it ran the event: its task stays RUNNING for ever and the event's transaction
    rolled back, so the event is still queued; the sweep's requeue gives it a new task."""
    assert deliver(completed_event(gift, event_id="evt_1")).status_code == 200
    DBTaskResult.objects.filter(task_path=APPLY).update(status="RUNNING")  # claimed, then the worker died
    assert run_worker() == 0
    assert services.webhook_events_requeue_stale(older_than=dt.timedelta(minutes=15)) == 0  # not stale yet
    assert services.webhook_events_requeue_stale(older_than=dt.timedelta(0)) == 1
    run_worker()
    assert event_state("evt_1") == ("applied", f"gift #{gift.pk} confirmed")
    assert Transaction.objects.count() == 1
