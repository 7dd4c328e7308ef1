"""Worked examples that read like accounting stories, and every refusal of the ledger's writers."""

from __future__ import annotations

import datetime as dt

import pytest

from carefund.core.models import AuditEvent
from carefund.ledger import chart
from carefund.ledger.errors import (
    AlreadyReversedError,
    ClosedAccountError,
    FundOverdrawnError,
    IdempotencyConflictError,
    InvalidAccountNameError,
    UnbalancedTransactionError,
    UnknownAccountError,
)
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Account, AccountDayBalance, Posting, Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence
from carefund.ledger.services import PostingSpec, account_close, account_open, ledger_post, ledger_reverse
from carefund.ledger.tests import books

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 2)
FUND = chart.child_fund(1)


def counts() -> tuple[int, int, int, int]:
    return (
        Transaction.objects.count(),
        Posting.objects.count(),
        AccountDayBalance.objects.count(),
        AuditEvent.objects.filter(action="ledger.post").count(),
    )


def test_a_gift_for_james_lands_in_his_restricted_fund():
    txn = books.gift(1, 5000, D, memo="Gift from Aunt Jo")

    assert txn.is_posted is True
    assert [(p.account.name, p.amount_pence) for p in txn.postings.order_by("id")] == [
        ("Assets:Clearing:Stripe", 5000),
        ("Equity:Fund:Restricted:Child-1", -5000),
    ]
    assert fund_balance_pence(child_id=1) == 5000
    assert account_balance_pence(name=FUND) == -5000
    assert account_balance_pence(name=books.STRIPE) == 5000
    fund = Account.objects.get(name=FUND)
    assert (fund.type, fund.child_id, fund.is_restricted) == ("Equity", 1, True)
    event = AuditEvent.objects.get(action="ledger.post")
    assert event.target_id == str(txn.pk)


def test_the_whole_story_of_a_fund_from_gifts_to_a_paid_invoice():
    t = books.realistic_book()

    # Child 1: 5,000 + 120,000 gifts + 1,250 Gift Aid - 100,000 invoice - 20,000 transfer = 6,250
    assert fund_balance_pence(child_id=1) == 6250
    # Child 2: 2,500 gift refunded, then 20,000 received by transfer
    assert fund_balance_pence(child_id=2) == 20000
    assert account_balance_pence(name=chart.BANK) == 124855 + 1250 - 100000
    assert account_balance_pence(name=books.STRIPE) == 0
    assert account_balance_pence(name=chart.GIFT_AID_RECEIVABLE) == 0
    assert account_balance_pence(name=chart.provider_payable(7)) == 0
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 145
    assert t["r3"].reverses_id == t["g3"].pk
    assert ledger_check() == []


def test_balances_as_of_a_date_read_the_day_closing():
    books.gift(1, 5000, D)
    books.gift(1, 3000, D + dt.timedelta(days=2))
    books.invoice(1, 7, 6000, D + dt.timedelta(days=5))

    assert fund_balance_pence(child_id=1, as_of=D - dt.timedelta(days=1)) == 0
    assert fund_balance_pence(child_id=1, as_of=D) == 5000
    assert fund_balance_pence(child_id=1, as_of=D + dt.timedelta(days=1)) == 5000
    assert fund_balance_pence(child_id=1, as_of=D + dt.timedelta(days=2)) == 8000
    assert fund_balance_pence(child_id=1, as_of=D + dt.timedelta(days=5)) == 2000
    assert fund_balance_pence(child_id=1) == 2000
    assert fund_balance_pence(child_id=99) == 0


def test_a_back_dated_gift_moves_every_later_day():
    books.gift(1, 5000, D + dt.timedelta(days=10))
    books.gift(1, 700, D)

    assert fund_balance_pence(child_id=1, as_of=D) == 700
    assert fund_balance_pence(child_id=1, as_of=D + dt.timedelta(days=10)) == 5700
    assert ledger_check() == []


def test_a_back_dated_spend_that_would_overdraw_an_earlier_day_is_refused():
    books.gift(1, 5000, D + dt.timedelta(days=10))
    before = counts()

    with pytest.raises(FundOverdrawnError, match="would go below zero"):
        books.invoice(1, 7, 1000, D)

    assert counts() == before


def test_overspending_a_restricted_fund_is_refused_and_writes_nothing():
    books.gift(1, 5000, D)
    before = counts()

    with pytest.raises(FundOverdrawnError) as exc:
        books.invoice(1, 7, 5001, D)

    assert "Equity:Fund:Restricted:Child-1" in str(exc.value)
    assert "holds £50.00 now and this transaction takes £50.01 out" in str(exc.value)  # pounds, as people read them
    assert counts() == before
    assert fund_balance_pence(child_id=1) == 5000


