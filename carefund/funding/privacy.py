"""A child's funding for a subject-access export or an erasure (answers `core.privacy.child_export` and
`child_erase`): the restricted fund (its balance and every posting), grants, invoices paid for the child's care and
surplus transfers. These are the charity's accounts: on erasure they stay (amounts, dates, the restricted fund's
history, naming the child by id), and only the child's name is taken out of the free text written about them (the
reason of a grant or a surplus transfer, the urgency ranking a transfer recorded, the fund account's description)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from carefund.core.privacy import ACCOUNTS_KEPT, scrub_names
from carefund.funding.models import Grant, Invoice, SurplusTransfer, SurplusTransferLine
from carefund.ledger import chart
from carefund.ledger.models import Account, Posting
from carefund.ledger.selectors import fund_balance_pence, memos_naming


def child_funding_export(*, child_id: int, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    fund = chart.child_fund(child_id)
    postings = Posting.objects.filter(account__name=fund).select_related("transaction").order_by("transaction_id")
    records: list[dict[str, Any]] = [
        {
            "record": "restricted_fund",
            "account": fund,
            "balance_pence": fund_balance_pence(child_id=child_id),
            "postings": [
                {
                    "transaction": p.transaction_id,
                    "on_date": p.transaction.on_date.isoformat(),
                    "kind": p.transaction.kind,
                    "memo": p.transaction.memo,
                    "amount_pence": -p.amount_pence,  # into the fund positive
                }
                for p in postings
            ],
        }
    ]
    for g in Grant.objects.filter(child_id=child_id).order_by("pk"):
        records.append(
            {
                "record": "grant",
                "grant": g.pk,
                "amount_pence": g.amount_pence,
                "drawn_pence": g.drawn_pence,
                "reason": g.reason,
                "approved_at": g.approved_at.isoformat(),
            }
        )
    for i in Invoice.objects.filter(care_plan__child_id=child_id).select_related("provider").order_by("pk"):
        records.append(
            {
                "record": "invoice",
                "invoice": i.pk,
                "number": i.number,
                "provider": i.provider.name,
                "issued_on": i.issued_on.isoformat(),
                "state": i.state,
                "amount_pence": i.amount_pence,
            }
        )
    for t in SurplusTransfer.objects.filter(source_child_id=child_id).prefetch_related("lines").order_by("pk"):
        records.append(
            {
                "record": "surplus_transfer_out",
                "transfer": t.pk,
                "state": t.state,
                "amount_pence": t.amount_pence,
                "proposed_at": t.proposed_at.isoformat(),
                "reason": t.reason,
            }
        )
    for line in SurplusTransferLine.objects.filter(recipient_id=child_id).select_related("transfer").order_by("pk"):
        records.append(
            {
                "record": "surplus_transfer_in",
                "transfer": line.transfer_id,
                "state": line.transfer.state,
                "amount_pence": line.amount_pence,
                "proposed_at": line.transfer.proposed_at.isoformat(),
            }
        )
    return "funding", records


def child_funding_erase(
    *, child_id: int, names: list[str], now: dt.datetime, **kwargs: Any
) -> tuple[str, int, list[str]]:
    placeholder = f"child #{child_id}"
    changed = 0
    for g in Grant.objects.filter(child_id=child_id):
        reason = scrub_names(g.reason, names, placeholder)
        if reason != g.reason:
            changed += Grant.objects.filter(pk=g.pk).update(reason=reason)
    erased = f"erased {placeholder}"
    # any transfer may have ranked the child (or left them out, with their name) when it was proposed
    for t in SurplusTransfer.objects.order_by("pk").iterator():
        reason = scrub_names(t.reason, names, placeholder) if t.source_child_id == child_id else t.reason
        ranking = dict(t.ranking or {})
        if "ranked" in ranking:
            ranking["ranked"] = [
                {**r, "name": erased} if r.get("child_id") == child_id else r for r in ranking["ranked"]
            ]
        if "excluded" in ranking:
            ranking["excluded"] = [[e[0], erased, *e[2:]] if e and e[0] == child_id else e for e in ranking["excluded"]]
        if reason != t.reason or ranking != t.ranking:
            changed += SurplusTransfer.objects.filter(pk=t.pk).update(reason=reason, ranking=ranking)
    fund = Account.objects.filter(name=chart.child_fund(child_id)).first()
    if fund is not None and fund.description != f"Restricted fund of {placeholder}":
        changed += Account.objects.filter(pk=fund.pk).update(description=f"Restricted fund of {placeholder}")
    kept = [f"the restricted fund, grants, invoices and surplus transfers: {ACCOUNTS_KEPT}"]
    old_memos = memos_naming([n for n in names if " " in n])
    if old_memos:
        kept.append(
            f"{old_memos} ledger memo(s) written before carefund named children by number may name the child: the "
            f"books are append-only, {ACCOUNTS_KEPT}"
        )
    return "funding", changed, kept
