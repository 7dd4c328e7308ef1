"""Reads of the ledger: balances (as of any date, one index lookup each), transactions, and traceability."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from carefund.core.errors import NotFoundError, PermissionDeniedError
from carefund.core.services import audit_record
from carefund.ledger import chart
from carefund.ledger.models import Account, Posting, Transaction
from carefund.ledger.rules import FundMovement, FundTrace, allocate_fifo


def account_balance_pence(*, name: str, as_of: dt.date | None = None) -> int:
    """The balance of an account in beancount signs (debits positive), at the end of `as_of` (default: now).
    An account that was never opened has a balance of zero.

    One indexed row read either way (the maintained balance, or the latest day balance on or before `as_of`), so
    the cost does not grow with the book; `ledger check` proves both equal the sum of the postings. Plain SQL: it
    is the hottest read of the site (every campaign and fund page)."""
    with connection.cursor() as cursor:
        if as_of is None:
            cursor.execute("SELECT balance_pence FROM ledger_account WHERE name = %s", [name])
        else:
            cursor.execute(
                "SELECT b.closing_pence FROM ledger_accountdaybalance b JOIN ledger_account a ON a.id = b.account_id"
                " WHERE a.name = %s AND b.on_date <= %s ORDER BY b.on_date DESC LIMIT 1",
                [name, connection.ops.adapt_datefield_value(as_of)],
            )
        row = cursor.fetchone()
    return int(row[0]) if row is not None else 0


def fund_balance_pence(*, child_id: int, as_of: dt.date | None = None) -> int:
    """The money a child's restricted fund holds (positive), at the end of `as_of` (default: now)."""
    return -account_balance_pence(name=chart.child_fund(child_id), as_of=as_of)


@dataclass(frozen=True)
class AccountBalance:
    account: str
    type: str
    balance_pence: int
    is_restricted: bool
    child_id: int | None


def balances(*, as_of: dt.date | None = None) -> list[AccountBalance]:
    """Every account's balance (beancount signs), ordered by name."""
    accounts = list(Account.objects.order_by("name"))
    result = []
    for account in accounts:
        amount = account.balance_pence if as_of is None else account_balance_pence(name=account.name, as_of=as_of)
        result.append(
            AccountBalance(
                account=account.name,
                type=account.type,
                balance_pence=int(amount),
                is_restricted=account.is_restricted,
                child_id=account.child_id,
            )
        )
    return result


# --- Permission-checked reads for staff pages and the API ---------------------------------------------------


