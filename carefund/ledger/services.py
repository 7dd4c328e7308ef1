"""The ledger's writers. `ledger_post` is the only way money enters the book; `ledger_reverse` posts the exact
opposite of a transaction, once; `account_open` and `account_close` manage the chart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import F

from carefund.core import clock
from carefund.core.errors import NotFoundError
from carefund.core.money import MAX_AMOUNT_PENCE, format_pence
from carefund.core.services import audit_record, audit_record_many
from carefund.ledger import chart
from carefund.ledger.errors import (
    AlreadyReversedError,
    ClosedAccountError,
    FundOverdrawnError,
    IdempotencyConflictError,
    InvalidAccountNameError,
    LedgerError,
    UnbalancedTransactionError,
    UnknownAccountError,
)
from carefund.ledger.models import Account, AccountDayBalance, Posting, Transaction, TransactionKind
from carefund.ledger.rules import PostingSpec, content_hash, net_by_account, unbalanced_reason

__all__ = [
    "LedgerEntry",
    "PostingSpec",
    "account_close",
    "account_open",
    "ledger_post",
    "ledger_post_many",
    "ledger_reverse",
]

_MAX_KEY = 200
_KINDS = frozenset(TransactionKind.values)  # TransactionKind.values builds a new list on every access


def _open_account_row(*, name: str, description: str, child_id: int | None, on_date: dt.date) -> Account:
    if not chart.is_valid_name(name):
        raise InvalidAccountNameError(
            f"account name {name!r} is not valid: it must start with Assets, Liabilities, Equity, Income or "
            "Expenses, and each component after a colon must start with a capital letter or a digit and contain "
            "only letters, digits and hyphens (for example 'Assets:Bank:Current').",
            field="name",
        )
    named_child = chart.child_id_of(name)
    if child_id is not None and named_child != child_id:
        raise InvalidAccountNameError(
            f"child_id {child_id} does not match account name {name!r}; a child's restricted fund is named "
            f"{chart.child_fund(child_id)!r}.",
            field="child_id",
        )
    account, _ = Account.objects.get_or_create(
        name=name,
        defaults={
            "type": chart.account_type_of(name).value,
            "description": description or chart.default_description(name),
            "child_id": named_child,
            "is_restricted": named_child is not None,
            "opened_on": on_date,
        },
    )
    return account


@transaction.atomic
def account_open(
    *, name: str, description: str = "", child_id: int | None = None, actor: Any = None, on_date: dt.date | None = None
) -> Account:
    """Open an account (idempotent: an open account of that name is returned as it is).

    A name of the form "Equity:Fund:Restricted:Child-<id>" opens that child's restricted fund."""
    existing = Account.objects.filter(name=name).first()
    if existing is not None:
        if child_id is not None and existing.child_id != child_id:
            raise InvalidAccountNameError(
                f"account {name!r} belongs to child {existing.child_id}, not child {child_id}.", field="child_id"
            )
        return existing
    account = _open_account_row(name=name, description=description, child_id=child_id, on_date=on_date or clock.today())
    audit_record(actor=actor, action="ledger.account_open", target=account, summary=f"Opened {name}")
    return account


@transaction.atomic
def account_close(*, name: str, on_date: dt.date | None = None, actor: Any = None) -> Account:
    """Close an account with a zero balance; no posting may name it afterwards."""
    account = Account.objects.select_for_update().filter(name=name).first()
    if account is None:
        raise UnknownAccountError(f"account {name!r} does not exist; only an open account can be closed.", field="name")
    if account.closed_on is not None:
        return account
    if account.balance_pence != 0:
        raise ClosedAccountError(
            f"account {name!r} holds {account.balance_pence} pence; only an account with a zero balance can be closed.",
            field="name",
        )
    account.closed_on = on_date or clock.today()
    account.save(update_fields=["closed_on"])
    audit_record(actor=actor, action="ledger.account_close", target=account, summary=f"Closed {name}")
    return account


def _normalise(postings: Sequence[PostingSpec]) -> list[PostingSpec]:
    out: list[PostingSpec] = []
    for i, p in enumerate(postings):
        if isinstance(p, PostingSpec):
            out.append(p)
        elif isinstance(p, tuple | list) and len(p) == 2:
            out.append(PostingSpec(account=str(p[0]), amount_pence=p[1]))
        else:
            raise UnbalancedTransactionError(
                f"postings[{i}] must be a PostingSpec(account, amount_pence), got {p!r}.", field="postings"
            )
    return out


