"""Posting recipes used by the tests (the same recipes as docs/ledger.md), and a realistic book."""

from __future__ import annotations

import datetime as dt
import itertools

from carefund.ledger import chart
from carefund.ledger.models import Transaction
from carefund.ledger.services import PostingSpec, ledger_post, ledger_reverse

_keys = itertools.count(1)
STRIPE = chart.clearing_account("stripe")


def key(prefix: str) -> str:
    return f"{prefix}-{next(_keys)}"


def gift(child: int, pence: int, on: dt.date, *, memo: str = "Gift", gateway: str = STRIPE) -> Transaction:
    """A donor gives `pence` for a child: the gateway holds the money, the child's restricted fund owns it."""
    return ledger_post(
        kind="donation",
        postings=[PostingSpec(gateway, pence), PostingSpec(chart.child_fund(child), -pence)],
        memo=memo,
        on_date=on,
        idempotency_key=key("donation"),
        group_id=f"donation-{memo}",
    )


def fee(pence: int, on: dt.date, *, group_id: str = "") -> Transaction:
    """The gateway keeps its fee; the charity's general funds bear it (the restricted fund keeps the gross)."""
    return ledger_post(
        kind="fee",
        postings=[PostingSpec(chart.PAYMENT_FEES, pence), PostingSpec(STRIPE, -pence)],
        memo="Card processing fee",
        on_date=on,
        idempotency_key=key("fee"),
        group_id=group_id,
    )


def payout(pence: int, on: dt.date) -> Transaction:
    return ledger_post(
        kind="adjustment",
        postings=[PostingSpec(chart.BANK, pence), PostingSpec(STRIPE, -pence)],
        memo="Stripe payout to the bank",
        on_date=on,
        idempotency_key=key("payout"),
    )


def gift_aid_claim(child: int, pence: int, on: dt.date) -> Transaction:
    return ledger_post(
        kind="gift_aid",
        postings=[PostingSpec(chart.GIFT_AID_RECEIVABLE, pence), PostingSpec(chart.child_fund(child), -pence)],
        memo="Gift Aid claimed from HMRC",
        on_date=on,
        idempotency_key=key("giftaid"),
    )


def gift_aid_received(pence: int, on: dt.date) -> Transaction:
    return ledger_post(
        kind="gift_aid",
        postings=[PostingSpec(chart.BANK, pence), PostingSpec(chart.GIFT_AID_RECEIVABLE, -pence)],
        memo="Gift Aid repayment from HMRC",
        on_date=on,
        idempotency_key=key("giftaid-paid"),
    )


def invoice(child: int, provider: int, pence: int, on: dt.date, *, memo: str = "Invoice") -> Transaction:
    """An approved invoice for a child's care: the fund is spent, the charity owes the provider."""
    return ledger_post(
        kind="invoice",
        postings=[PostingSpec(chart.child_fund(child), pence), PostingSpec(chart.provider_payable(provider), -pence)],
        memo=memo,
        on_date=on,
        idempotency_key=key("invoice"),
    )


def payment(provider: int, pence: int, on: dt.date) -> Transaction:
    return ledger_post(
        kind="payment",
        postings=[PostingSpec(chart.provider_payable(provider), pence), PostingSpec(chart.BANK, -pence)],
        memo="Payment to provider",
        on_date=on,
        idempotency_key=key("payment"),
    )


def transfer(from_child: int, to_child: int, pence: int, on: dt.date) -> Transaction:
    return ledger_post(
        kind="surplus_transfer",
        postings=[PostingSpec(chart.child_fund(from_child), pence), PostingSpec(chart.child_fund(to_child), -pence)],
        memo=f"Surplus transfer from child {from_child} to child {to_child}",
        on_date=on,
        idempotency_key=key("transfer"),
    )


def refund(txn: Transaction, on: dt.date) -> Transaction:
    return ledger_reverse(transaction=txn, memo=f"Refund of #{txn.pk}", on_date=on, kind="refund")


def realistic_book() -> dict[str, Transaction]:
    """Two children, card and offline gifts, fees, Gift Aid, invoices, payments, a refund, a surplus transfer."""
    d = dt.date(2026, 3, 2)
    t: dict[str, Transaction] = {}
    t["g1"] = gift(1, 5000, d, memo='Gift from "Aunt" Jo')
    # £1.45 fee on a £50 card gift (an illustrative card fee)
    t["f1"] = fee(145, d)
    t["g2"] = gift(1, 120000, d + dt.timedelta(days=1), memo="Fun run")
    t["g3"] = gift(2, 2500, d + dt.timedelta(days=2), memo="Gift for child 2")
    t["p1"] = payout(5000 + 120000 - 145, d + dt.timedelta(days=3))
    # Gift Aid: 25p per £1 (basic rate 20/80), so £12.50 on Aunt Jo's £50 (docs/sources.md: Gift Aid: the rate,
    # http://www.hmrc.gov.uk/charities/guidance-notes/chapter6/partb.htm)
    t["ga"] = gift_aid_claim(1, 1250, d + dt.timedelta(days=5))
    t["gr"] = gift_aid_received(1250, d + dt.timedelta(days=40))
    t["i1"] = invoice(1, 7, 100000, d + dt.timedelta(days=10), memo="Pre-operative physiotherapy")
    t["pay"] = payment(7, 100000, d + dt.timedelta(days=20))
    t["r3"] = refund(t["g3"], d + dt.timedelta(days=12))
    t["s1"] = transfer(1, 2, 20000, d + dt.timedelta(days=60))
    return t