def test_spending_exactly_what_the_fund_holds_is_allowed():
    books.gift(1, 5000, D)
    books.invoice(1, 7, 5000, D)
    assert fund_balance_pence(child_id=1) == 0


@pytest.mark.parametrize(
    ("postings", "message"),
    [
        ([PostingSpec(chart.BANK, 100), PostingSpec(FUND, -99)], "sum to 1 pence"),
        ([PostingSpec(chart.BANK, 100)], "at least two postings, got 1"),
        ([], "at least two postings, got 0"),
        ([PostingSpec(chart.BANK, 0), PostingSpec(FUND, 0)], "must not be zero"),
        ([PostingSpec(chart.BANK, 1.5), PostingSpec(FUND, -1.5)], "whole number of pence"),  # type: ignore[arg-type]
    ],
)
def test_unbalanced_or_empty_transactions_are_refused(postings, message):
    before = counts()
    with pytest.raises(UnbalancedTransactionError, match=message):
        ledger_post(kind="donation", postings=postings, memo="x", on_date=D, idempotency_key="k")
    assert counts() == before
    assert Account.objects.count() == 0


def test_an_unknown_account_is_refused():
    with pytest.raises(UnknownAccountError, match="has not been opened"):
        ledger_post(
            kind="adjustment",
            postings=[PostingSpec(chart.BANK, 100), PostingSpec("Assets:Petty-Cash", -100)],
            memo="x",
            on_date=D,
            idempotency_key="k",
        )
    assert counts() == (0, 0, 0, 0)
    assert not Account.objects.filter(name="Assets:Petty-Cash").exists()


def test_an_invalid_account_name_is_refused():
    with pytest.raises(InvalidAccountNameError, match="not a valid account name"):
        ledger_post(
            kind="adjustment",
            postings=[PostingSpec(chart.BANK, 100), PostingSpec("Assets:petty cash", -100)],
            memo="x",
            on_date=D,
            idempotency_key="k",
        )
    assert counts() == (0, 0, 0, 0)


def test_an_opened_account_can_be_posted_to_and_open_is_idempotent():
    first = account_open(name="Assets:Petty-Cash", description="Cash box")
    again = account_open(name="Assets:Petty-Cash")
    assert first.pk == again.pk
    ledger_post(
        kind="adjustment",
        postings=[PostingSpec(chart.BANK, -100), PostingSpec("Assets:Petty-Cash", 100)],
        memo="Float",
        on_date=D,
        idempotency_key="float",
    )
    assert account_balance_pence(name="Assets:Petty-Cash") == 100
    assert AuditEvent.objects.filter(action="ledger.account_open").count() == 1


@pytest.mark.parametrize("name", ["Assets", "assets:Bank", "Assets:bank", "Cash:Box", "Assets:Bank Account", ""])
def test_account_open_refuses_invalid_names(name):
    with pytest.raises(InvalidAccountNameError):
        account_open(name=name)
    assert Account.objects.count() == 0


def test_account_open_refuses_a_child_id_that_does_not_match_the_name():
    with pytest.raises(InvalidAccountNameError, match="does not match"):
        account_open(name=chart.child_fund(3), child_id=4)
    assert Account.objects.count() == 0


def test_a_closed_account_is_refused():
    account_open(name="Assets:Petty-Cash")
    account_close(name="Assets:Petty-Cash", on_date=D)
    with pytest.raises(ClosedAccountError, match="was closed on 2026-03-02"):
        ledger_post(
            kind="adjustment",
            postings=[PostingSpec(chart.BANK, -100), PostingSpec("Assets:Petty-Cash", 100)],
            memo="Float",
            on_date=D,
            idempotency_key="float",
        )
    assert counts() == (0, 0, 0, 0)


def test_an_account_holding_money_cannot_be_closed():
    books.gift(1, 100, D)
    with pytest.raises(ClosedAccountError, match="holds -100 pence"):
        account_close(name=FUND)
    assert Account.objects.get(name=FUND).closed_on is None


def test_the_same_event_posted_twice_posts_once():
    lines = [PostingSpec(books.STRIPE, 2500), PostingSpec(FUND, -2500)]
    first = ledger_post(kind="donation", postings=lines, memo="Gift", on_date=D, idempotency_key="donation-42")
    before = counts()
    again = ledger_post(
        kind="donation", postings=list(reversed(lines)), memo="Gift (retry)", on_date=D, idempotency_key="donation-42"
    )
    assert again.pk == first.pk
    assert counts() == before
    assert fund_balance_pence(child_id=1) == 2500