def _find_existing(*, idempotency_key: str, fingerprint: str) -> Transaction | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, content_hash FROM ledger_transaction WHERE idempotency_key = %s", [idempotency_key])
        row = cursor.fetchone()
    if row is None:
        return None
    existing = Transaction.objects.get(pk=row[0])
    if existing.content_hash != fingerprint:
        raise IdempotencyConflictError(
            f"idempotency_key {idempotency_key!r} was already used for transaction #{existing.pk} "
            f"({existing.kind} of {existing.on_date}) with different postings, date, kind or group; "
            "a different business event needs a different key.",
            field="idempotency_key",
        )
    return existing


@dataclass(slots=True)
class _Locked:
    """The fields of a locked account row that ledger_post needs (read with one query, no model instances)."""

    id: int
    name: str
    is_restricted: bool
    closed_on: dt.date | None
    balance_pence: int
    last_day: dt.date | None


def _as_date(value: object) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _row_to_locked(row: Sequence[Any], delta: int) -> _Locked:
    """An account row as returned by the balance UPDATE (new balance), turned back into the state before it."""
    return _Locked(int(row[0]), row[1], bool(row[2]), _as_date(row[3]), int(row[4]) - delta, _as_date(row[5]))


@lru_cache(maxsize=64)
def _balance_sql(vendor: str, n_names: int, n_moved: int) -> str:
    """The text of _move_balances's statement for `n_names` accounts of which `n_moved` move (built once per shape:
    only placeholders are formatted into it; names and amounts are parameters)."""
    cases = " ".join(["WHEN %s THEN %s"] * n_names)
    sets = f"balance_pence = balance_pence + (CASE name {cases} END)"
    if n_moved:
        # when every account moves (the common case) the names need not be listed again
        sets += ", last_day = CASE WHEN "
        if n_moved < n_names:
            sets += f"name IN ({', '.join(['%s'] * n_moved)}) AND "
        sets += "(last_day IS NULL OR last_day < %s) THEN %s ELSE last_day END"
    marks = ", ".join(["%s"] * n_names)
    returning = " RETURNING id, name, is_restricted, closed_on, balance_pence, last_day"
    if vendor == "postgresql":
        return (
            f"WITH locked AS (SELECT id FROM ledger_account WHERE name IN ({marks}) ORDER BY name FOR UPDATE) "  # noqa: S608
            f"UPDATE ledger_account SET {sets} FROM locked WHERE ledger_account.id = locked.id"
            + returning.replace(" id,", " ledger_account.id,")
        )
    return f"UPDATE ledger_account SET {sets} WHERE name IN ({marks})" + returning  # noqa: S608


def _move_balances(cursor: CursorWrapper, net: dict[str, int], *, on_date: dt.date) -> dict[str, _Locked]:
    """Lock the accounts and move their maintained balances in one statement (balance = balance + delta),
    returning each account as it was before the move. On PostgreSQL the rows are locked in name order first (in the
    same statement) so that concurrent writers cannot deadlock; on SQLite the IMMEDIATE transaction already holds
    the write lock. `last_day` moves forward to `on_date` for accounts the transaction moves."""
    names = sorted(net)
    moved = [name for name in names if net[name] != 0]
    db = cursor.db
    params: list[Any] = []
    for name in names:
        params += [name, net[name]]
    if moved:
        day = db.ops.adapt_datefield_value(on_date)
        params += [*moved, day, day] if len(moved) < len(names) else [day, day]
    params = [*names, *params] if db.vendor == "postgresql" else [*params, *names]
    cursor.execute(_balance_sql(db.vendor, len(names), len(moved)), params)
    return {row[1]: _row_to_locked(row, net[row[1]]) for row in cursor.fetchall()}


def _lock_accounts(cursor: CursorWrapper, net: dict[str, int], *, on_date: dt.date) -> dict[str, _Locked]:
    """Move the maintained balances of the accounts (opening chart accounts on first use) and return them as they
    were before; refuse a closed account. Everything happens inside ledger_post's atomic block, so a refusal
    afterwards undoes the move."""
    found = _move_balances(cursor, net, on_date=on_date)
    missing = [name for name in sorted(net) if name not in found]
    if missing:
        for name in missing:
            if not chart.is_valid_name(name):
                raise InvalidAccountNameError(
                    f"posting account {name!r} is not a valid account name (for example 'Assets:Bank:Current').",
                    field="postings",
                )
            if not chart.is_chart_name(name):
                raise UnknownAccountError(
                    f"account {name!r} has not been opened; open it with account_open, or post to an account of "
                    "the chart (docs/ledger.md).",
                    field="postings",
                )
        for name in missing:
            _open_account_row(name=name, description="", child_id=None, on_date=on_date)
        found.update(_move_balances(cursor, {name: net[name] for name in missing}, on_date=on_date))
    for name in sorted(net):
        if found[name].closed_on is not None:
            raise ClosedAccountError(
                f"account {name!r} was closed on {found[name].closed_on}; post to an open account instead.",
                field="postings",
            )
    return found


