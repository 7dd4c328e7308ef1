"""The gifts reconciled against the book, for `carefund ledger check` (answers `ledger.integrity.book_checks`).

Every gift's money is posted in transactions of its group ("donation-<id>", or "offline-batch-<id>" for the gifts
entered together). Across a group, whatever the recipe (fee known at once or later, partial refunds, a refund borne
by general funds, a dispute lost or won):
- the funds (the child's restricted fund and the general fund) are credited with what the donors gave and kept:
  each confirmed gift's total less what was refunded of it; nothing for a gift refunded or disputed in full;
- the payment fees are each gift's fee plus its dispute fees;
- the only child's fund touched is the campaign's child's;
- a confirmed, refunded or disputed gift has its transaction, and a pending gift none.
A gift's amount changed behind carefund's back (by SQL), a posting lost, or a fee posted twice, is therefore found.
Child funds and provider payables that belong to no child are found too."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Sum

from carefund.campaigns.models import Donation, DonationStatus
from carefund.ledger import chart
from carefund.ledger.models import Account, Posting

_FUND_PREFIX = "Equity:Fund:"
_MAX_FINDINGS = 1000


def _group_of(batch_id: int | None, donation_id: int) -> str:
    return f"offline-batch-{batch_id}" if batch_id else f"donation-{donation_id}"


def gifts_reconcile(**kwargs: Any) -> list[str]:
    findings: list[str] = []
    expected_funds: dict[str, int] = defaultdict(int)
    expected_fees: dict[str, int] = defaultdict(int)
    child_of_group: dict[str, int] = {}
    rows = Donation.objects.values_list(
        "pk",
        "batch_id",
        "status",
        "amount_pence",
        "costs_contribution_pence",
        "refunded_pence",
        "fee_pence",
        "dispute_fees_pence",
        "ledger_transaction_id",
        "campaign__child_id",
    )
    for pk, batch, status, amount, costs, refunded, fee, dispute_fees, txn, child in rows.iterator(chunk_size=5000):
        group = _group_of(batch, pk)
        child_of_group[group] = child
        if status == DonationStatus.PENDING:
            if txn is not None:
                findings.append(f"gift #{pk} is pending but has ledger transaction #{txn}")
            continue
        if txn is None:
            findings.append(f"gift #{pk} is {status} but has no ledger transaction")
            continue
        if status == DonationStatus.SUCCEEDED:
            expected_funds[group] += amount + costs - refunded
        expected_fees[group] += (fee or 0) + dispute_fees
    posted_funds: dict[str, int] = defaultdict(int)
    posted_fees: dict[str, int] = defaultdict(int)
    touched_children: dict[str, set[int]] = defaultdict(set)
    postings = (
        Posting.objects.filter(transaction__is_posted=True, transaction__group_id__in=list(child_of_group))
        .exclude(transaction__kind="gift_aid")  # Gift Aid repaid on a refunded gift: giftaid's, reconciled there
        .values("transaction__group_id", "account__name", "account__child_id")
        .annotate(total=Sum("amount_pence"))
        .order_by()
    )
    for row in postings.iterator(chunk_size=5000):
        group, name, total = row["transaction__group_id"], row["account__name"], int(row["total"])
        if name.startswith(_FUND_PREFIX):
            posted_funds[group] -= total  # funds are credits: negative in beancount signs
        elif name == chart.PAYMENT_FEES:
            posted_fees[group] += total
        if row["account__child_id"] is not None and total:
            touched_children[group].add(int(row["account__child_id"]))
    for group in sorted(child_of_group, key=_group_sort_key):
        if posted_funds[group] != expected_funds[group]:
            findings.append(
                f"{_words(group)}: the funds were credited {posted_funds[group]} pence, the gifts say "
                f"{expected_funds[group]} pence (given, less refunds)"
            )
        if posted_fees[group] != expected_fees[group]:
            findings.append(
                f"{_words(group)}: payment fees of {posted_fees[group]} pence were posted, the gifts say "
                f"{expected_fees[group]} pence"
            )
        others = touched_children[group] - {child_of_group[group]}
        if others:
            findings.append(
                f"{_words(group)}: postings to the restricted fund of child {', '.join(map(str, sorted(others)))}, "
                f"not the campaign's child {child_of_group[group]}"
            )
        if len(findings) >= _MAX_FINDINGS:
            break
    return findings


def accounts_belong(**kwargs: Any) -> list[str]:
    """Every child's fund belongs to a child that exists (a fund named for no child holds money no one can spend)."""
    from carefund.care.models import Child

    children = set(Child.objects.values_list("pk", flat=True))
    return [
        f"account {name} is the restricted fund of child {child_id}, who does not exist"
        for name, child_id in Account.objects.filter(child_id__isnull=False).values_list("name", "child_id")
        if child_id not in children
    ]


def _group_sort_key(group: str) -> tuple[str, int]:
    prefix, _, number = group.rpartition("-")
    return prefix, int(number)


def _words(group: str) -> str:
    prefix, _, number = group.rpartition("-")
    return f"gift #{number}" if prefix == "donation" else f"offline batch #{number}"
