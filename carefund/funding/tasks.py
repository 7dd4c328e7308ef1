"""Background work for funding: recompute a child's waterfall after something outside funding changed.

Campaigns and care cannot call funding (dependencies point down), so the web layer enqueues this task after a gift
is confirmed, refunded or recorded offline, and after a care-plan price changes. The computation is kept
(`WaterfallRun`), so a family can see why the numbers moved."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from carefund.care.models import Child
from carefund.funding.services import waterfall_recompute_for_child


@task()
def waterfall_recompute_child(*, child_id: int, reason: str) -> int | None:
    """Recompute the waterfall of one child; returns the id of the kept run, or None if the child has no plan."""
    child = Child.objects.filter(pk=child_id).first()
    if child is None:
        return None
    run = waterfall_recompute_for_child(child=child, reason=reason[:300], actor=None)
    return None if run is None else run.pk


def waterfall_recompute_after_commit(*, child_id: int, reason: str) -> None:
    """Enqueue the recomputation once the current transaction has committed (never for a rolled-back change),
    unless one for the child is already waiting to start: that one runs after this change committed, so it sees
    it (a burst of gifts to one child brings one recomputation, not one each).

    Robust: the change itself is already committed when this runs, so a failure to enqueue is logged rather than
    turned into an error page; the next change to the child recomputes anyway."""
    transaction.on_commit(lambda: _enqueue_unless_waiting(child_id=child_id, reason=reason), robust=True)


def _enqueue_unless_waiting(*, child_id: int, reason: str) -> None:
    if not _recompute_waiting(child_id=child_id):
        waterfall_recompute_child.enqueue(child_id=child_id, reason=reason)


def _recompute_waiting(*, child_id: int) -> bool:
    """Whether the database task queue holds a recomputation of this child that no worker has started yet (a read
    of the queue's few ready rows, through its partial index). Other backends (the tests' immediate one) never
    hold one."""
    if not isinstance(waterfall_recompute_child.get_backend(), DatabaseBackend):
        return False
    waiting = (
        DBTaskResult.objects.ready()
        .filter(task_path=waterfall_recompute_child.module_path)
        .values_list("args_kwargs", flat=True)[:200]
    )
    return any(isinstance(a, dict) and a.get("kwargs", {}).get("child_id") == child_id for a in waiting)