@lru_cache(maxsize=64)
def _day_balance_sql(n_rows: int) -> str:
    rows = ", ".join(["(%s, %s, %s)"] * n_rows)
    sql = f"INSERT INTO ledger_accountdaybalance (account_id, on_date, closing_pence) VALUES {rows}"  # noqa: S608
    return sql + " ON CONFLICT (account_id, on_date) DO UPDATE SET closing_pence = excluded.closing_pence"


def _apply_day_balances(
    cursor: CursorWrapper, accounts: Sequence[_Locked], on_date: dt.date, moved: dict[str, int]
) -> None:
    """Move the maintained closing balances from `on_date` onwards. The account rows are locked and fresh, so
    `last_day` and `balance_pence` are exact. In the common case (a posting on or after an account's latest day)
    the day's closing balance is simply the new balance: one upsert for all such accounts."""
    current = [a for a in accounts if a.last_day is None or on_date >= a.last_day]
    if current:
        day = cursor.db.ops.adapt_datefield_value(on_date)
        params: list[Any] = []
        for account in current:
            params += [account.id, day, account.balance_pence + moved[account.name]]
            account.last_day = on_date
        cursor.execute(_day_balance_sql(len(current)), params)
    done = {a.id for a in current}
    for account in accounts:
        if account.id not in done:
            _apply_back_dated(account, on_date, moved[account.name])


def _apply_back_dated(account: _Locked, on_date: dt.date, delta: int) -> None:
    # a back-dated posting: this day and every later day move
    before = (
        AccountDayBalance.objects.filter(account_id=account.id, on_date__lte=on_date)
        .order_by("-on_date")
        .values_list("on_date", "closing_pence")
        .first()
    )
    AccountDayBalance.objects.filter(account_id=account.id, on_date__gte=on_date).update(
        closing_pence=F("closing_pence") + delta
    )
    if before is None or before[0] != on_date:
        AccountDayBalance.objects.create(
            account_id=account.id, on_date=on_date, closing_pence=(before[1] if before is not None else 0) + delta
        )


def _check_restricted(account: _Locked, on_date: dt.date, delta: int) -> None:
    """A restricted fund holds money as a credit (negative balance); it must never be positive (overdrawn) at any
    point of the book's order (date, then transaction): now, and for a back-dated spend after every later posting."""
    if not account.is_restricted or delta <= 0:
        return
    overdrawn_on: dt.date | None = None
    if account.balance_pence + delta > 0:
        overdrawn_on = on_date
    elif account.last_day is not None and on_date < account.last_day:
        on_day = (
            AccountDayBalance.objects.filter(account_id=account.id, on_date__lte=on_date)
            .order_by("-on_date")
            .values_list("closing_pence", flat=True)
            .first()
        )
        running = (on_day or 0) + delta
        if running > 0:
            overdrawn_on = on_date
        else:
            # A back-dated spend sits at the end of its day; every later posting, in the book's order (date, then
            # transaction), must still find the fund at or above zero, not only each day's closing balance.
            later = (
                Posting.objects.filter(
                    account_id=account.id, transaction__is_posted=True, transaction__on_date__gt=on_date
                )
                .order_by("transaction__on_date", "transaction_id", "id")
                .values_list("transaction__on_date", "amount_pence")
            )
            for day, amount in later.iterator(chunk_size=2000):
                running += amount
                if running > 0:
                    overdrawn_on = day
                    break
    if overdrawn_on is not None:
        available = -account.balance_pence
        raise FundOverdrawnError(
            f"the restricted fund {account.name} would go below zero (on {overdrawn_on}): it holds "
            f"{available} pence now and this transaction takes {delta} pence out; a restricted fund can only "
            "spend money it holds.",
            field="postings",
        )


