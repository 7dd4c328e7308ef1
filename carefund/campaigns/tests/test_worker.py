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
    confirming_fails,
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


def _three_gifts(gift: Donation) -> list[Donation]:
    return [gift, make_pending(gift.campaign, amount_pence=700), make_pending(gift.campaign, amount_pence=900)]


def test_one_task_applies_the_events_waiting_and_one_more_sends_their_receipts(gift: Donation) -> None:
    gifts = _three_gifts(gift)
    for i, g in enumerate(gifts):
        assert deliver(completed_event(g, event_id=f"evt_{i}")).status_code == 200
    assert DBTaskResult.objects.filter(task_path=APPLY, status="READY").count() == 3
    # the first event's task applies all three; the other two tasks find nothing to do; one task sends the receipts
    assert run_worker() == 4
    assert [event_state(f"evt_{i}")[0] for i in range(3)] == ["applied"] * 3
    assert not DBTaskResult.objects.filter(task_path=APPLY).exclude(status="SUCCESSFUL").exists()
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2500 + 700 + 900
    assert sorted(m.to[0] for m in mail.outbox) == sorted(g.donor_email for g in gifts)


def test_a_failing_event_in_a_batch_leaves_the_others_applied_and_only_their_receipts_sent(gift: Donation) -> None:
    first, second, third = _three_gifts(gift)
    for i, g in enumerate((first, second, third)):
        deliver(completed_event(g, event_id=f"evt_{i}"))
    with confirming_fails(second, RuntimeError("a bug")):
        run_worker()
    assert event_state("evt_0")[0] == event_state("evt_2")[0] == "applied"
    assert event_state("evt_1")[1].startswith("try 1 of 6 failed (RuntimeError: a bug)")
    assert Donation.objects.get(pk=second.pk).status == "pending"
    assert Transaction.objects.count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([first.donor_email, third.donor_email])
    DBTaskResult.objects.filter(task_path=APPLY, status="READY").update(run_after=timezone.now())  # its retry, due
    run_worker()
    assert event_state("evt_1")[0] == "applied" and Transaction.objects.count() == 3
    assert sorted(m.to[0] for m in mail.outbox) == sorted(g.donor_email for g in (first, second, third))


def test_an_event_with_two_tasks_is_applied_once_and_its_gift_receipted_once(gift: Donation) -> None:
    """The sweep's requeue gave the event a second task (its first looked lost); and the provider sent the same
    payment under another event id: one ledger transaction, one receipt."""
    deliver(completed_event(gift, event_id="evt_1"))
    services.webhook_events_requeue_stale(older_than=dt.timedelta(0))
    deliver(completed_event(gift, event_id="evt_again"))
    assert DBTaskResult.objects.filter(task_path=APPLY, status="READY").count() == 3
    run_worker()
    assert event_state("evt_1") == ("applied", f"gift #{gift.pk} confirmed")
    assert event_state("evt_again") == ("applied", f"gift #{gift.pk} confirmed")
    assert Transaction.objects.count() == 1
    assert len(mail.outbox) == 1
    assert not DBTaskResult.objects.exclude(status="SUCCESSFUL").exists()


def test_a_retry_waiting_for_its_time_is_not_applied_by_another_events_batch(gift: Donation) -> None:
    deliver(refund_event(gift, event_id="evt_refund"))
    run_worker()  # try 1 fails: no confirmed gift yet; its retry waits 30 s
    deliver(completed_event(gift, event_id="evt_pay"))
    run_worker()
    assert event_state("evt_pay")[0] == "applied"
    assert event_state("evt_refund")[1].startswith("try 1 of 6 failed")
    assert WebhookEvent.objects.get(event_id="evt_refund").attempts == 1


def test_a_full_batch_leaves_the_rest_to_their_own_tasks(gift: Donation, monkeypatch: pytest.MonkeyPatch) -> None:
    from carefund.campaigns.services import webhooks

    monkeypatch.setattr(webhooks, "BATCH_MAX", {"sqlite": 1, "postgresql": 1})  # each task applies its own event only
    for i, g in enumerate(_three_gifts(gift)):
        deliver(completed_event(g, event_id=f"evt_{i}"))
    assert run_worker() == 6  # three events, three receipts
    assert [event_state(f"evt_{i}")[0] for i in range(3)] == ["applied"] * 3
    assert len(mail.outbox) == 3
