"""Partial refunds (`services.donation_partial_refund`, through the real webhook endpoint): the provider refunds part of
a charge and reports the running total (`amount_refunded` of `charge.refunded`); carefund posts what is new, once,
shared between the child's gift and the contribution to costs as the donor shared them, and every figure that
counts gifts (money raised, Gift Aid, the reconciliation, the donor's page) then counts what the donor kept. And a
dispute the charity won (`services.donation_dispute_won`, `charge.dispute.funds_reinstated`): the money given back
is posted where the dispute took it from, and the gift stands again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from carefund.campaigns import rules, selectors, services
from carefund.campaigns.models import Donation, DonationStatus, WebhookEvent
from carefund.campaigns.tests.factories import (
    caseworker,
    completed_event,
    deliver,
    event_state,
    make_campaign,
    make_pending,
    outcome,
    refund_event,
)
from carefund.core import clock
from carefund.core.errors import ValidationError
from carefund.core.models import AuditEvent
from carefund.giftaid.rules import Scope
from carefund.giftaid.selectors import gift_aid_due_for_campaign, gift_aid_due_for_donation
from carefund.giftaid.tests.factories import declare
from carefund.ledger import chart
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence, gift_unspent_pence, gift_uses
from carefund.ledger.services import PostingSpec, ledger_post

pytestmark = pytest.mark.django_db

CLEARING = "Assets:Clearing:TestGateway"


def _confirmed(*, amount: int = 2500, costs: int = 100, fee: int = 58, target_pence: int = 5_000_000) -> Donation:
    gift = make_pending(make_campaign(target_pence=target_pence), amount_pence=amount, costs=costs)
    assert deliver(completed_event(gift, fee_pence=fee)).status_code == 200
    gift.refresh_from_db()
    return gift


def _books(gift: Donation) -> dict[str, int]:
    return {
        "fund": fund_balance_pence(child_id=gift.campaign.child_id),
        "general": -account_balance_pence(name=chart.GENERAL_FUND),
        "clearing": account_balance_pence(name=CLEARING),
        "fees": account_balance_pence(name=chart.PAYMENT_FEES),
    }


def _spend(gift: Donation, pence: int, memo: str) -> None:
    """The child's fund pays a provider."""
    ledger_post(
        kind="payment",
        postings=[
            PostingSpec(account=chart.child_fund(gift.campaign.child_id), amount_pence=pence),
            PostingSpec(account=chart.provider_payable(1), amount_pence=-pence),
        ],
        memo=memo,
        on_date=dt.date.today(),
        idempotency_key=f"spend-{gift.pk}-{memo}",
    )


# --- the rule ----------------------------------------------------------------------------------------------------


def test_a_refund_is_shared_between_the_gift_and_the_costs_contribution_as_the_donor_shared_them() -> None:
    assert rules.refund_from_gift_pence(amount_pence=2500, costs_contribution_pence=100, refunded_pence=1000) == 961
    assert rules.refund_from_gift_pence(amount_pence=2500, costs_contribution_pence=0, refunded_pence=1000) == 1000
    assert rules.refund_from_gift_pence(amount_pence=2500, costs_contribution_pence=100, refunded_pence=2600) == 2500
    with pytest.raises(ValueError, match="refunded 2601 pence of a gift of 2600 pence"):
        rules.refund_from_gift_pence(amount_pence=2500, costs_contribution_pence=100, refunded_pence=2601)


@given(
    amount=st.integers(min_value=1, max_value=10_000_000),
    costs=st.integers(min_value=0, max_value=1_000_000),
    cuts=st.lists(st.floats(min_value=0, max_value=1), max_size=6),
)
def test_refunds_in_steps_add_up_to_the_same_split_and_all_of_it_gives_back_the_gift(
    amount: int, costs: int, cuts: list[float]
) -> None:
    total = amount + costs
    totals = sorted({int(total * c) for c in cuts} | {total})
    before = 0
    for running in totals:
        part = rules.refund_from_gift_pence(amount_pence=amount, costs_contribution_pence=costs, refunded_pence=running)
        assert before <= part <= amount and part <= running and running - part <= costs
        before = part
    assert before == amount


# --- through the webhook -----------------------------------------------------------------------------------------