def _prepare(
    *,
    kind: str,
    postings: Sequence[PostingSpec],
    memo: str,
    on_date: dt.date,
    idempotency_key: str,
    group_id: str,
    reverses: Transaction | None,
) -> tuple[list[PostingSpec], str]:
    """Validate one transaction's input (no database); return its postings and content fingerprint."""
    if kind not in _KINDS:
        raise UnbalancedTransactionError(
            f"kind {kind!r} is not a transaction kind; use one of {', '.join(TransactionKind.values)}.", field="kind"
        )
    if not isinstance(on_date, dt.date) or isinstance(on_date, dt.datetime):
        raise UnbalancedTransactionError(f"on_date must be a date, got {on_date!r}.", field="on_date")
    if not idempotency_key or len(idempotency_key) > _MAX_KEY:
        raise UnbalancedTransactionError(
            f"idempotency_key must be 1 to {_MAX_KEY} characters naming the business event (for example "
            "'donation-42').",
            field="idempotency_key",
        )
    if not memo or not memo.strip():
        raise UnbalancedTransactionError("memo must say what the transaction is, in words.", field="memo")
    specs = _normalise(postings)
    reason = unbalanced_reason(specs)
    if reason is not None:
        raise UnbalancedTransactionError(reason, field="postings")
    fingerprint = content_hash(
        kind=kind,
        on_date=on_date,
        postings=specs,
        group_id=group_id,
        reverses_id=reverses.pk if reverses is not None else None,
    )
    return specs, fingerprint


def ledger_post(
    *,
    kind: str,
    postings: Sequence[PostingSpec],
    memo: str,
    on_date: dt.date,
    idempotency_key: str,
    group_id: str = "",
    actor: Any = None,
    metadata: dict[str, Any] | None = None,
    reverses: Transaction | None = None,
) -> Transaction:
    """Post one balanced transaction: the only writer of the book. Atomic: all of it or nothing.

    Refuses (raising a LedgerError and writing nothing) unbalanced or zero postings, fewer than two postings,
    unknown or closed accounts, and a restricted fund going below zero. The same idempotency key with the same
    content returns the existing transaction; with different content it raises IdempotencyConflictError."""
    specs, fingerprint = _prepare(
        kind=kind,
        postings=postings,
        memo=memo,
        on_date=on_date,
        idempotency_key=idempotency_key,
        group_id=group_id,
        reverses=reverses,
    )
    try:
        with transaction.atomic():
            return _post(
                kind=kind,
                specs=specs,
                memo=memo.strip()[:300],
                on_date=on_date,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                group_id=group_id,
                actor=actor,
                metadata=metadata or {},
                reverses=reverses,
            )
    except _KeyExistsError:
        existing = _find_existing(idempotency_key=idempotency_key, fingerprint=fingerprint)
        if existing is None:  # pragma: no cover - the conflicting row is committed or ours, so it is visible
            raise IntegrityError(
                f"idempotency_key {idempotency_key!r} conflicted but no transaction holds it"
            ) from None
        return existing
    except LedgerError:
        # A refusal (overdrawn, closed account ...) of a key already posted: the retry returns what was posted
        # (or refuses different content), as if the key had been looked up first.
        existing = _find_existing(idempotency_key=idempotency_key, fingerprint=fingerprint)
        if existing is not None:
            return existing
        raise
    except IntegrityError:
        # A concurrent writer posted the same key (or reversed the same transaction) first and committed.
        again = _find_existing(idempotency_key=idempotency_key, fingerprint=fingerprint)
        if again is not None:
            return again
        if reverses is not None and Transaction.objects.filter(reverses=reverses).exists():
            raise AlreadyReversedError(
                f"transaction #{reverses.pk} has already been reversed; a transaction is reversed once.",
                field="transaction",
            ) from None
        raise


_INSERT_TRANSACTION = (
    "INSERT INTO ledger_transaction (kind, on_date, memo, group_id, reverses_id, idempotency_key, content_hash,"
    " metadata, is_posted, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (idempotency_key) DO NOTHING"
)
_MARK_POSTED = "UPDATE ledger_transaction SET is_posted = %s WHERE id = %s"


@lru_cache(maxsize=64)
def _postings_sql(n_rows: int) -> str:
    rows = ", ".join(["(%s, %s, %s)"] * n_rows)
    return f"INSERT INTO ledger_posting (transaction_id, account_id, amount_pence) VALUES {rows}"  # noqa: S608