def _require_ledger_reader(user: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm("ledger.view_transaction"):
        raise PermissionDeniedError("reading the ledger needs the finance officer or trustee role.")


def balances_for_user(*, user: Any, as_of: dt.date | None = None) -> list[AccountBalance]:
    _require_ledger_reader(user)
    return balances(as_of=as_of)


def transactions_for_user(*, user: Any, account: str | None = None, limit: int = 100) -> list[Transaction]:
    """The latest posted transactions, optionally of one account. Listing a child's fund is a read of the child's
    record and is audited."""
    _require_ledger_reader(user)
    qs = Transaction.objects.filter(is_posted=True).order_by("-on_date", "-id")
    if account:
        found = Account.objects.filter(name=account).first()
        if found is None:
            raise NotFoundError(f"account {account!r} was not found.", field="account")
        qs = qs.filter(postings__account=found).distinct()
        if found.is_restricted:
            audit_record(actor=user, action="ledger.view_account", target=found, summary=f"Listed {found.name}")
    return list(qs[:limit])


def transaction_get_for_user(*, user: Any, transaction_id: int) -> Transaction:
    """A posted transaction with its postings; NotFoundError (a 404 at the edge) for anyone who may not read the
    ledger, so a transaction's existence is not revealed."""
    try:
        _require_ledger_reader(user)
    except PermissionDeniedError:
        raise NotFoundError(f"transaction #{transaction_id} was not found.") from None
    txn = (
        Transaction.objects.filter(pk=transaction_id, is_posted=True)
        .select_related("reverses")
        .prefetch_related("postings__account")
        .first()
    )
    if txn is None:
        raise NotFoundError(f"transaction #{transaction_id} was not found.")
    funds = sorted({p.account.name for p in txn.postings.all() if p.account.is_restricted})
    if funds:
        # a child's fund is part of the child's record: every read is audited
        audit_record(
            actor=user,
            action="ledger.view_transaction",
            target=txn,
            summary=f"Viewed transaction #{txn.pk} touching {', '.join(funds)}"[:300],
        )
    return txn


def postings_of(transaction: Transaction) -> list[tuple[str, int]]:
    return [(p.account.name, p.amount_pence) for p in transaction.postings.select_related("account").order_by("id")]


# --- Traceability ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceLink:
    """One link of a trace: `amount_pence` of a fund's money moved between this transaction and the other side."""

    transaction_id: int
    kind: str
    on_date: dt.date
    memo: str
    amount_pence: int
    child_id: int


@dataclass(frozen=True)
class ChildFundTrace:
    child_id: int
    balance_pence: int
    links: tuple[tuple[TraceLink, TraceLink], ...]  # (source, use)
    unspent: tuple[TraceLink, ...]
    unfunded_pence: int


def _fund_movements(account_id: int) -> tuple[list[FundMovement], dict[int, Transaction]]:
    rows = (
        Posting.objects.filter(account_id=account_id, transaction__is_posted=True)
        .order_by("transaction__on_date", "transaction_id", "id")
        .values_list("transaction_id", "amount_pence")
    )
    net: dict[int, int] = {}
    for txn_id, amount in rows:
        net[txn_id] = net.get(txn_id, 0) + int(amount)
    txns = Transaction.objects.in_bulk(list(net))
    movements = []
    for txn_id, amount in net.items():
        if amount == 0:
            continue
        txn = txns[txn_id]
        reverses = txn.reverses_id
        if reverses is None:
            refund_of = txn.metadata_dict().get("refund_of")
            reverses = int(refund_of) if isinstance(refund_of, int | str) and str(refund_of).isdigit() else None
        # beancount sign: a credit (negative) to the fund is money in
        movements.append(FundMovement(ref=txn_id, amount_pence=-amount, reverses=reverses))
    return movements, txns


def _trace(account: Account) -> tuple[FundTrace, dict[int, Transaction]]:
    movements, txns = _fund_movements(account.pk)
    return allocate_fifo(movements), txns


def _link(txn: Transaction, amount: int, child_id: int) -> TraceLink:
    return TraceLink(
        transaction_id=txn.pk, kind=txn.kind, on_date=txn.on_date, memo=txn.memo, amount_pence=amount, child_id=child_id
    )


def fund_trace(*, child_id: int) -> ChildFundTrace:
    """Which money paid for what in a child's restricted fund, first in, first out (docs/ledger.md)."""
    account = Account.objects.filter(name=chart.child_fund(child_id)).first()
    if account is None:
        return ChildFundTrace(child_id=child_id, balance_pence=0, links=(), unspent=(), unfunded_pence=0)
    trace, txns = _trace(account)
    links = tuple(
        (_link(txns[a.source], a.amount_pence, child_id), _link(txns[a.use], a.amount_pence, child_id))
        for a in trace.allocations
        if a.source is not None
    )
    unfunded = sum(a.amount_pence for a in trace.allocations if a.source is None)
    unspent = tuple(_link(txns[ref], pence, child_id) for ref, pence in trace.unspent)
    return ChildFundTrace(
        child_id=child_id, balance_pence=-account.balance_pence, links=links, unspent=unspent, unfunded_pence=unfunded
    )


def _funds_touched(transaction_id: int) -> list[Account]:
    return list(
        Account.objects.filter(is_restricted=True, postings__transaction_id=transaction_id).distinct().order_by("name")
    )


def gift_uses(*, transaction_id: int) -> list[TraceLink]:
    """What the money a transaction brought into restricted funds (a gift, Gift Aid, a transfer in) paid for:
    one link per spend, naming the spending transaction and how much of this money it used."""
    out: list[TraceLink] = []
    for account in _funds_touched(transaction_id):
        trace, txns = _trace(account)
        child = int(account.child_id or 0)
        out.extend(_link(txns[a.use], a.amount_pence, child) for a in trace.allocations if a.source == transaction_id)
    return out


def gift_unspent_pence(*, transaction_id: int) -> int:
    """How much of the money a transaction brought into restricted funds is still unspent."""
    total = 0
    for account in _funds_touched(transaction_id):
        trace, _ = _trace(account)
        total += sum(pence for ref, pence in trace.unspent if ref == transaction_id)
    return total


def spend_sources(*, transaction_id: int) -> list[TraceLink]:
    """The money behind a spend from restricted funds (a payment, invoice, transfer out, refund): one link per
    source transaction (a gift, Gift Aid, a transfer in) with how much of it this spend used."""
    out: list[TraceLink] = []
    for account in _funds_touched(transaction_id):
        trace, txns = _trace(account)
        child = int(account.child_id or 0)
        out.extend(
            _link(txns[a.source], a.amount_pence, child)
            for a in trace.allocations
            if a.use == transaction_id and a.source is not None
        )
    return out


def restricted_accounts() -> QuerySet[Account]:
    return Account.objects.filter(Q(is_restricted=True)).order_by("name")


def reversal_of(*, transaction: Transaction) -> Transaction | None:
    """The transaction that reversed this one, if any."""
    return Transaction.objects.filter(reverses=transaction, is_posted=True).first()


def journal_entries_for_user(*, user: Any, limit: int = 100) -> list[Any]:
    """The latest journal entries (corrections by hand), newest first, with who proposed and decided them, for a
    finance officer or trustee. An entry that moves a child's fund is part of the child's record: listing such
    entries is audited, once per read, naming the funds."""
    from carefund.ledger.models import JournalEntry

    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm("ledger.view_journalentry"):
        raise PermissionDeniedError("journal entries are for finance officers and trustees.")
    entries = list(JournalEntry.objects.select_related("proposed_by", "decided_by", "transaction")[:limit])
    funds = sorted({name for e in entries for name, _ in e.lines if chart.child_id_of(name) is not None})
    if funds:
        audit_record(
            actor=user,
            action="ledger.view_journal",
            target=None,
            summary=f"Listed journal entries touching {', '.join(funds)}"[:300],
            details={"funds": funds, "entries": [e.pk for e in entries if any(n in funds for n, _ in e.lines)]},
        )
    return entries


def account_names() -> list[str]:
    """The open accounts' names, for a journal entry's form."""
    return list(Account.objects.filter(closed_on__isnull=True).order_by("name").values_list("name", flat=True))


def journal_entries_to_decide_for_user(*, user: Any) -> list[Any]:
    """Journal entries waiting for a second person that `user` may decide (not their own), oldest first."""
    from carefund.ledger.models import JournalEntry, JournalEntryState

    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm("ledger.approve_journalentry"):
        return []
    entries = JournalEntry.objects.filter(state=JournalEntryState.PROPOSED).exclude(proposed_by=user)
    return list(entries.order_by("proposed_at", "pk"))


def memos_naming(texts: list[str]) -> int:
    """How many transactions' memos hold any of `texts`, ignoring case (for a subject-access erasure: memos are
    append-only, so they are counted and reported as kept, never changed)."""
    if not texts:
        return 0
    match = Q()
    for text in texts:
        match |= Q(memo__icontains=text)
    return Transaction.objects.filter(match).count()
