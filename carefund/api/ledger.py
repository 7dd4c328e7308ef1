"""JSON API: ledger. Read endpoints for finance officers and trustees: balances (as of a date), one transaction
with its postings and money trace. Session sign-in (401 without); 403 for balances without the ledger role; a
404 for a transaction the user may not read (its existence is not revealed)."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.security import django_auth

from carefund.core.errors import NotFoundError, PermissionDeniedError
from carefund.ledger import selectors

router = Router(tags=["ledger"], auth=django_auth)


class BalanceOut(Schema):
    account: str
    balance_pence: int


class BalancesOut(Schema):
    as_of: dt.date | None
    accounts: list[BalanceOut]


class PostingOut(Schema):
    account: str
    amount_pence: int


class TraceLinkOut(Schema):
    transaction_id: int
    kind: str
    on_date: dt.date
    memo: str
    amount_pence: int
    child_id: int


class TransactionOut(Schema):
    id: int
    kind: str
    on_date: dt.date
    memo: str
    group_id: str
    idempotency_key: str
    reverses_id: int | None
    reversed_by_id: int | None
    postings: list[PostingOut]
    paid_for_with: list[TraceLinkOut]
    paid_for: list[TraceLinkOut]


@router.get("/balances", response=BalancesOut)
def balances(request: HttpRequest, as_of: dt.date | None = None) -> BalancesOut:
    """Every account's balance in beancount signs (debits positive), at the end of `as_of` (default: now)."""
    try:
        rows = selectors.balances_for_user(user=request.user, as_of=as_of)
    except PermissionDeniedError as exc:
        raise HttpError(403, exc.message) from None
    return BalancesOut(
        as_of=as_of, accounts=[BalanceOut(account=r.account, balance_pence=r.balance_pence) for r in rows]
    )


@router.get("/transactions/{transaction_id}", response=TransactionOut)
def transaction_detail(request: HttpRequest, transaction_id: int) -> TransactionOut:
    try:
        txn = selectors.transaction_get_for_user(user=request.user, transaction_id=transaction_id)
    except NotFoundError:
        raise Http404("No such transaction.") from None
    reversal = selectors.reversal_of(transaction=txn)
    return TransactionOut(
        id=txn.pk,
        kind=txn.kind,
        on_date=txn.on_date,
        memo=txn.memo,
        group_id=txn.group_id,
        idempotency_key=txn.idempotency_key,
        reverses_id=txn.reverses_id,
        reversed_by_id=reversal.pk if reversal is not None else None,
        postings=[PostingOut(account=a, amount_pence=p) for a, p in selectors.postings_of(txn)],
        paid_for_with=[TraceLinkOut(**vars(link)) for link in selectors.spend_sources(transaction_id=txn.pk)],
        paid_for=[TraceLinkOut(**vars(link)) for link in selectors.gift_uses(transaction_id=txn.pk)],
    )
