"""Property tests: any sequence of gifts, refunds, invoices, payments, transfers and reversals keeps every
transaction balanced, the whole book at zero, no restricted fund below zero, and `ledger check` clean."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from carefund.ledger import chart
from carefund.ledger.errors import AlreadyReversedError, FundOverdrawnError
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Posting, Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence, fund_trace, spend_sources
from carefund.ledger.services import ledger_reverse
from carefund.ledger.tests import books

CHILDREN = st.sampled_from([1, 2, 3])
PENCE = st.integers(min_value=1, max_value=500_000)


def lowest_held_from(child: int, on: dt.date) -> int:
    """The least money the fund held at the end of `on` or after any later posting (the model's own walk)."""
    rows = list(
        Posting.objects.filter(account__name=chart.child_fund(child))
        .order_by("transaction__on_date", "transaction_id", "id")
        .values_list("transaction__on_date", "amount_pence")
    )
    held_at_on = -sum(amount for day, amount in rows if day <= on)
    lowest = held_at_on
    held = held_at_on
    for day, amount in rows:
        if day > on:
            held -= amount
            lowest = min(lowest, held)
    return lowest


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.day = dt.date(2026, 1, 5)
        self.expected = {1: 0, 2: 0, 3: 0}  # what each fund should hold
        self.gifts: list[tuple[int, Transaction]] = []
        self.spends: list[tuple[int, Transaction]] = []
        self.reversed: set[int] = set()

    def teardown(self) -> None:
        try:
            assert ledger_check() == []
        finally:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

    def _written(self) -> tuple[int, int]:
        return Transaction.objects.count(), Posting.objects.count()

    @rule(days=st.integers(0, 3))
    def next_day(self, days: int) -> None:
        self.day += dt.timedelta(days=days)

    @rule(child=CHILDREN, pence=PENCE)
    def gift(self, child: int, pence: int) -> None:
        txn = books.gift(child, pence, self.day)
        self.expected[child] += pence
        self.gifts.append((child, txn))

    @rule(child=CHILDREN, pence=PENCE, back=st.integers(1, 5))
    def gift_back_dated(self, child: int, pence: int, back: int) -> None:
        """A cheque banked late: dated days before the latest postings, every later day moves."""
        txn = books.gift(child, pence, self.day - dt.timedelta(days=back))
        self.expected[child] += pence
        self.gifts.append((child, txn))

    @rule(child=CHILDREN, pence=PENCE, back=st.integers(1, 5))
    def invoice_back_dated(self, child: int, pence: int, back: int) -> None:
        """A back-dated spend is allowed only if the fund held enough at the end of that day and after every
        later posting (in the book's order: date, then transaction)."""
        on = self.day - dt.timedelta(days=back)
        lowest = lowest_held_from(child, on)
        before = self._written()
        if pence > lowest:
            with pytest.raises(FundOverdrawnError):
                books.invoice(child, 7, pence, on)
            assert self._written() == before
            return
        self.spends.append((child, books.invoice(child, 7, pence, on)))
        self.expected[child] -= pence

    @rule(child=CHILDREN, pence=PENCE)
    def gift_aid(self, child: int, pence: int) -> None:
        self.gifts.append((child, books.gift_aid_claim(child, pence, self.day)))
        self.expected[child] += pence

    @rule(child=CHILDREN, pence=PENCE, provider=st.sampled_from([7, 8]))
    def invoice(self, child: int, pence: int, provider: int) -> None:
        before = self._written()
        if pence > self.expected[child]:
            with pytest.raises(FundOverdrawnError):
                books.invoice(child, provider, pence, self.day)
            assert self._written() == before
            return
        self.spends.append((child, books.invoice(child, provider, pence, self.day)))
        self.expected[child] -= pence

    @rule(provider=st.sampled_from([7, 8]), data=st.data())
    def pay_provider(self, provider: int, data: st.DataObject) -> None:
        owed = -account_balance_pence(name=chart.provider_payable(provider))
        if owed > 0:
            books.payment(provider, data.draw(st.integers(1, owed)), self.day)

    @rule(source=CHILDREN, to_child=CHILDREN, pence=PENCE)
    def transfer(self, source: int, to_child: int, pence: int) -> None:
        if source == to_child:
            return
        before = self._written()
        if pence > self.expected[source]:
            with pytest.raises(FundOverdrawnError):
                books.transfer(source, to_child, pence, self.day)
            assert self._written() == before
            return
        books.transfer(source, to_child, pence, self.day)
        self.expected[source] -= pence
        self.expected[to_child] += pence

    @precondition(lambda self: bool(self.gifts))
    @rule(data=st.data())
    def refund_a_gift(self, data: st.DataObject) -> None:
        child, gift = data.draw(st.sampled_from(self.gifts))
        amount = -sum(p.amount_pence for p in gift.postings.all() if p.account.name == chart.child_fund(child))
        before = self._written()
        if gift.pk in self.reversed:
            with pytest.raises(AlreadyReversedError):
                ledger_reverse(transaction=gift, memo="Refund again", on_date=self.day, idempotency_key=f"r2-{gift.pk}")
        elif amount > self.expected[child]:
            with pytest.raises(FundOverdrawnError):
                books.refund(gift, self.day)
        else:
            books.refund(gift, self.day)
            self.reversed.add(gift.pk)
            self.expected[child] -= amount
            return
        assert self._written() == before

    @precondition(lambda self: bool(self.spends))
    @rule(data=st.data())
    def reverse_a_spend(self, data: st.DataObject) -> None:
        child, spend = data.draw(st.sampled_from(self.spends))
        if spend.pk in self.reversed:
            return
        amount = sum(p.amount_pence for p in spend.postings.all() if p.account.name == chart.child_fund(child))
        payable = next(p.account.name for p in spend.postings.all() if p.account.name != chart.child_fund(child))
        if -account_balance_pence(name=payable) < amount:
            return  # already paid: a paid invoice is not withdrawn
        ledger_reverse(transaction=spend, memo="Invoice withdrawn", on_date=self.day)
        self.reversed.add(spend.pk)
        self.expected[child] += amount

    @invariant()
    def funds_hold_what_the_story_says_and_never_below_zero(self) -> None:
        for child, pence in self.expected.items():
            assert fund_balance_pence(child_id=child) == pence
            assert pence >= 0

    @invariant()
    def the_book_sums_to_zero(self) -> None:
        assert sum(Posting.objects.values_list("amount_pence", flat=True)) == 0

    @invariant()
    def every_live_spend_is_traced_to_its_gifts(self) -> None:
        for child in self.expected:
            trace = fund_trace(child_id=child)
            assert trace.unfunded_pence == 0
            assert sum(link.amount_pence for link in trace.unspent) == self.expected[child]
        for child, spend in self.spends[-3:]:
            if spend.pk in self.reversed:
                continue
            amount = sum(p.amount_pence for p in spend.postings.all() if p.account.name == chart.child_fund(child))
            assert sum(link.amount_pence for link in spend_sources(transaction_id=spend.pk)) == amount


@pytest.mark.django_db
def test_random_books_stay_balanced_and_funds_never_go_below_zero():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amounts=st.lists(st.integers(min_value=-100_000, max_value=100_000), min_size=0, max_size=5),
    balance_last=st.booleans(),
)
def test_any_postings_are_posted_whole_or_refused_with_nothing_written(amounts, balance_last):
    from carefund.ledger.errors import UnbalancedTransactionError
    from carefund.ledger.integrity import clearing_accounts_below_zero
    from carefund.ledger.services import PostingSpec, ledger_post

    if balance_last and amounts:
        amounts = [*amounts, -sum(amounts)]
    names = [chart.BANK, chart.GENERAL_FUND, chart.PAYMENT_FEES, chart.GIFT_AID_RECEIVABLE, "Assets:Clearing:Stripe"]
    postings = [PostingSpec(names[i % len(names)], a) for i, a in enumerate(amounts)]
    valid = len(amounts) >= 2 and 0 not in amounts and sum(amounts) == 0
    with transaction.atomic():
        before = (Transaction.objects.count(), Posting.objects.count())
        if valid:
            txn = ledger_post(
                kind="adjustment", postings=postings, memo="m", on_date=dt.date(2026, 1, 5), idempotency_key="p"
            )
            assert sorted(txn.postings.values_list("amount_pence", flat=True)) == sorted(amounts)
            # whole and balanced; a clearing account these postings leave below zero is noticed, and nothing else
            assert ledger_check() == clearing_accounts_below_zero()
        else:
            with pytest.raises(UnbalancedTransactionError):
                ledger_post(
                    kind="adjustment", postings=postings, memo="m", on_date=dt.date(2026, 1, 5), idempotency_key="p"
                )
            assert (Transaction.objects.count(), Posting.objects.count()) == before
        transaction.set_rollback(True)
