"""Pure decisions of the ledger (no database): posting validation, content fingerprints, and the first-in,
first-out allocation that traces each pound of a restricted fund from the gift that brought it to the spend
that used it. See docs/ledger.md, "Traceability"."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from carefund.core.money import MAX_AMOUNT_PENCE


@dataclass(frozen=True)
class PostingSpec:
    """One line of a transaction to be posted: beancount sign, debits positive, credits negative."""

    account: str
    amount_pence: int


def unbalanced_reason(postings: Sequence[PostingSpec]) -> str | None:
    """Why these postings cannot form a transaction, in words; None when they can."""
    if len(postings) < 2:
        return f"a transaction needs at least two postings, got {len(postings)}."
    total = 0
    for i, p in enumerate(postings):
        amount = p.amount_pence
        if isinstance(amount, bool) or not isinstance(amount, int):
            return f"postings[{i}].amount_pence must be a whole number of pence, got {amount!r}."
        if amount == 0:
            return f"postings[{i}].amount_pence must not be zero (account {p.account})."
        if abs(amount) > MAX_AMOUNT_PENCE:
            return f"postings[{i}].amount_pence is beyond the largest amount carefund accepts (account {p.account})."
        total += amount
    if total != 0:
        return (
            f"the postings must sum to zero (debits equal credits), but they sum to {total} pence; "
            "add or correct a posting so that debits and credits match."
        )
    return None


def net_by_account(postings: Iterable[PostingSpec]) -> dict[str, int]:
    """The net amount per account (an account named twice is netted)."""
    out: dict[str, int] = {}
    for p in postings:
        out[p.account] = out.get(p.account, 0) + p.amount_pence
    return out


def content_hash(
    *,
    kind: str,
    on_date: dt.date,
    postings: Sequence[PostingSpec],
    group_id: str,
    reverses_id: int | None,
) -> str:
    """A fingerprint of what a transaction says, for idempotency: the same business event posts once.

    Memo and metadata are descriptive and left out; kind, date, group, reversal link and the postings (in any
    order) are the content. The fingerprint is the SHA-256 of the canonical JSON of
    {"group_id", "kind", "on_date", "postings": sorted [account, pence] pairs, "reverses"}: keys sorted, no spaces,
    ASCII only, as `json.dumps(..., sort_keys=True, separators=(",", ":"))` writes it (stored fingerprints depend on
    it; tests pin one)."""
    lines = sorted([(p.account, p.amount_pence) for p in postings])
    payload: dict[str, Any] = {
        "group_id": group_id,
        "kind": kind,
        "on_date": on_date.isoformat(),
        "postings": lines,
        "reverses": reverses_id,
    }
    return hashlib.sha256(_CANONICAL_JSON.encode(payload).encode()).hexdigest()


# The fingerprint's JSON encoder, built once (json.dumps with these arguments builds a new encoder on every call).
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


# --- Traceability -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FundMovement:
    """One transaction's net effect on a restricted fund, in fund terms: positive = money in (a gift, Gift Aid,
    a transfer in, the reversal of a spend), negative = money out (a payment or invoice, a transfer out, a
    refund). `reverses` names the movement this one undoes (a refund of a gift, a reversal of a spend)."""

    ref: int
    amount_pence: int
    reverses: int | None = None


@dataclass(frozen=True)
class Allocation:
    """`amount_pence` of the money that came in with `source` was used by `use`. A source of None means the
    use was not covered by any money in the fund (never happens while the fund cannot go below zero)."""

    source: int | None
    use: int
    amount_pence: int


@dataclass(frozen=True)
class FundTrace:
    allocations: tuple[Allocation, ...]
    unspent: tuple[tuple[int, int], ...]  # (source ref, pence not yet used), in order of arrival


def allocate_fifo(movements: Sequence[FundMovement]) -> FundTrace:
    """Trace a fund's money first in, first out.

    Movements are taken in the order given (date, then transaction id). Money out is taken from the oldest money
    still in the fund, except that a movement reversing another is settled against it first:
    - money out that reverses money in (a refund of a gift) takes from that gift's unspent remainder first, and
      only the rest first in, first out;
    - money in that reverses money out (the reversal of a payment) gives back to the sources that payment used,
      latest allocation first, restoring their places in the queue; any excess is new money in.
    """
    remaining: OrderedDict[int, int] = OrderedDict()  # source -> pence unspent, in order of arrival
    arrival: dict[int, int] = {}
    used: dict[tuple[int | None, int], int] = {}  # (source, use) -> pence
    use_order: dict[int, list[int | None]] = {}

    def take(use: int, source: int | None, amount: int) -> None:
        key = (source, use)
        if key not in used:
            use_order.setdefault(use, []).append(source)
        used[key] = used.get(key, 0) + amount

    for m in movements:
        if m.amount_pence > 0:
            give = m.amount_pence
            if m.reverses is not None and m.reverses in use_order:
                for source in reversed(list(use_order[m.reverses])):
                    key = (source, m.reverses)
                    back = min(give, used.get(key, 0))
                    if back <= 0:
                        continue
                    used[key] -= back
                    give -= back
                    if source is not None:
                        remaining[source] = remaining.get(source, 0) + back
                    if give == 0:
                        break
                # restore the queue to arrival order after giving back
                reordered = sorted(remaining.items(), key=lambda kv: arrival[kv[0]])
                remaining = OrderedDict(reordered)
            if give > 0:
                arrival.setdefault(m.ref, len(arrival))
                remaining[m.ref] = remaining.get(m.ref, 0) + give
                remaining = OrderedDict(sorted(remaining.items(), key=lambda kv: arrival[kv[0]]))
        elif m.amount_pence < 0:
            need = -m.amount_pence
            if m.reverses is not None and remaining.get(m.reverses, 0) > 0:
                part = min(need, remaining[m.reverses])
                remaining[m.reverses] -= part
                take(m.ref, m.reverses, part)
                need -= part
            for source in list(remaining):
                if need == 0:
                    break
                part = min(need, remaining[source])
                if part <= 0:
                    continue
                remaining[source] -= part
                take(m.ref, source, part)
                need -= part
            if need > 0:
                take(m.ref, None, need)

    allocations = tuple(
        Allocation(source=source, use=use, amount_pence=used[(source, use)])
        for use, sources in use_order.items()
        for source in sources
        if used[(source, use)] > 0
    )
    unspent = tuple((source, pence) for source, pence in remaining.items() if pence > 0)
    return FundTrace(allocations=allocations, unspent=unspent)
