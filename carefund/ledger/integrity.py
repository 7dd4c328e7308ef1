"""`carefund ledger check`: prove the book is whole. Returns findings in words; an empty list means clean.

Checks: every posted transaction has two or more postings summing to zero; the whole book sums to zero; every
maintained balance (per account, and per account and day) equals the sum of postings; no postings on unposted
transactions and no unposted (half) transactions; no transaction reversed twice and every reversal the exact
opposite of what it reverses; no restricted fund below zero on any day; no asset account below zero; no money left
in a payment gateway's clearing account longer than LEDGER_CLEARING_MAX_DAYS (a clearing account that drifts: the
provider's payouts stopped, or were never posted). Apps that refer to the book add their own reconciliations through
the `book_checks` signal (campaigns: every gift, refund and fee against its postings), so the ledger imports none of
them."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.dispatch import Signal

from carefund.core import clock
from carefund.ledger import chart
from carefund.ledger.models import Account, AccountDayBalance, Posting, Transaction

logger = logging.getLogger(__name__)

# Sent by `ledger_check` with no arguments; each receiver returns a list of findings in words (empty: clean).
book_checks = Signal()


def ledger_check() -> list[str]:
    findings: list[str] = []

    # 1. every posted transaction balances and has two or more postings
    unbalanced = (
        Posting.objects.filter(transaction__is_posted=True)
        .values("transaction_id")
        .annotate(total=Sum("amount_pence"), n=Count("id"))
        .exclude(total=0, n__gte=2)
        .order_by("transaction_id")
    )
    for row in unbalanced[:1000]:
        findings.append(
            f"transaction #{row['transaction_id']} has {row['n']} posting(s) summing to {row['total']} pence "
            "(must be two or more summing to zero)"
        )
    empty = Transaction.objects.filter(is_posted=True).annotate(n=Count("postings")).filter(n=0)
    for txn_id in empty.values_list("pk", flat=True)[:1000]:
        findings.append(f"transaction #{txn_id} is posted but has no postings")

    # 2. the whole book sums to zero
    total = Posting.objects.filter(transaction__is_posted=True).aggregate(t=Sum("amount_pence"))["t"] or 0
    if total != 0:
        findings.append(f"the book sums to {total} pence, not zero")

    # 3. orphans and half transactions
    half = Transaction.objects.filter(is_posted=False).values_list("pk", flat=True)
    for txn_id in half[:1000]:
        findings.append(f"transaction #{txn_id} was never posted (a half-written transaction)")

    # 4. maintained balances equal the sums of postings
    derived: dict[int, int] = defaultdict(int)
    daily: dict[int, dict[dt.date, int]] = defaultdict(dict)
    rows = (
        Posting.objects.filter(transaction__is_posted=True)
        .values("account_id", "transaction__on_date")
        .annotate(total=Sum("amount_pence"))
        .order_by("account_id", "transaction__on_date")
    )
    for day_row in rows:
        derived[day_row["account_id"]] += int(day_row["total"])
        daily[day_row["account_id"]][day_row["transaction__on_date"]] = derived[day_row["account_id"]]
    accounts = {a.pk: a for a in Account.objects.all()}
    for account in accounts.values():
        if account.balance_pence != derived.get(account.pk, 0):
            findings.append(
                f"account {account.name}: maintained balance {account.balance_pence} pence differs from the sum "
                f"of its postings {derived.get(account.pk, 0)} pence"
            )
    snapshot: dict[int, dict[dt.date, int]] = defaultdict(dict)
    for account_id, on_date, closing in AccountDayBalance.objects.values_list("account_id", "on_date", "closing_pence"):
        snapshot[account_id][on_date] = int(closing)
    for account_id in set(daily) | set(snapshot):
        name = accounts[account_id].name if account_id in accounts else f"#{account_id}"
        expected = daily.get(account_id, {})
        kept = snapshot.get(account_id, {})
        for on_date, closing in expected.items():
            if kept.get(on_date) != closing:
                findings.append(
                    f"account {name}: day balance for {on_date} is {kept.get(on_date)} pence, the postings say "
                    f"{closing} pence"
                )
        for on_date in sorted(
            set(kept) - set(expected),
        ):
            findings.append(f"account {name}: day balance for {on_date} has no postings that day")

    # 5. reversals: once each, and the exact opposite
    doubles = (
        Transaction.objects.filter(reverses__isnull=False).values("reverses_id").annotate(n=Count("id")).filter(n__gt=1)
    )
    for double in doubles:
        findings.append(f"transaction #{double['reverses_id']} is reversed {double['n']} times (allowed once)")
    lines: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    reversal_pairs = list(
        Transaction.objects.filter(reverses__isnull=False, is_posted=True).values_list("pk", "reverses_id")
    )
    if reversal_pairs:
        ids = {pk for pair in reversal_pairs for pk in pair}
        for txn_id, account_id, amount in Posting.objects.filter(transaction_id__in=ids).values_list(
            "transaction_id", "account_id", "amount_pence"
        ):
            lines[txn_id][account_id] += int(amount)
        for pk, reversed_id in reversal_pairs:
            original = {a: -v for a, v in lines[reversed_id].items() if v}
            mine = {a: v for a, v in lines[pk].items() if v}
            if original != mine:
                findings.append(f"transaction #{pk} reverses #{reversed_id} but is not its exact opposite")

    # 6. no restricted fund below zero, now or at any point of the book's order (date, then transaction)
    for account in accounts.values():
        if not account.is_restricted:
            continue
        if derived.get(account.pk, 0) > 0:
            findings.append(f"restricted fund {account.name} is below zero: {derived[account.pk]} pence overdrawn")
        running = 0
        for txn_id, on_date, amount in (
            Posting.objects.filter(account=account, transaction__is_posted=True)
            .order_by("transaction__on_date", "transaction_id", "id")
            .values_list("transaction_id", "transaction__on_date", "amount_pence")
            .iterator(chunk_size=5000)
        ):
            running += int(amount)
            if running > 0:
                findings.append(
                    f"restricted fund {account.name} was below zero after transaction #{txn_id} of {on_date}"
                )
                break

    # 7. the reconciliations of what the book says is held (money_held, below) and of the apps that refer to the book
    for receiver, extra in book_checks.send_robust(sender=Account):
        if isinstance(extra, Exception):
            logger.error("ledger check: %r failed", receiver, exc_info=extra)
            findings.append(f"a reconciliation could not run ({receiver.__module__}): {extra!r}")
        else:
            findings += list(extra or [])
    return findings


def money_held(**kwargs: Any) -> list[str]:
    """What the asset accounts hold: none but a clearing account below zero (the bank or Gift Aid receivable cannot
    hold less than nothing, and an overdraft is for a person to see; a clearing account may, for a while: a refund
    of a gift whose fee the provider kept takes more than the gift left there, and the provider takes the difference
    from its next payout), and no clearing account that drifts: its balance must be covered by what
    came into it in the last LEDGER_CLEARING_MAX_DAYS days, since anything older should have been paid out to the
    bank by then. A `book_checks` receiver of the ledger's own (connected in LedgerConfig.ready)."""
    derived = dict(
        Posting.objects.filter(transaction__is_posted=True, account__type=chart.AccountType.ASSETS)
        .values_list("account_id")
        .annotate(total=Sum("amount_pence"))
        .values_list("account_id", "total")
        .order_by()
    )
    days = int(settings.LEDGER_CLEARING_MAX_DAYS)
    since = clock.today() - dt.timedelta(days=days)
    out = []
    for account in Account.objects.filter(type=chart.AccountType.ASSETS).order_by("name"):
        held = int(derived.get(account.pk, 0))
        if not account.name.startswith(chart.CLEARING_PREFIX):
            if held < 0:
                out.append(f"asset account {account.name} is below zero: {-held} pence")
            continue
        if account.name == chart.clearing_account("test"):
            continue  # the test gateway pays out only when a person asks it to (its staff page)
        recent = (
            Posting.objects.filter(
                account=account, transaction__is_posted=True, transaction__on_date__gt=since, amount_pence__gt=0
            ).aggregate(t=Sum("amount_pence"))["t"]
            or 0
        )
        if held > recent:
            out.append(
                f"clearing account {account.name} drifts: it holds {held} pence, {held - recent} pence more than "
                f"came in over the last {days} days; a payout is missing or was never posted"
            )
    return out
