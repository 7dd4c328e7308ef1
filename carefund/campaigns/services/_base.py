"""What the services of campaigns share: the permission check, tokens, a gift's postings, and putting a task on the
queue in the transaction that makes it due."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
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
    """A gift moved a child's fund: tell the apps above (funding recomputes the child's waterfall after commit)."""
    gift_fund_changed.send(sender=Donation, child_id=child_id, change=change)