def test_a_partial_refund_is_posted_once_and_shared_as_the_donor_shared_the_gift() -> None:
    gift = _confirmed()
    assert outcome(refund_event(gift, event_id="evt_r1", amount_refunded=1000)) == (
        f"gift #{gift.pk} partly refunded: 1000 pence"
    )
    gift.refresh_from_db()
    assert (gift.status, gift.refunded_pence, gift.refunded_gift_pence) == (DonationStatus.SUCCEEDED, 1000, 961)
    assert _books(gift) == {"fund": 2500 - 961, "general": 100 - 39, "clearing": 2600 - 58 - 1000, "fees": 58}
    refund = Transaction.objects.get(kind="refund")
    assert refund.metadata["refund_of"] == gift.ledger_transaction_id
    assert refund.metadata["refunded_so_far_pence"] == 1000
    assert AuditEvent.objects.filter(action="donation.partially_refunded", target_id=str(gift.pk)).count() == 1
    # the same event again, and the same running total under another event id: nothing more is posted
    assert deliver(refund_event(gift, event_id="evt_r1", amount_refunded=1000)).status_code == 200
    again = outcome(refund_event(gift, event_id="evt_r1b", amount_refunded=1000))
    assert again.startswith("duplicate: the refunds of gift")
    assert Transaction.objects.filter(kind="refund").count() == 1
    assert ledger_check() == []


def test_an_older_running_total_arriving_late_posts_nothing() -> None:
    gift = _confirmed(costs=0)
    deliver(refund_event(gift, event_id="evt_second", amount_refunded=1500))
    assert "duplicate" in outcome(refund_event(gift, event_id="evt_first", amount_refunded=1000))
    gift.refresh_from_db()
    assert (gift.refunded_pence, gift.refunded_gift_pence) == (1500, 1500)
    assert _books(gift)["fund"] == 1000
    deliver(refund_event(gift, event_id="evt_third", amount_refunded=2000))
    assert _books(gift)["fund"] == 500
    assert Transaction.objects.filter(kind="refund").count() == 2


@pytest.mark.parametrize(
    ("make_event", "status"),
    [
        (lambda gift: refund_event(gift, event_id="evt_full"), DonationStatus.REFUNDED),
        (lambda gift: dispute_event(gift), DonationStatus.DISPUTED),
    ],
)
def test_refunding_or_disputing_the_rest_leaves_the_books_as_one_whole_refund_would(
    make_event: Any, status: str
) -> None:
    whole = _confirmed()
    deliver(refund_event(whole, event_id="evt_whole"))
    expected = _books(whole)  # one gift refunded whole: its child's fund and the general fund back to 0, fee kept
    in_steps = _confirmed()
    deliver(refund_event(in_steps, event_id="evt_part", amount_refunded=1000))
    assert deliver(make_event(in_steps)).status_code == 200
    in_steps.refresh_from_db()
    assert in_steps.status == status
    assert fund_balance_pence(child_id=in_steps.campaign.child_id) == 0
    assert fund_balance_pence(child_id=whole.campaign.child_id) == 0
    # both gifts fully given back: the general fund holds neither costs contribution, the provider kept both fees
    assert _books(in_steps) == {"fund": 0, "general": 0, "clearing": 2 * expected["clearing"], "fees": 2 * 58}
    reversal = in_steps.reversal_transaction
    assert reversal is not None and reversal.metadata["refund_of"] == in_steps.ledger_transaction_id
    assert "less £10.00 refunded before" in reversal.memo
    # a partial refund reported after the whole gift was given back posts nothing
    assert deliver(refund_event(in_steps, event_id="evt_late_part", amount_refunded=1500)).status_code == 200
    assert _books(in_steps)["clearing"] == 2 * expected["clearing"] == -2 * 58
    assert ledger_check() == []


def dispute_event(gift: Donation) -> bytes:
    from carefund.campaigns.gateways.test import event_payload

    return event_payload(
        event_type="charge.dispute.created",
        event_id="evt_dispute",
        data_object={
            "id": "dp_1",
            "object": "dispute",
            "currency": "gbp",
            "payment_intent": f"pi_test_{gift.pk}",
            "amount": 1600,
        },
    )


def test_a_partial_refund_of_money_already_spent_is_borne_by_general_funds_and_audited() -> None:
    gift = _confirmed(costs=0, fee=0)
    _spend(gift, 2000, "Physiotherapy")
    assert deliver(refund_event(gift, amount_refunded=1200)).status_code == 200
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 0  # gave back the £5 it held, never below zero
    assert -account_balance_pence(name=chart.GENERAL_FUND) == -700
    assert Transaction.objects.get(kind="refund").metadata["borne_by_general_fund_pence"] == 700
    assert AuditEvent.objects.filter(action="donation.refund_shortfall", target_id=str(gift.pk)).count() == 1
    assert ledger_check() == []


