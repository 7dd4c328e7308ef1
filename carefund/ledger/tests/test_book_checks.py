"""Finding 4 of issue 16: `ledger check` reconciles every gift, refund and fee against its postings, flags asset
accounts below zero, clearing accounts that drift and child funds that belong to no child, and exits non-zero with
what it found. (A gift's amount raised by SQL, and a fund of a child who does not exist, were called clean.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from carefund.campaigns import services
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign, make_pending, refund_event
from carefund.core import clock
from carefund.ledger import chart
from carefund.ledger.integrity import ledger_check
from carefund.ledger.services import PostingSpec, ledger_post
from carefund.ledger.tests import books
from carefund.ledger.tests.test_commands import run

pytestmark = [pytest.mark.django_db, pytest.mark.book_checks]


def _confirmed(amount_pence: int = 2500, costs: int = 0):  # type: ignore[no-untyped-def]
    gift = make_pending(make_campaign(), amount_pence=amount_pence, costs=costs)
    fee = 20 + (gift.total_pence * 15 + 500) // 1000  # the test gateway's fee (campaigns.rules)
    assert deliver(completed_event(gift, fee_pence=fee)).status_code == 200
    gift.refresh_from_db()
    assert gift.status == "succeeded"
    return gift


def _sql(statement: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_gifts_refunds_and_fees_that_match_their_postings_are_clean() -> None:
    kept = _confirmed(4000, costs=250)
    refunded = _confirmed(1000)
    assert deliver(refund_event(refunded)).status_code == 200
    in_part = _confirmed(3000)
    services.donation_partial_refund(donation_id=in_part.pk, refunded_pence=1200)
    assert kept.fee_pence == 20 + 64 and ledger_check() == []
    assert run("check") == (0, "ledger check: clean\n")


def test_a_gift_raised_by_sql_is_found_and_the_command_fails() -> None:
    gift = _confirmed(2500)
    _sql("UPDATE campaigns_donation SET amount_pence = 250000 WHERE id = %s", [gift.pk])
    findings = ledger_check()
    assert findings == [
        f"gift #{gift.pk}: the funds were credited 2500 pence, the gifts say 250000 pence (given, less refunds)"
    ]
    code, out = run("check")
    assert code == 1 and f"- gift #{gift.pk}: the funds were credited 2500 pence" in out


def test_a_fee_or_a_refund_that_disagrees_with_the_postings_is_found() -> None:
    _confirmed(5000)  # the clearing account holds enough for the refund (the provider keeps its fee)
    gift = _confirmed(2500)
    _sql("UPDATE campaigns_donation SET fee_pence = fee_pence + 1 WHERE id = %s", [gift.pk])
    assert ledger_check() == [
        f"gift #{gift.pk}: payment fees of {gift.fee_pence} pence were posted, the gifts say {gift.fee_pence + 1} pence"
    ]
    _sql("UPDATE campaigns_donation SET fee_pence = fee_pence - 1 WHERE id = %s", [gift.pk])
    assert deliver(refund_event(gift)).status_code == 200
    _sql("UPDATE campaigns_donation SET status = 'succeeded' WHERE id = %s", [gift.pk])  # the refund hidden
    assert ledger_check() == [
        f"gift #{gift.pk}: the funds were credited 0 pence, the gifts say 2500 pence (given, less refunds)"
    ]


def test_a_confirmed_gift_without_its_transaction_is_found() -> None:
    gift = make_pending(make_campaign())
    _sql("UPDATE campaigns_donation SET status = 'succeeded' WHERE id = %s", [gift.pk])
    assert ledger_check() == [f"gift #{gift.pk} is succeeded but has no ledger transaction"]


def test_a_fund_of_a_child_who_does_not_exist_is_found() -> None:
    books.gift(999_999, 500, clock.today(), memo="nobody")  # posted straight to the ledger, by no service
    assert ledger_check() == [
        "account Equity:Fund:Restricted:Child-999999 is the restricted fund of child 999999, who does not exist"
    ]


def test_an_asset_account_below_zero_is_found() -> None:
    ledger_post(
        kind="adjustment",
        postings=[PostingSpec(chart.PAYMENT_FEES, 700), PostingSpec(chart.BANK, -700)],
        memo="a fee paid from an empty bank",
        on_date=clock.today(),
        idempotency_key="overdrawn",
    )
    assert ledger_check() == ["asset account Assets:Bank:Current is below zero: 700 pence"]


def test_a_clearing_account_that_is_never_paid_out_drifts(settings) -> None:  # type: ignore[no-untyped-def]
    settings.LEDGER_CLEARING_MAX_DAYS = 14
    child = make_campaign().child_id
    today = clock.today()
    books.gift(child, 3000, today - dt.timedelta(days=20), memo="old")
    books.gift(child, 1000, today - dt.timedelta(days=2), memo="recent")
    assert ledger_check() == [
        "clearing account Assets:Clearing:Stripe drifts: it holds 4000 pence, 3000 pence more than came in over the "
        "last 14 days; a payout is missing or was never posted"
    ]
    books.payout(3000, today - dt.timedelta(days=1))  # the old money paid out: only the recent gift is held
    assert ledger_check() == []