def test_the_same_key_with_different_content_is_a_conflict():
    ledger_post(
        kind="donation",
        postings=[PostingSpec(books.STRIPE, 2500), PostingSpec(FUND, -2500)],
        memo="Gift",
        on_date=D,
        idempotency_key="donation-42",
    )
    before = counts()
    with pytest.raises(IdempotencyConflictError, match="donation-42"):
        ledger_post(
            kind="donation",
            postings=[PostingSpec(books.STRIPE, 3000), PostingSpec(FUND, -3000)],
            memo="Gift",
            on_date=D,
            idempotency_key="donation-42",
        )
    assert counts() == before


def test_a_refund_reverses_the_gift_exactly_and_links_to_it():
    gift = books.gift(1, 5000, D)
    refund = ledger_reverse(transaction=gift, memo="Donor asked for a refund", on_date=D, kind="refund")

    assert refund.reverses_id == gift.pk
    assert refund.kind == "refund"
    assert refund.group_id == gift.group_id
    assert sorted(refund.postings.values_list("account__name", "amount_pence")) == [
        ("Assets:Clearing:Stripe", -5000),
        ("Equity:Fund:Restricted:Child-1", 5000),
    ]
    assert fund_balance_pence(child_id=1) == 0
    assert gift.reversed_by == refund


def test_reversing_twice_is_refused_but_a_retry_returns_the_reversal():
    gift = books.gift(1, 5000, D)
    first = ledger_reverse(transaction=gift, memo="Refund", on_date=D)
    assert ledger_reverse(transaction=gift, memo="Refund", on_date=D).pk == first.pk
    before = counts()
    with pytest.raises(AlreadyReversedError, match="already reversed"):
        ledger_reverse(transaction=gift, memo="Refund again", on_date=D, idempotency_key="other")
    assert counts() == before


def test_refunding_a_gift_the_fund_has_spent_is_refused():
    gift = books.gift(1, 5000, D)
    books.invoice(1, 7, 4000, D)
    before = counts()
    with pytest.raises(FundOverdrawnError):
        ledger_reverse(transaction=gift, memo="Refund", on_date=D)
    assert counts() == before
    assert not Transaction.objects.filter(reverses=gift).exists()


def test_reversing_a_spend_gives_the_money_back_to_the_fund():
    books.gift(1, 5000, D)
    inv = books.invoice(1, 7, 4000, D)
    ledger_reverse(transaction=inv, memo="Invoice withdrawn", on_date=D + dt.timedelta(days=1))
    assert fund_balance_pence(child_id=1) == 5000
    assert account_balance_pence(name=chart.provider_payable(7)) == 0
    assert ledger_check() == []


