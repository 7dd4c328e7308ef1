"""Ledger staff pages (finance officers, trustees): account balances as of a date, recent transactions, and one
transaction with its postings and the money trace. Thin views over `ledger.selectors`."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from carefund.core.errors import NotFoundError, PermissionDeniedError
from carefund.core.money import format_pence
from carefund.ledger import selectors


def _links(links: list[selectors.TraceLink]) -> list[dict[str, Any]]:
    return [{**asdict(link), "display": format_pence(link.amount_pence)} for link in links]


@login_required
def balances(request: HttpRequest) -> HttpResponse:
    as_of_text = request.GET.get("as_of", "").strip()
    as_of: dt.date | None = None
    error = ""
    if as_of_text:
        try:
            as_of = dt.date.fromisoformat(as_of_text)
        except ValueError:
            error = f"as_of: '{as_of_text}' is not a date; use the form 2026-03-31."
    account = request.GET.get("account", "").strip() or None
    try:
        rows = selectors.balances_for_user(user=request.user, as_of=as_of)
        recent = selectors.transactions_for_user(user=request.user, account=account, limit=25 if not account else 200)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except NotFoundError:
        raise Http404("No such account.") from None
    total = sum(r.balance_pence for r in rows)
    table = [{**asdict(r), "display": format_pence(r.balance_pence)} for r in rows]
    return render(
        request,
        "web/ledger/balances.html",
        {
            "rows": table,
            "as_of": as_of,
            "as_of_text": as_of_text,
            "error": error,
            "recent": recent,
            "account": account,
            "total_display": format_pence(total),
        },
        status=400 if error else 200,
    )


@login_required
def transaction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        txn = selectors.transaction_get_for_user(user=request.user, transaction_id=pk)
    except NotFoundError:
        raise Http404("No such transaction.") from None
    return render(
        request,
        "web/ledger/transaction.html",
        {
            "txn": txn,
            "postings": [(name, format_pence(amount)) for name, amount in selectors.postings_of(txn)],
            "reversed_by": selectors.reversal_of(transaction=txn),
            "sources": _links(selectors.spend_sources(transaction_id=txn.pk)),
            "uses": _links(selectors.gift_uses(transaction_id=txn.pk)),
        },
    )
