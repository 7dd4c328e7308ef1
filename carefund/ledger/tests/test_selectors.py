"""Traceability stories: what a donor's gift paid for, and which gifts are behind a payment."""

from __future__ import annotations

import datetime as dt

import pytest

from carefund.ledger.selectors import (
    account_balance_pence,
    fund_trace,
    gift_unspent_pence,
    gift_uses,
    spend_sources,
)
from carefund.ledger.services import ledger_reverse
from carefund.ledger.tests import books

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 2)


def pairs(links):  # type: ignore[no-untyped-def]
    return [(link.transaction_id, link.amount_pence) for link in links]


def test_aunt_jo_and_the_fun_run_pay_for_physiotherapy_first_in_first_out():
    jo = books.gift(1, 5000, D, memo="Aunt Jo")
    run = books.gift(1, 120000, D + dt.timedelta(days=1), memo="Fun run")
    aid = books.gift_aid_claim(1, 1250, D + dt.timedelta(days=5))
    physio = books.invoice(1, 7, 100000, D + dt.timedelta(days=10), memo="Physiotherapy")
    transfer = books.transfer(1, 2, 25000, D + dt.timedelta(days=60))

    # The physiotherapy invoice was paid with all of Aunt Jo's £50 and £950 of the fun run.
    assert pairs(spend_sources(transaction_id=physio.pk)) == [(jo.pk, 5000), (run.pk, 95000)]
    # The rest of the fun run (£250) went on to child 2 with the surplus transfer...
    assert pairs(spend_sources(transaction_id=transfer.pk)) == [(run.pk, 25000)]
    assert pairs(gift_uses(transaction_id=run.pk)) == [(physio.pk, 95000), (transfer.pk, 25000)]
    assert pairs(gift_uses(transaction_id=jo.pk)) == [(physio.pk, 5000)]
    # ...and the Gift Aid is still unspent.
    assert gift_uses(transaction_id=aid.pk) == []
    assert gift_unspent_pence(transaction_id=aid.pk) == 1250
    trace = fund_trace(child_id=1)
    assert trace.balance_pence == 1250
    assert pairs(trace.unspent) == [(aid.pk, 1250)]
    assert trace.unfunded_pence == 0
    # In child 2's fund the transfer is new money in, ready to trace onwards.
    assert pairs(fund_trace(child_id=2).unspent) == [(transfer.pk, 25000)]
    assert account_balance_pence(name="Equity:Fund:Restricted:Child-2") == -25000


def test_a_refund_takes_its_own_gift_first():
    jo = books.gift(1, 5000, D, memo="Aunt Jo")
    sam = books.gift(1, 3000, D, memo="Sam")
    refund = books.refund(sam, D + dt.timedelta(days=1))
    physio = books.invoice(1, 7, 4000, D + dt.timedelta(days=2))

    assert pairs(spend_sources(transaction_id=refund.pk)) == [(sam.pk, 3000)]
    assert pairs(spend_sources(transaction_id=physio.pk)) == [(jo.pk, 4000)]
    assert gift_unspent_pence(transaction_id=jo.pk) == 1000


def test_a_withdrawn_invoice_gives_the_money_back_to_its_gifts():
    jo = books.gift(1, 5000, D, memo="Aunt Jo")
    physio = books.invoice(1, 7, 4000, D)
    ledger_reverse(transaction=physio, memo="Invoice withdrawn", on_date=D)
    later = books.invoice(1, 7, 1000, D + dt.timedelta(days=1))

    assert spend_sources(transaction_id=physio.pk) == []  # its money went back to Aunt Jo
    assert pairs(spend_sources(transaction_id=later.pk)) == [(jo.pk, 1000)]
    assert gift_unspent_pence(transaction_id=jo.pk) == 4000


def test_a_transaction_outside_restricted_funds_has_no_trace():
    fee = books.fee(95, D)
    assert gift_uses(transaction_id=fee.pk) == []
    assert spend_sources(transaction_id=fee.pk) == []
    assert fund_trace(child_id=42).links == ()