def test_a_partial_refund_before_the_payment_is_confirmed_waits_for_a_retry() -> None:
    gift = make_pending(make_campaign(), amount_pence=2500)
    assert outcome(refund_event(gift, amount_refunded=1000)).startswith("try 1 of 6 failed (Refund: no confirmed")
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("amount_refunded", [0, -5, "10"])
def test_a_partial_refund_with_a_nonsense_amount_is_refused_with_a_400(amount_refunded: Any) -> None:
    gift = _confirmed()
    response = deliver(refund_event(gift, amount_refunded=amount_refunded))
    assert response.status_code == 400 and "amount_refunded" in response.json()["outcome"]
    assert not Transaction.objects.filter(kind="refund").exists()


def test_the_direct_call_refuses_what_is_a_whole_refund() -> None:
    gift = _confirmed()
    with pytest.raises(ValidationError, match="that is a full refund"):
        services.donation_partial_refund(donation_id=gift.pk, refunded_pence=2600)


# --- what counts the gifts ---------------------------------------------------------------------------------------


def test_raised_gift_aid_trace_and_reconciliation_count_what_the_donor_kept() -> None:
    gift = _confirmed()
    declare(gift, Scope.THIS_GIFT, declared_on=clock.today())
    assert gift_aid_due_for_donation(donation=gift) == 625
    deliver(refund_event(gift, amount_refunded=1000))
    gift.refresh_from_db()
    kept = 2500 - 961
    assert selectors.raised_pence(campaign_id=gift.campaign_id) == kept
    assert (
        gift_aid_due_for_donation(donation=gift) == kept // 4 == gift_aid_due_for_campaign(campaign_id=gift.campaign_id)
    )
    assert ledger_check() == []
    assert [g.amount_pence for g in selectors.recent_gifts_public(campaign=gift.campaign)] == [kept]
    assert gift_unspent_pence(transaction_id=gift.ledger_transaction_id) == kept
    assert [u.amount_pence for u in gift_uses(transaction_id=gift.ledger_transaction_id)] == [961]
    user = caseworker()
    [clearing_line] = [line for line in selectors.reconciliation(user=user) if "clearing" in line.label]
    assert (clearing_line.expected_pence, clearing_line.ledger_pence) == (2600 - 58 - 1000, 2600 - 58 - 1000)


def test_a_partial_refund_that_takes_a_campaign_below_its_target_reopens_it() -> None:
    gift = _confirmed(costs=0, fee=0, target_pence=2000)
    gift.campaign.refresh_from_db()
    assert gift.campaign.state == "target_reached"
    deliver(refund_event(gift, amount_refunded=1000))
    gift.campaign.refresh_from_db()
    assert gift.campaign.state == "published"


def test_staff_and_the_donor_see_what_was_refunded() -> None:
    gift = _confirmed()
    deliver(refund_event(gift, amount_refunded=1000))
    staff = Client()
    staff.force_login(caseworker())
    page = staff.get(f"/staff/campaigns/{gift.campaign.slug}/gifts/").content.decode()
    assert "Succeeded, £10.00 refunded" in page
    assert f"#{gift.pk} £25.00: £10.00 refunded in part (£9.61 of it from the gift to the child)" in page
    donor = Client().get(f"/gifts/{gift.receipt_token}/").content.decode()
    assert "<strong>£10.00</strong> of it was refunded to you" in donor
    # where that part of the gift went, in pounds
    assert f"Partial refund of gift #{gift.pk}: £10.00 (£10.00 of £26.00 refunded so far)" in donor


