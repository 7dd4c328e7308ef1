"""The whole book in beancount's text format, so an independent tool (bean-check) can verify it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from carefund.ledger.models import Account, Posting, Transaction


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def format_amount(amount_pence: int) -> str:
    """Pence as beancount wants it: exactly two decimals, e.g. -1234 -> '-12.34'."""
    sign = "-" if amount_pence < 0 else ""
    pounds, pence = divmod(abs(amount_pence), 100)
    return f"{sign}{pounds}.{pence:02d}"


def export_beancount(*, title: str = "carefund") -> Iterator[str]:
    """Yield the book as beancount text, chunk by chunk (streams for large books)."""
    yield f"option {_quote('title')} {_quote(title)}\n"
    yield f"option {_quote('operating_currency')} {_quote('GBP')}\n"
    # every amount has exactly two decimals; a tiny multiplier makes beancount's tolerance strict as well
    # (sources.md: Beancount)
    yield f"option {_quote('tolerance_multiplier')} {_quote('0.0001')}\n\n"
    first_use: dict[int, dt.date] = {}
    last_use: dict[int, dt.date] = {}
    for account_id, on_date in (
        Posting.objects.filter(transaction__is_posted=True)
        .values_list("account_id", "transaction__on_date")
        .order_by("account_id", "transaction__on_date")
    ):
        first_use.setdefault(account_id, on_date)
        last_use[account_id] = on_date
    accounts = list(Account.objects.order_by("name"))
    earliest = min([a.opened_on for a in accounts] + list(first_use.values()), default=dt.date(2000, 1, 1))
    yield f"{earliest.isoformat()} commodity GBP\n\n"
    for account in accounts:
        opened = min(account.opened_on, first_use.get(account.pk, account.opened_on))
        yield f"{opened.isoformat()} open {account.name} GBP\n"
        if account.description:
            yield f"  description: {_quote(account.description)}\n"
        if account.child_id is not None:
            yield f"  child-id: {_quote(str(account.child_id))}\n"
    yield "\n"
    names = {a.pk: a.name for a in accounts}
    reversed_by = dict(
        Transaction.objects.filter(reverses__isnull=False, is_posted=True).values_list("reverses_id", "pk")
    )
    txns = Transaction.objects.filter(is_posted=True).order_by("on_date", "id")
    postings: dict[int, list[tuple[int, int]]] = {}
    batch: list[Transaction] = []

    def flush(batch: list[Transaction]) -> Iterator[str]:
        postings.clear()
        for txn_id, account_id, amount in (
            Posting.objects.filter(transaction_id__in=[t.pk for t in batch])
            .order_by("transaction_id", "id")
            .values_list("transaction_id", "account_id", "amount_pence")
        ):
            postings.setdefault(txn_id, []).append((account_id, int(amount)))
        for txn in batch:
            links = []
            if txn.reverses_id is not None:
                links.append(f"^reversal-{txn.reverses_id}")
            elif txn.pk in reversed_by:
                links.append(f"^reversal-{txn.pk}")
            link_text = (" " + " ".join(links)) if links else ""
            out = [f"{txn.on_date.isoformat()} * {_quote(txn.memo)}{link_text}\n"]
            out.append(f"  txn-id: {_quote(str(txn.pk))}\n")
            out.append(f"  kind: {_quote(txn.kind)}\n")
            if txn.group_id:
                out.append(f"  group: {_quote(txn.group_id)}\n")
            if txn.reverses_id is not None:
                out.append(f"  reverses: {_quote(str(txn.reverses_id))}\n")
            if txn.pk in reversed_by:
                out.append(f"  reversed-by: {_quote(str(reversed_by[txn.pk]))}\n")
            out.append(f"  idempotency-key: {_quote(txn.idempotency_key)}\n")
            for account_id, amount in postings.get(txn.pk, []):
                out.append(f"  {names[account_id]}  {format_amount(amount)} GBP\n")
            out.append("\n")
            yield "".join(out)

    for txn in txns.iterator(chunk_size=2000):
        batch.append(txn)
        if len(batch) >= 2000:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)
    # carefund's maintained balances, asserted: bean-check proves them equal to its own sums of the postings
    last = max(last_use.values(), default=earliest)
    assert_on = last + dt.timedelta(days=1)
    for account in accounts:
        if account.closed_on is None:
            yield f"{assert_on.isoformat()} balance {account.name}  {format_amount(account.balance_pence)} GBP\n"
    for account in accounts:
        if account.closed_on is not None:
            closed = max(account.closed_on, last_use.get(account.pk, account.closed_on) + dt.timedelta(days=1))
            yield f"{closed.isoformat()} close {account.name}\n"
