"""What the services of campaigns share: the permission check, tokens, a gift's postings, and putting a task on the
queue in the transaction that makes it due."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django_tasks.base import Task

from carefund.campaigns.models import Donation
from carefund.campaigns.signals import gift_fund_changed
from carefund.core.errors import PermissionDeniedError
from carefund.ledger import chart
from carefund.ledger.services import PostingSpec


def require_perm(actor: Any, perm: str, what: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_perm(perm):
        raise PermissionDeniedError(f"you may not {what}; it needs the permission {perm}.")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def gift_postings(donation: Donation, debit_account: str, fee_pence: int = 0) -> list[PostingSpec]:
    """Dr the money's account (less the provider's fee) and fees / Cr the child's fund and the general fund."""
    postings = [
        PostingSpec(account=debit_account, amount_pence=donation.total_pence - fee_pence),
        PostingSpec(account=chart.PAYMENT_FEES, amount_pence=fee_pence),
        PostingSpec(account=chart.child_fund(donation.campaign.child_id), amount_pence=-donation.amount_pence),
        PostingSpec(account=chart.GENERAL_FUND, amount_pence=-donation.costs_contribution_pence),
    ]
    return [p for p in postings if p.amount_pence != 0]


def fee_postings(gateway: str, fee_pence: int) -> list[PostingSpec]:
    """A provider's fee on its own: Dr payment fees / Cr the gateway's clearing account (a fee learnt after the gift
    was posted, or kept by the provider on a refund or dispute)."""
    return [
        PostingSpec(account=chart.PAYMENT_FEES, amount_pence=fee_pence),
        PostingSpec(account=chart.clearing_account(gateway), amount_pence=-fee_pence),
    ]


def rows_save(rows: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Save `fields` of `rows` (one model, rows that exist) in one UPDATE: what Django's `bulk_update` writes (a
    CASE on the primary key per field), without building an expression per row and field. Raw SQL because the
    ORM's `bulk_update` was measured at a third of the worker's CPU for a batch of gifts and their events
    (cProfile of the worker over 300 events, SQLite, 2026-12-07; docs/benchmarks.md, "Giving")."""
    if not rows:
        return
    meta = rows[0]._meta
    pk = meta.pk
    assert pk is not None
    cast = connection.features.requires_casted_case_in_updates  # PostgreSQL types a CASE of parameters as text
    sets, params = [], []
    for name in fields:
        field = meta.get_field(name)
        assert isinstance(field, models.Field)
        case = f"CASE {pk.column} " + " ".join(["WHEN %s THEN %s"] * len(rows)) + " END"
        sets.append(f"{field.column} = " + (f"CAST({case} AS {field.cast_db_type(connection)})" if cast else case))
        for row in rows:
            params += [row.pk, field.get_db_prep_save(getattr(row, field.attname), connection)]
    marks = ", ".join(["%s"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {meta.db_table} SET {', '.join(sets)} WHERE {pk.column} IN ({marks})",  # noqa: S608
            [*params, *(row.pk for row in rows)],
        )


def enqueue_in_transaction(task: Task[Any, Any], **kwargs: Any) -> None:
    """Put `task` on the queue. The database queue (production's) writes its row in the caller's transaction, so
    the task commits or rolls back with the change that makes it due, and is never lost between the two. Any other
    backend (the tests' immediate one runs the task at once) is enqueued after commit."""
    from django_tasks_db.backend import DatabaseBackend

    if isinstance(task.get_backend(), DatabaseBackend):
        task.enqueue(**kwargs)
    else:
        transaction.on_commit(lambda: task.enqueue(**kwargs))


def note_fund_changed(child_id: int, change: str) -> None:
    """A gift moved a child's fund: tell the apps above (funding recomputes the child's waterfall after commit);
    in a batch, once per child at its end."""
    batch = _batch.get()
    if batch is None:
        gift_fund_changed.send(sender=Donation, child_id=child_id, change=change)
    else:
        batch.funds.setdefault(child_id, change)


def receipts_due(donation_ids: list[int]) -> None:
    """Put confirmed gifts' receipts on the queue, one task, in the confirming transaction; in a batch, one task for
    all of its gifts at its end."""
    batch = _batch.get()
    if batch is not None:
        batch.receipts += donation_ids
    elif donation_ids:
        _receipts_enqueue(donation_ids)


def _receipts_enqueue(donation_ids: list[int]) -> None:
    from carefund.campaigns.tasks import receipts_send

    enqueue_in_transaction(receipts_send, donation_ids=donation_ids)


@dataclass
class _Batch:
    receipts: list[int] = field(default_factory=list)
    funds: dict[int, str] = field(default_factory=dict)


# The batch of payment events being applied in one transaction (`batched`), if any.
_batch: ContextVar[_Batch | None] = ContextVar("carefund_campaigns_batch", default=None)


@contextmanager
def batched() -> Iterator[None]:
    """Within (one transaction applying many events), what each gift leaves to do is gathered and done once on
    leaving, still in the transaction: one receipt task for all the gifts confirmed (so a receipt is never lost,
    nor sent for a gift whose confirmation rolled back), one fund change per child."""
    batch = _Batch()
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
    if batch.receipts:
        _receipts_enqueue(batch.receipts)
    for child_id, change in batch.funds.items():
        note_fund_changed(child_id, change)


@contextmanager
def batched_part() -> Iterator[None]:
    """Around one event of a batch (in its savepoint): if it fails, the receipts it gathered are dropped with it (a
    fund change is kept: recomputing a waterfall that did not change is harmless)."""
    batch = _batch.get()
    kept = len(batch.receipts) if batch is not None else 0
    try:
        yield
    except BaseException:
        if batch is not None:
            del batch.receipts[kept:]
        raise