@pytest.mark.parametrize(
    ("field", "kwargs", "message"),
    [
        ("kind", {"kind": "gift"}, "not a transaction kind"),
        ("memo", {"memo": "  "}, "memo must say"),
        ("idempotency_key", {"idempotency_key": ""}, "idempotency_key must be"),
        ("on_date", {"on_date": "2026-03-02"}, "on_date must be a date"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(field, kwargs, message):
    args = {
        "kind": "donation",
        "postings": [PostingSpec(chart.BANK, 100), PostingSpec(FUND, -100)],
        "memo": "Gift",
        "on_date": D,
        "idempotency_key": "k",
    }
    args.update(kwargs)
    with pytest.raises(UnbalancedTransactionError, match=message) as exc:
        ledger_post(**args)
    assert exc.value.field == field
    assert counts() == (0, 0, 0, 0)


def test_a_crash_between_postings_leaves_no_half_transaction(monkeypatch):
    from carefund.ledger import services

    def boom(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(services, "_apply_day_balances", boom)
    with pytest.raises(RuntimeError):
        books.gift(1, 5000, D)
    assert counts() == (0, 0, 0, 0)
    assert Account.objects.count() == 0
    assert fund_balance_pence(child_id=1) == 0


def test_an_actor_is_recorded_in_the_audit(django_user_model):
    user = django_user_model.objects.create_user(username="fo", password="x")
    txn = ledger_post(
        kind="donation",
        postings=[PostingSpec(chart.BANK, 100), PostingSpec(FUND, -100)],
        memo="Cash gift",
        on_date=D,
        idempotency_key="cash-1",
        actor=user,
        metadata={"donation_id": 9},
    )
    event = AuditEvent.objects.get(action="ledger.post")
    assert event.actor == user
    assert txn.metadata == {"donation_id": 9}


def test_closing_an_unknown_account_is_refused():
    with pytest.raises(UnknownAccountError, match="does not exist"):
        account_close(name="Assets:Petty-Cash")
    assert Account.objects.count() == 0


def test_reversing_an_unsaved_transaction_is_refused():
    from carefund.core.errors import NotFoundError

    with pytest.raises(NotFoundError, match="not a posted transaction"):
        ledger_reverse(transaction=Transaction(pk=12345), memo="x", on_date=D)
    assert counts() == (0, 0, 0, 0)


def test_a_partial_refund_names_its_gift_and_traces_to_it():
    from carefund.ledger.selectors import spend_sources

    jo = books.gift(1, 5000, D, memo="Aunt Jo")
    sam = books.gift(1, 3000, D, memo="Sam")
    partial = ledger_post(
        kind="refund",
        postings=[PostingSpec(FUND, 1000), PostingSpec(books.STRIPE, -1000)],
        memo="Part refund to Sam",
        on_date=D,
        idempotency_key="refund-sam-1",
        metadata={"refund_of": sam.pk},
    )
    assert [(link.transaction_id, link.amount_pence) for link in spend_sources(transaction_id=partial.pk)] == [
        (sam.pk, 1000)
    ]
    assert jo.pk != sam.pk


def test_admin_is_read_only(rf):
    from django.contrib.admin.sites import site

    from carefund.ledger.models import Transaction as T

    model_admin = site._registry[T]
    request = rf.get("/")
    assert (
        model_admin.has_add_permission(request),
        model_admin.has_change_permission(request),
        model_admin.has_delete_permission(request),
    ) == (False, False, False)


def test_a_back_dated_spend_may_not_leave_a_later_refund_unfunded():
    """Found by the property test: every day's closing balance would stay at or above zero, but inside a later day,
    in the book's order, a refund would find the fund empty until a later gift arrives. Refused."""
    day4, day5 = D, D + dt.timedelta(days=1)
    first = books.gift(2, 100, day5)
    late_cheque = books.gift(2, 100, day4)
    books.refund(late_cheque, day5)
    books.refund(first, day5)
    books.gift(2, 100, day5)
    before = counts()

    with pytest.raises(FundOverdrawnError, match=r"would go below zero \(on 2026-03-03\)"):
        books.invoice(2, 7, 100, day4)

    assert counts() == before
    assert ledger_check() == []


# --- what ledger_post returns and how many statements it takes (regression guards for its fast path) -----------


def _fields(txn: Transaction) -> list[object]:
    return [getattr(txn, f.attname) for f in Transaction._meta.concrete_fields]


def test_the_returned_transaction_is_the_row_as_stored(django_assert_num_queries):
    books.gift(1, 100, D)  # opens the accounts
    txn = ledger_post(
        kind="donation",
        postings=[PostingSpec(books.STRIPE, 2500), PostingSpec(FUND, -2500)],
        memo="  Gift from Aunt Jo  ",
        on_date=D,
        idempotency_key="returned-row-1",  # books.gift's keys are "donation-<n>"
        group_id="donation-77",
        metadata={"donation": 77},
    )
    # built without a query, field by field as a fresh read of the row (the instance is saved, not "adding")
    assert _fields(txn) == _fields(Transaction.objects.get(pk=txn.pk))
    assert txn.memo == "Gift from Aunt Jo" and txn.metadata == {"donation": 77} and txn.is_posted is True
    assert (txn._state.adding, txn._state.db) == (False, "default")
    refund = ledger_reverse(transaction=txn, memo="Refund", on_date=D, kind="refund")
    assert _fields(refund) == _fields(Transaction.objects.get(pk=refund.pk))
    with django_assert_num_queries(0):
        assert refund.reverses is not None and refund.reverses.pk == txn.pk


def test_one_gift_takes_six_statements_in_its_savepoint(django_assert_num_queries):
    books.gift(1, 100, D)  # opens the accounts
    # savepoint set and released = 2; balances update (locks the accounts), transaction insert, postings insert,
    # mark posted, day balances upsert, audit event = 6
    with django_assert_num_queries(8):
        txn = books.gift(1, 2500, D)
    event = AuditEvent.objects.get(action="ledger.post", target_id=str(txn.pk))
    assert (event.target_type, event.summary, event.actor_id) == (
        "ledger.transaction",
        "donation 2026-03-02: Gift",
        None,
    )
    assert event.details == {
        "postings": [["Assets:Clearing:Stripe", 2500], ["Equity:Fund:Restricted:Child-1", -2500]],
        "group_id": "donation-Gift",
    }
    assert ledger_check() == []