def test_the_money_raised_less_partial_refunds_is_read_from_the_covering_index_alone() -> None:
    """The public page asks for it on every view: SQLite answers it from `donation_raised` without the gifts' rows
    (docs/benchmarks.md, "A covering index for the money raised")."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("the plan checked is SQLite's (PostgreSQL chooses by its statistics)")
    gift = _confirmed()
    with CaptureQueriesContext(connection) as queries:
        selectors.raised_pence(campaign_id=gift.campaign_id)
    [query] = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING COVERING INDEX donation_raised" in plan


def test_a_database_failure_mid_way_leaves_nothing_and_the_retry_posts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import DatabaseError

    gift = _confirmed()
    before = _books(gift)
    from carefund.campaigns.services import reversals

    real_audit = reversals.audit_record

    def failing(**kwargs: Any) -> Any:
        if kwargs.get("action") == "donation.partially_refunded":
            assert Transaction.objects.filter(kind="refund").count() == 1  # written in the same transaction
            raise DatabaseError("disk I/O error")
        return real_audit(**kwargs)

    monkeypatch.setattr(reversals, "audit_record", failing)
    payload = refund_event(gift, event_id="evt_crash", amount_refunded=1000)
    assert outcome(payload).startswith("try 1 of 6 failed (DatabaseError: disk I/O error)")
    gift.refresh_from_db()
    assert (gift.refunded_pence, _books(gift)) == (0, before)
    assert not Transaction.objects.filter(kind="refund").exists()
    monkeypatch.setattr(reversals, "audit_record", real_audit)
    services.webhook_event_process(event_pk=WebhookEvent.objects.get(event_id="evt_crash").pk)  # the retry
    assert deliver(payload).status_code == 200  # the provider's own retry: a duplicate
    gift.refresh_from_db()
    assert gift.refunded_pence == 1000 and Transaction.objects.filter(kind="refund").count() == 1
    assert ledger_check() == []


# --- a dispute the charity won (services.donation_dispute_won) --------------------------------------------------


def funds_reinstated_event(gift: Donation, event_id: str = "evt_won") -> bytes:
    from carefund.campaigns.gateways.test import event_payload

    return event_payload(
        event_type="charge.dispute.funds_reinstated",
        event_id=event_id,
        data_object={
            "id": "dp_1",
            "object": "dispute",
            "currency": "gbp",
            "payment_intent": f"pi_test_{gift.pk}",
            "status": "won",
        },
    )


def test_a_dispute_won_puts_the_gift_back_as_it_was_and_the_provider_keeps_its_fee_once() -> None:
    gift = _confirmed()
    confirmed_books = _books(gift)
    assert deliver(dispute_event(gift)).status_code == 200
    assert _books(gift) == {"fund": 0, "general": 0, "clearing": -58, "fees": 58}
    assert outcome(funds_reinstated_event(gift)) == f"gift #{gift.pk} stands again: its dispute was won"
    gift.refresh_from_db()
    assert gift.status == DonationStatus.SUCCEEDED and gift.reinstated_transaction is not None
    assert _books(gift) == confirmed_books == {"fund": 2500, "general": 100, "clearing": 2600 - 58, "fees": 58}
    assert selectors.raised_pence(campaign_id=gift.campaign_id) == 2500
    [clearing_line] = [line for line in selectors.reconciliation(user=caseworker()) if "clearing" in line.label]
    assert clearing_line.expected_pence == clearing_line.ledger_pence == 2600 - 58
    # the same event again, or under another id: nothing more
    assert deliver(funds_reinstated_event(gift)).status_code == 200
    again = outcome(funds_reinstated_event(gift, event_id="evt_won_again"))
    assert again == f"duplicate: gift #{gift.pk} was already reinstated"
    assert Transaction.objects.filter(kind="donation").count() == 2  # the gift and the money given back
    assert AuditEvent.objects.filter(action="donation.dispute_won", target_id=str(gift.pk)).count() == 1
    assert ledger_check() == []


def test_money_given_back_after_a_dispute_of_money_already_spent_repays_the_general_fund_first() -> None:
    gift = _confirmed(costs=0, fee=0)
    _spend(gift, 2000, "Physiotherapy")
    deliver(dispute_event(gift))
    assert -account_balance_pence(name=chart.GENERAL_FUND) == -2000  # it bore what was spent
    deliver(funds_reinstated_event(gift))
    assert -account_balance_pence(name=chart.GENERAL_FUND) == 0
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 500  # what the fund held and gave back
    assert ledger_check() == []


def test_a_dispute_won_after_a_partial_refund_gives_back_what_the_dispute_took() -> None:
    gift = _confirmed()
    deliver(refund_event(gift, event_id="evt_part", amount_refunded=1000))
    after_refund = _books(gift)
    deliver(dispute_event(gift))
    deliver(funds_reinstated_event(gift))
    assert _books(gift) == after_refund
    gift.refresh_from_db()
    assert selectors.raised_pence(campaign_id=gift.campaign_id) == 2500 - 961
    assert ledger_check() == []


def test_funds_reinstated_before_the_dispute_arrives_waits_for_a_retry() -> None:
    gift = _confirmed()
    assert "not disputed" in outcome(funds_reinstated_event(gift))
    assert event_state("evt_won")[0] == "queued"
    gift.refresh_from_db()
    assert gift.status == DonationStatus.SUCCEEDED and gift.reinstated_transaction is None


def test_a_refund_after_a_dispute_won_takes_out_the_money_given_back_and_the_gift_counts_no_more() -> None:
    from carefund.giftaid.rules import Scope
    from carefund.giftaid.selectors import gift_aid_due_for_campaign, gift_aid_due_for_donation
    from carefund.giftaid.tests.factories import declare

    gift = _confirmed()
    declare(gift, Scope.THIS_GIFT, declared_on=gift.received_on)
    assert gift_aid_due_for_donation(donation=gift) == 625
    deliver(dispute_event(gift))
    deliver(funds_reinstated_event(gift))
    assert outcome(refund_event(gift, event_id="evt_refund_after")) == f"gift #{gift.pk} refunded"
    gift.refresh_from_db()
    assert gift.status == DonationStatus.REFUNDED
    reversal = gift.reversal_transaction
    assert reversal is not None and reversal.reverses_id == gift.reinstated_transaction_id
    # everything went back to the donor; the provider's fee, charged once, stays an expense once
    assert _books(gift) == {"fund": 0, "general": 0, "clearing": -58, "fees": 58}
    assert selectors.raised_pence(campaign_id=gift.campaign_id) == 0
    assert gift_aid_due_for_donation(donation=gift) == 0
    assert gift_aid_due_for_campaign(campaign_id=gift.campaign_id) == 0
    [clearing_line] = [line for line in selectors.reconciliation(user=caseworker()) if "clearing" in line.label]
    assert clearing_line.expected_pence == clearing_line.ledger_pence == -58
    # replayed, or sent again under another id: nothing more
    assert deliver(refund_event(gift, event_id="evt_refund_after")).status_code == 200
    assert deliver(refund_event(gift, event_id="evt_refund_after_2")).status_code == 200
    assert _books(gift) == {"fund": 0, "general": 0, "clearing": -58, "fees": 58}
    assert ledger_check() == []


def test_a_refund_after_a_dispute_won_of_money_since_spent_is_borne_by_general_funds() -> None:
    gift = _confirmed(costs=0, fee=0)
    deliver(dispute_event(gift))
    deliver(funds_reinstated_event(gift))
    _spend(gift, 2000, "Physiotherapy")
    assert deliver(refund_event(gift, event_id="evt_refund_after")).status_code == 200
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 0  # what it still held went back
    assert -account_balance_pence(name=chart.GENERAL_FUND) == -2000  # general funds bore what was spent
    assert AuditEvent.objects.filter(action="donation.refund_shortfall", target_id=str(gift.pk)).count() == 1
    assert ledger_check() == []


def test_the_donor_sees_what_the_money_given_back_paid_for() -> None:
    gift = _confirmed(costs=0, fee=0)
    deliver(dispute_event(gift))
    deliver(funds_reinstated_event(gift))
    _spend(gift, 700, "Orthotics fitting")
    page = Client().get(f"/gifts/{gift.receipt_token}/").content.decode()
    assert "Orthotics fitting" in page and "£7.00" in page
    assert "Not yet spent: <strong>£18.00</strong>" in page


def test_the_database_holds_the_childs_part_of_a_refund_to_the_rule() -> None:
    """refunded_gift_pence is derived from refunded_pence (rules.refund_from_gift_pence); a row where it is anything
    else is refused by the database, so the money raised (which sums it) cannot drift from the refunds posted."""
    from django.db import IntegrityError, transaction

    gift = _confirmed()  # 2,500 to the child, 100 to costs
    deliver(refund_event(gift, amount_refunded=1000))
    gift.refresh_from_db()
    assert gift.refunded_gift_pence == 961 == 2500 * 1000 // 2600
    for wrong in (960, 1000, 0):
        with pytest.raises(IntegrityError), transaction.atomic():
            Donation.objects.filter(pk=gift.pk).update(refunded_gift_pence=wrong)
    with pytest.raises(IntegrityError), transaction.atomic():
        Donation.objects.filter(pk=gift.pk).update(refunded_pence=1100)  # its share would be 1057, not 961
    gift.refresh_from_db()
    assert (gift.refunded_pence, gift.refunded_gift_pence) == (1000, 961)
