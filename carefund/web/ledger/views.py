"""Ledger staff pages (finance officers, trustees): account balances as of a date, recent transactions, one
transaction with its postings and the money trace, and journal entries (corrections proposed by one person and
posted when a second approves them). Thin views over `ledger.selectors` and `ledger.services`."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from carefund.core import clock
from carefund.core.errors import DomainError, NotFoundError, PermissionDeniedError, ValidationError
from carefund.core.money import format_pence, parse_pounds
from carefund.ledger import selectors, services
from carefund.web.words import in_words

# The journal form's labels, for refusals that name a field by its code name (web/words.py).
JOURNAL_LABELS = {"memo": "What it is", "reason": "Why it is needed", "on_date": "Date", "lines": "Lines"}


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
            error = f"As of: '{as_of_text}' is not a date; use the form 2026-03-31."
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


def _parse_journal_lines(text: str) -> list[tuple[str, int]]:
    """'Account:Name, 12.50' per line (debits positive, credits with a minus sign) -> [(name, pence)]."""
    out: list[tuple[str, int]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        name, comma, amount = raw.rpartition(",")
        if not comma or not name.strip():
            raise ValidationError(
                f"lines: line {number} ({raw.strip()!r}) needs an account and an amount, for example "
                "'Expenses:PaymentFees, 20.00' or 'Assets:Clearing:Stripe, -20.00'.",
                field="lines",
            )
        amount = amount.strip()
        negative = amount.startswith("-")
        pence = parse_pounds(amount.lstrip("-").strip(), field=f"lines: line {number}")
        out.append((name.strip(), -pence if negative else pence))
    return out


@login_required
def journal(request: HttpRequest) -> HttpResponse:
    """GET: the journal entries, newest first, and a form to propose one; POST: propose it."""
    if not request.user.has_perm("ledger.view_journalentry"):
        raise PermissionDenied("Journal entries are for finance officers and trustees.")
    error = ""
    form = {"memo": "", "reason": "", "on_date": clock.today().isoformat(), "lines": ""}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            on_date = dt.date.fromisoformat(form["on_date"].strip())
        except ValueError:
            error = f"Date: '{form['on_date']}' is not a date; use the form 2026-03-31."
        else:
            try:
                entry = services.journal_entry_propose(
                    lines=_parse_journal_lines(form["lines"]),
                    memo=form["memo"],
                    reason=form["reason"],
                    on_date=on_date,
                    actor=request.user,
                )
            except PermissionDeniedError as exc:
                raise PermissionDenied(exc.message) from None
            except DomainError as exc:
                error = in_words(exc, JOURNAL_LABELS)
            else:
                messages.success(request, f"Journal entry #{entry.pk} proposed; a second person approves it.")
                return redirect("ledger:journal")
    entries = [
        {"entry": e, "lines": [(name, format_pence(pence)) for name, pence in e.lines]}
        for e in selectors.journal_entries_for_user(user=request.user)
    ]
    return render(
        request,
        "web/ledger/journal.html",
        {
            "entries": entries,
            "form": form,
            "error": error,
            "can_propose": request.user.has_perm("ledger.add_journalentry"),
            "can_decide": request.user.has_perm("ledger.approve_journalentry"),
            "accounts": selectors.account_names(),
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def journal_decide(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        entry = services.journal_entry_decide(
            entry_id=pk,
            approve=request.POST.get("decision") == "approve",
            note=request.POST.get("note", ""),
            actor=request.user,
        )
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except NotFoundError:
        raise Http404("No such journal entry.") from None
    except DomainError as exc:
        messages.error(request, f"Journal entry #{pk} was not posted: {in_words(exc, JOURNAL_LABELS)}")
    else:
        messages.success(request, f"Journal entry #{entry.pk} {entry.get_state_display().lower()}.")
    return redirect("ledger:journal")
