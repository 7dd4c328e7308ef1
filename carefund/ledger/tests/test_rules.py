"""Pure rules of the ledger: the chart's names, posting validation, fingerprints and first-in-first-out tracing."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carefund.ledger import chart
from carefund.ledger.rules import (
    Allocation,
    FundMovement,
    PostingSpec,
    allocate_fifo,
    content_hash,
    net_by_account,
    unbalanced_reason,
)


def test_chart_names_match_the_interfaces():
    assert chart.BANK == "Assets:Bank:Current"
    assert chart.clearing_account("stripe") == "Assets:Clearing:Stripe"
    assert chart.clearing_account("test") == "Assets:Clearing:TestGateway"
    assert chart.GIFT_AID_RECEIVABLE == "Assets:Receivable:GiftAid"
    assert chart.provider_payable(12) == "Liabilities:Payable:Provider-12"
    assert chart.child_fund(3) == "Equity:Fund:Restricted:Child-3"
    assert chart.GENERAL_FUND == "Equity:Fund:General"
    assert chart.PAYMENT_FEES == "Expenses:Fees:Payments"


@pytest.mark.parametrize("bad", [0, -1, True, "3"])
def test_child_fund_refuses_a_non_positive_or_non_integer_id(bad):
    with pytest.raises(ValueError, match="child_id must be a positive integer"):
        chart.child_fund(bad)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("Assets:Bank:Current", True),
        ("Liabilities:Payable:Provider-1", True),
        ("Equity:Fund:Restricted:Child-7", True),
        ("Expenses:Fees:2026", True),
        ("Income:Grants", True),
        ("Assets", False),
        ("Cash:Box", False),
        ("Assets:bank", False),
        ("Assets:Bank Current", False),
        ("Assets::Bank", False),
        ("Assets:Bank_Current", False),
    ],
)
def test_valid_beancount_names(name, valid):
    assert chart.is_valid_name(name) is valid


def test_account_type_and_child_id_come_from_the_name():
    assert chart.account_type_of("Liabilities:Payable:Provider-1") == chart.AccountType.LIABILITIES
    assert chart.child_id_of("Equity:Fund:Restricted:Child-42") == 42
    assert chart.child_id_of("Equity:Fund:General") is None
    assert chart.is_restricted_fund("Equity:Fund:Restricted:Child-1") is True
    assert chart.is_chart_name("Assets:Clearing:Paypal") is True
    assert chart.is_chart_name("Assets:Petty-Cash") is False


def test_unbalanced_reason():
    assert unbalanced_reason([PostingSpec("A", 5), PostingSpec("B", -5)]) is None
    assert "sum to 2 pence" in (unbalanced_reason([PostingSpec("A", 5), PostingSpec("B", -3)]) or "")
    assert "at least two" in (unbalanced_reason([PostingSpec("A", 0)]) or "")
    assert "must not be zero" in (unbalanced_reason([PostingSpec("A", 0), PostingSpec("B", 0)]) or "")
    assert "whole number" in (unbalanced_reason([PostingSpec("A", True), PostingSpec("B", -1)]) or "")


def test_net_by_account_nets_repeated_accounts():
    assert net_by_account([PostingSpec("A", 5), PostingSpec("A", -2), PostingSpec("B", -3)]) == {"A": 3, "B": -3}


def test_content_hash_ignores_order_but_not_amounts():
    d = dt.date(2026, 3, 2)
    a = content_hash(
        kind="donation", on_date=d, postings=[PostingSpec("A", 1), PostingSpec("B", -1)], group_id="", reverses_id=None
    )
    b = content_hash(
        kind="donation", on_date=d, postings=[PostingSpec("B", -1), PostingSpec("A", 1)], group_id="", reverses_id=None
    )
    c = content_hash(
        kind="donation", on_date=d, postings=[PostingSpec("A", 2), PostingSpec("B", -2)], group_id="", reverses_id=None
    )
    e = content_hash(
        kind="refund", on_date=d, postings=[PostingSpec("A", 1), PostingSpec("B", -1)], group_id="", reverses_id=None
    )
    assert a == b
    assert len({a, c, e}) == 3


def test_content_hash_is_the_sha256_of_the_documented_canonical_json():
    # Stored fingerprints must keep matching: this pins the exact bytes (keys sorted, no spaces, pairs sorted).
    import hashlib

    text = (
        '{"group_id":"gift-9","kind":"donation","on_date":"2026-03-02","postings":[["Assets:Clearing:Stripe",1250],'
        '["Equity:Fund:Restricted:Child-7",-1250]],"reverses":null}'
    )
    expected = hashlib.sha256(text.encode()).hexdigest()
    assert expected == "2721446b7ca457365b526999015ce2d58b83a63b72be6af33d3fef6576975147"
    postings = [PostingSpec("Equity:Fund:Restricted:Child-7", -1250), PostingSpec("Assets:Clearing:Stripe", 1250)]
    d = dt.date(2026, 3, 2)
    assert content_hash(kind="donation", on_date=d, postings=postings, group_id="gift-9", reverses_id=None) == expected
    reversal = content_hash(kind="reversal", on_date=d, postings=postings, group_id="", reverses_id=41)
    text = text.replace('"gift-9","kind":"donation"', '"","kind":"reversal"').replace("null", "41")
    assert reversal == hashlib.sha256(text.encode()).hexdigest()


# --- first in, first out ------------------------------------------------------------------------------------


def test_fifo_the_oldest_gift_pays_first():
    trace = allocate_fifo([FundMovement(1, 5000), FundMovement(2, 3000), FundMovement(3, -6000)])
    assert trace.allocations == (Allocation(1, 3, 5000), Allocation(2, 3, 1000))
    assert trace.unspent == ((2, 2000),)


def test_fifo_a_refund_takes_its_own_gift_first():
    trace = allocate_fifo(
        [FundMovement(1, 5000), FundMovement(2, 3000), FundMovement(3, -3000, reverses=2), FundMovement(4, -4000)]
    )
    assert trace.allocations == (Allocation(2, 3, 3000), Allocation(1, 4, 4000))
    assert trace.unspent == ((1, 1000),)


def test_fifo_a_refund_of_a_partly_spent_gift_takes_the_rest_from_the_oldest():
    trace = allocate_fifo(
        [FundMovement(1, 1000), FundMovement(2, 1000), FundMovement(3, -1500), FundMovement(4, -500, reverses=2)]
    )
    assert trace.allocations == (Allocation(1, 3, 1000), Allocation(2, 3, 500), Allocation(2, 4, 500))
    assert trace.unspent == ()


def test_fifo_reversing_a_payment_gives_the_money_back_to_its_gifts_in_their_places():
    trace = allocate_fifo(
        [
            FundMovement(1, 1000),
            FundMovement(2, 1000),
            FundMovement(3, -1500),
            FundMovement(4, 1500, reverses=3),
            FundMovement(5, -200),
        ]
    )
    assert trace.allocations == (Allocation(1, 5, 200),)
    assert trace.unspent == ((1, 800), (2, 1000))


def test_fifo_an_overspend_is_named_unfunded():
    trace = allocate_fifo([FundMovement(1, 100), FundMovement(2, -150)])
    assert trace.allocations == (Allocation(1, 2, 100), Allocation(None, 2, 50))


@st.composite
def fund_histories(draw: st.DrawFn) -> list[FundMovement]:
    movements: list[FundMovement] = []
    balance = 0
    credits: list[int] = []
    debits: list[int] = []
    for ref in range(1, draw(st.integers(1, 40)) + 1):
        choice = draw(st.sampled_from(["in", "out", "refund", "undo"]))
        if choice == "in" or balance == 0:
            amount = draw(st.integers(1, 100_000))
            movements.append(FundMovement(ref, amount))
            credits.append(ref)
            balance += amount
        elif choice == "out" or (choice == "refund" and not credits) or (choice == "undo" and not debits):
            amount = draw(st.integers(1, balance))
            movements.append(FundMovement(ref, -amount))
            debits.append(ref)
            balance -= amount
        elif choice == "refund":
            target = draw(st.sampled_from(credits))
            amount = draw(st.integers(1, balance))
            movements.append(FundMovement(ref, -amount, reverses=target))
            balance -= amount
        else:
            target = draw(st.sampled_from(debits))
            amount = -next(m.amount_pence for m in movements if m.ref == target)
            movements.append(FundMovement(ref, amount, reverses=target))
            debits.remove(target)
            balance += amount
    return movements


@given(fund_histories())
def test_fifo_loses_no_penny_and_never_over_uses_a_source(movements):
    trace = allocate_fifo(movements)
    money_in = sum(m.amount_pence for m in movements if m.amount_pence > 0)
    money_out = -sum(m.amount_pence for m in movements if m.amount_pence < 0)
    balance = money_in - money_out
    # a fund that never goes below zero has no unfunded spend
    assert all(a.source is not None for a in trace.allocations)
    assert all(a.amount_pence > 0 for a in trace.allocations)
    # what is unspent is exactly the balance
    assert sum(p for _, p in trace.unspent) == balance
    # no source is used beyond what it brought in (reversed spends give money back)
    brought = {m.ref: m.amount_pence for m in movements if m.amount_pence > 0 and m.reverses is None}
    used: dict[int, int] = {}
    for a in trace.allocations:
        assert a.source is not None
        used[a.source] = used.get(a.source, 0) + a.amount_pence
    unspent = dict(trace.unspent)
    # each gift's money is either used or still unspent, to the penny
    for source, amount in brought.items():
        assert used.get(source, 0) + unspent.get(source, 0) == amount
    assert set(used) | set(unspent) <= set(brought)
    # every spend that was not reversed is fully explained by its sources
    reversed_refs = {m.reverses for m in movements if m.amount_pence > 0 and m.reverses is not None}
    for m in movements:
        if m.amount_pence < 0 and m.ref not in reversed_refs:
            assert sum(a.amount_pence for a in trace.allocations if a.use == m.ref) == -m.amount_pence


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=20), st.data())
def test_fifo_without_reversals_spends_gifts_strictly_in_order(gifts, data):
    total = sum(gifts)
    spend = data.draw(st.integers(1, total))
    movements = [FundMovement(i + 1, g) for i, g in enumerate(gifts)] + [FundMovement(999, -spend)]
    trace = allocate_fifo(movements)
    sources = [a.source for a in trace.allocations]
    assert sources == sorted(sources)  # oldest first
    # every source but the last is used in full
    for a in trace.allocations[:-1]:
        assert a.amount_pence == gifts[a.source - 1]  # type: ignore[operator]
    assert sum(a.amount_pence for a in trace.allocations) == spend