def _transaction_row(db: BaseDatabaseWrapper, values: list[Any]) -> Transaction:
    """A Transaction instance for a row just written, without a query. The values are in the order of the model's
    concrete fields (id, kind, on_date, memo, group_id, reverses_id, idempotency_key, content_hash, metadata,
    is_posted, created_at): positional construction, as Django builds instances from query rows, is the fast path
    of Model.__init__."""
    txn = Transaction(*values)
    txn._state.adding = False
    txn._state.db = db.alias
    return txn


def _post(
    *,
    kind: str,
    specs: list[PostingSpec],
    memo: str,
    on_date: dt.date,
    idempotency_key: str,
    fingerprint: str,
    group_id: str,
    actor: Any,
    metadata: dict[str, Any],
    reverses: Transaction | None,
) -> Transaction:
    db = connections[DEFAULT_DB_ALIAS]  # resolved once: each attribute of the `connection` proxy is a lookup
    ops = db.ops
    created_at = clock.now()
    reverses_id = reverses.pk if reverses is not None else None
    net = net_by_account(specs)
    # One cursor for all of the statements below (each cursor costs Django's wrapping and checks).
    with db.cursor() as cursor:
        # Lock the accounts and move their balances first, so that transaction ids follow the order in which
        # writers hold the accounts (the book's order is date, then id; the restricted-fund check relies on it).
        accounts = _lock_accounts(cursor, net, on_date=on_date)
        for name in sorted(net):
            if net[name] > 0 and accounts[name].is_restricted:  # money out of a restricted fund: check it
                _check_restricted(accounts[name], on_date, net[name])
        # The unique idempotency key decides: a second post of the same key inserts nothing (a concurrent one waits
        # on the unique index for the first to commit); ledger_post then rolls this attempt back and returns the
        # existing transaction, or refuses different content. This replaces a separate lookup before the insert.
        day = ops.adapt_datefield_value(on_date)
        sqlite = db.vendor == "sqlite"
        cursor.execute(
            _INSERT_TRANSACTION if sqlite else _INSERT_TRANSACTION + " RETURNING id",
            [
                kind,
                day,
                memo,
                group_id,
                reverses_id,
                idempotency_key,
                fingerprint,
                ops.adapt_json_value(metadata, None),
                False,
                ops.adapt_datetimefield_value(created_at),
            ],
        )
        if sqlite:  # one row inserted or none; SQLite tells its id without a RETURNING row to fetch
            txn_id = int(cursor.lastrowid) if cursor.rowcount == 1 else None
        else:
            inserted = cursor.fetchone()
            txn_id = int(inserted[0]) if inserted is not None else None
        if txn_id is None:
            raise _KeyExistsError
        params: list[Any] = []
        for p in specs:
            params += [txn_id, accounts[p.account].id, p.amount_pence]
        cursor.execute(_postings_sql(len(specs)), params)
        # marking it posted is where SQLite's trigger checks the sum; after this nothing of it may change
        cursor.execute(_MARK_POSTED, [True, txn_id])
        moved = {name: delta for name, delta in net.items() if delta != 0}
        _apply_day_balances(cursor, [accounts[name] for name in sorted(moved)], on_date, moved)

        txn = _transaction_row(
            db,
            [
                txn_id,
                kind,
                on_date,
                memo,
                group_id,
                reverses_id,
                idempotency_key,
                fingerprint,
                metadata,
                True,
                created_at,
            ],
        )
        if reverses is not None:
            txn.reverses = reverses  # the instance the caller passed, as before (no query on txn.reverses)
        # the same row as audit_record, without an AuditEvent instance nobody reads, on this cursor, stamped with the
        # transaction's own instant
        details = {"postings": [[p.account, p.amount_pence] for p in specs], "group_id": group_id}
        audit_record_many(
            actor=actor,
            events=[("ledger.post", txn, f"{kind} {on_date}: {memo}"[:300], details)],
            cursor=cursor,
            at=created_at,
        )
    return txn


@dataclass(frozen=True)
class LedgerEntry:
    """One transaction for `ledger_post_many`: the same arguments as `ledger_post` (no reversals)."""

    kind: str
    postings: Sequence[PostingSpec]
    memo: str
    on_date: dt.date
    idempotency_key: str
    group_id: str = ""
    metadata: dict[str, Any] | None = None


class _KeyExistsError(Exception):
    """The idempotency key is already posted: roll back this attempt and return the existing transaction."""


class _NotSimpleError(Exception):
    """ledger_post_many's set-based path does not apply; post the entries one by one instead."""


def ledger_post_many(*, entries: Sequence[LedgerEntry], actor: Any = None) -> list[Transaction]:
    """Post several transactions at once, with exactly the result of calling `ledger_post` for each in order
    (same rows, same refusals, same idempotency), but in a constant number of statements when they are simple:
    all new keys, one date, no reversal, every account open, no day before an account's latest day and no money
    taken out of a restricted fund. Then the balance of each account moves once by the sum of its postings (one
    UPDATE), the postings go in one INSERT and the audit events in another. Anything else falls back to
    `ledger_post` per entry (which raises the refusal, if any). Atomic: all of them or none."""
    prepared = [
        _prepare(
            kind=e.kind,
            postings=e.postings,
            memo=e.memo,
            on_date=e.on_date,
            idempotency_key=e.idempotency_key,
            group_id=e.group_id,
            reverses=None,
        )
        for e in entries
    ]
    with transaction.atomic():
        if len(entries) > 1:
            try:
                with transaction.atomic():
                    return _post_many(entries, prepared, actor)
            except (_NotSimpleError, LedgerError):
                pass  # the savepoint rolled back: the one-by-one path below decides, with its own refusals
        return [
            ledger_post(
                kind=e.kind,
                postings=e.postings,
                memo=e.memo,
                on_date=e.on_date,
                idempotency_key=e.idempotency_key,
                group_id=e.group_id,
                actor=actor,
                metadata=e.metadata,
            )
            for e in entries
        ]


def _post_many(
    entries: Sequence[LedgerEntry], prepared: list[tuple[list[PostingSpec], str]], actor: Any
) -> list[Transaction]:
    on_date = entries[0].on_date
    keys = [e.idempotency_key for e in entries]
    if any(e.on_date != on_date for e in entries) or len(set(keys)) != len(keys):
        raise _NotSimpleError
    total: dict[str, int] = {}
    for specs, _ in prepared:
        for name, delta in net_by_account(specs).items():
            total[name] = total.get(name, 0) + delta
            if delta > 0 and chart.child_id_of(name) is not None:
                raise _NotSimpleError  # money out of a restricted fund: checked entry by entry
    db = connections[DEFAULT_DB_ALIAS]
    ops = db.ops
    with db.cursor() as cursor:
        accounts = _lock_accounts(cursor, total, on_date=on_date)
        if any(a.last_day is not None and a.last_day > on_date for a in accounts.values()):
            raise _NotSimpleError  # back-dated for some account
        for name in sorted(total):
            _check_restricted(accounts[name], on_date, total[name])
        created_at = clock.now()
        day = ops.adapt_datefield_value(on_date)
        when = ops.adapt_datetimefield_value(created_at)
        params: list[Any] = []  # the transactions, inserted once the accounts are held (ids follow the lock order)
        for e, (_, fingerprint) in zip(entries, prepared, strict=True):
            params += [e.kind, day, e.memo.strip()[:300], e.group_id, e.idempotency_key, fingerprint]
            params += [ops.adapt_json_value(e.metadata or {}, None), False, when]
        rows = ", ".join(["(%s, %s, %s, %s, NULL, %s, %s, %s, %s, %s)"] * len(entries))
        sql = "INSERT INTO ledger_transaction (kind, on_date, memo, group_id, reverses_id, idempotency_key,"
        sql += f" content_hash, metadata, is_posted, created_at) VALUES {rows}"
        sql += " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key"
        cursor.execute(sql, params)
        ids = {key: int(txn_id) for txn_id, key in cursor.fetchall()}
        if len(ids) != len(entries):
            raise _NotSimpleError  # a key already posted: ledger_post returns it or refuses it
        params = []
        for e, (specs, _) in zip(entries, prepared, strict=True):
            for p in specs:
                params += [ids[e.idempotency_key], accounts[p.account].id, p.amount_pence]
        cursor.execute(_postings_sql(len(params) // 3), params)
        # marking them posted is where SQLite's trigger checks each one's sum; after this nothing of them may change
        marks = ", ".join(["%s"] * len(entries))
        cursor.execute(f"UPDATE ledger_transaction SET is_posted = %s WHERE id IN ({marks})", [True, *ids.values()])  # noqa: S608
        moved = {name: delta for name, delta in total.items() if delta != 0}
        _apply_day_balances(cursor, [accounts[name] for name in sorted(moved)], on_date, moved)
    out: list[Transaction] = []
    audits: list[tuple[str, Any, str, dict[str, Any]]] = []
    for e, (specs, fingerprint) in zip(entries, prepared, strict=True):
        memo = e.memo.strip()[:300]
        values = [ids[e.idempotency_key], e.kind, on_date, memo, e.group_id, None, e.idempotency_key, fingerprint]
        txn = _transaction_row(db, [*values, e.metadata or {}, True, created_at])
        out.append(txn)
        details = {"postings": [[p.account, p.amount_pence] for p in specs], "group_id": e.group_id}
        audits.append(("ledger.post", txn, f"{e.kind} {on_date}: {memo}"[:300], details))
    audit_record_many(actor=actor, events=audits)
    return out


@transaction.atomic
def ledger_reverse(
    *,
    transaction: Transaction,
    memo: str,
    on_date: dt.date,
    idempotency_key: str | None = None,
    actor: Any = None,
    kind: str = TransactionKind.REVERSAL,
) -> Transaction:
    """Post the exact opposite of `transaction`, linked to it; a transaction is reversed once.

    Refused if it is already reversed (AlreadyReversedError) or if undoing it would take a restricted fund below
    zero (FundOverdrawnError, for example refunding a gift the fund has already spent). The same call again
    (same idempotency key) returns the existing reversal."""
    original = Transaction.objects.filter(pk=transaction.pk).first()
    if original is None or not original.is_posted:
        raise NotFoundError(
            f"transaction #{transaction.pk} is not a posted transaction; only posted transactions can be reversed.",
            field="transaction",
        )
    key = idempotency_key or f"reversal-of-{original.pk}"
    prior = Transaction.objects.filter(reverses=original).first()
    if prior is not None:
        if prior.idempotency_key == key:
            return prior
        raise AlreadyReversedError(
            f"transaction #{original.pk} ({original.kind} of {original.on_date}) was already reversed by "
            f"transaction #{prior.pk}; a transaction is reversed once.",
            field="transaction",
        )
    lines = [
        PostingSpec(account=name, amount_pence=-amount)
        for name, amount in original.postings.order_by("id").values_list("account__name", "amount_pence")
    ]
    return ledger_post(
        kind=kind,
        postings=lines,
        memo=memo,
        on_date=on_date,
        idempotency_key=key,
        group_id=original.group_id,
        actor=actor,
        metadata={"reverses": original.pk},
        reverses=original,
    )


# --- Journal entries (corrections booked by hand, by two people) ---------------------------------------------------


def _journal_lines(lines: Sequence[tuple[str, int]]) -> list[list[Any]]:
    """Check a journal entry's lines before anything is saved: at least two, each an open account (or a standard one
    of the chart, which posting opens) and a whole number of pence other than zero, summing to zero, and touching at
    most one child's restricted fund."""
    from carefund.core.errors import ValidationError

    if len(lines) < 2:
        raise ValidationError("lines: a journal entry needs at least two lines (a debit and a credit).", field="lines")
    out: list[list[Any]] = []
    for i, (name, pence) in enumerate(lines, start=1):
        if isinstance(pence, bool) or not isinstance(pence, int) or pence == 0:
            raise ValidationError(
                f"lines: line {i} has no amount; each line moves a sum other than zero.", field="lines"
            )
        if abs(pence) > MAX_AMOUNT_PENCE:
            raise ValidationError(
                f"lines: line {i} is more than {format_pence(MAX_AMOUNT_PENCE)}, the most carefund accepts.",
                field="lines",
            )
        account = Account.objects.filter(name=name).first()
        if account is None and name not in chart.STANDARD_ACCOUNTS:
            # A child's fund, a provider's payable or a clearing account is opened by the service that first posts
            # real money to it (a gift for a child who exists, an invoice of a provider); a hand-written entry may not
            # invent one (Child-999 belonged to nobody, and no one could ever spend it).
            raise ValidationError(
                f"lines: line {i} names {name!r}, which is not an account of the book (see the ledger page for the "
                "open accounts; a child's fund exists once the child's first gift is posted).",
                field="lines",
            )
        if account is not None and account.is_closed:
            raise ValidationError(f"lines: line {i} names {name!r}, which is closed.", field="lines")
        out.append([name, pence])
    total = sum(p for _, p in out)
    if total != 0:
        raise ValidationError(
            f"lines: the lines add up to {'+' if total > 0 else ''}{format_pence(total)}; debits (positive) and "
            "credits (negative) must balance.",
            field="lines",
        )
    children = sorted({child for name, _ in out if (child := chart.child_id_of(name)) is not None})
    if len(children) > 1:
        # money moves between children's restricted funds only under the published surplus policy
        raise ValidationError(
            f"lines: the entry touches the restricted funds of {len(children)} children; money moves between "
            "children's funds only through the surplus process (two approvals under the published policy).",
            field="lines",
        )
    released = [
        name
        for name, pence in out
        if pence < 0 and chart.child_id_of(name) is None and name.split(":", 1)[0] in ("Equity", "Income")
    ]
    if children and released and any(p > 0 and chart.child_id_of(n) is not None for n, p in out):
        # restricted money may go back to its donors or pay the child's costs, never become the charity's own
        raise ValidationError(
            f"lines: the entry takes money out of a child's restricted fund into {released[0]}; a child's restricted "
            "money goes back to its donors or pays the child's costs, and becomes unrestricted only through the "
            "surplus process.",
            field="lines",
        )
    return out


def journal_entry_propose(
    *, lines: Sequence[tuple[str, int]], memo: str, reason: str, on_date: dt.date, actor: Any
) -> Any:
    """A finance officer proposes a correction; nothing is posted until a second person approves it."""
    from carefund.core.errors import PermissionDeniedError, ValidationError
    from carefund.ledger.models import JournalEntry

    if actor is None or not actor.has_perm("ledger.add_journalentry"):
        raise PermissionDeniedError("proposing a journal entry needs the finance officer role.")
    if not memo.strip():
        raise ValidationError(
            "memo: say in a few words what the entry is (it becomes the transaction's memo).", field="memo"
        )
    if not reason.strip():
        raise ValidationError("reason: say why it is needed, for the person who approves it.", field="reason")
    if on_date > clock.today():
        raise ValidationError(
            f"on_date: {on_date} is in the future; book a correction on or before today.", field="on_date"
        )
    checked = _journal_lines(lines)
    with transaction.atomic():
        entry = JournalEntry.objects.create(
            memo=memo.strip()[:300],
            reason=reason.strip(),
            on_date=on_date,
            lines=checked,
            proposed_by=actor,
            proposed_at=clock.now(),
        )
        audit_record(actor=actor, action="ledger.journal_proposed", target=entry, summary=entry.memo)
    return entry


def journal_entry_decide(*, entry_id: int, approve: bool, note: str = "", actor: Any) -> Any:
    """A second person approves (posts, as an `adjustment` transaction) or rejects a proposed journal entry. The
    proposer may not decide their own entry. Posting applies the ledger's rules (balanced, open accounts, no
    restricted fund below zero); a refusal leaves the entry proposed, with the reason given."""
    from carefund.core.errors import ConflictError, PermissionDeniedError
    from carefund.ledger.models import JournalEntry, JournalEntryState

    if actor is None or not actor.has_perm("ledger.approve_journalentry"):
        raise PermissionDeniedError("approving a journal entry needs the finance officer or trustee role.")
    with transaction.atomic():
        entry = JournalEntry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            raise NotFoundError(f"journal entry: no entry #{entry_id}.", field="entry")
        if entry.state != JournalEntryState.PROPOSED:
            raise ConflictError(f"journal entry #{entry.pk} is already {entry.state}.", field="entry")
        if entry.proposed_by_id == actor.pk:
            raise PermissionDeniedError("a journal entry needs a second person: you proposed this one.")
        if approve:
            lines = _journal_lines([(str(name), int(pence)) for name, pence in entry.lines])
            entry.transaction = ledger_post(
                kind=TransactionKind.ADJUSTMENT,
                postings=[PostingSpec(account=name, amount_pence=pence) for name, pence in lines],
                memo=entry.memo,
                on_date=entry.on_date,
                idempotency_key=f"journal-{entry.pk}",
                actor=actor,
                metadata={"journal_entry": entry.pk, "proposed_by": entry.proposed_by_id, "approved_by": actor.pk},
            )
        entry.state = JournalEntryState.POSTED if approve else JournalEntryState.REJECTED
        entry.decided_by, entry.decided_at, entry.decision_note = actor, clock.now(), note.strip()[:300]
        entry.save(update_fields=["state", "decided_by", "decided_at", "decision_note", "transaction"])
        audit_record(
            actor=actor,
            action="ledger.journal_posted" if approve else "ledger.journal_rejected",
            target=entry,
            summary=entry.decision_note or entry.memo,
        )
    return entry
