"""The webhook endpoint with payloads the test signs itself, verified by stripe's own code: what it refuses (400,
nothing stored), what it stores and queues (200), and what the worker then makes of each event."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from django.core import mail
from django.db import DatabaseError
from django.test import TestCase
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from carefund.campaigns import services
from carefund.campaigns.gateways.test import event_payload, sign_payload
from carefund.campaigns.models import Donation, WebhookEvent
from carefund.campaigns.tests.factories import (
    SECRET,
    completed_event,
    confirming_fails,
    deliver,
    event_state,
    make_campaign,
    make_pending,
    receive,
    refund_event,
)
from carefund.ledger import chart
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

pytestmark = pytest.mark.django_db


def _nothing_written() -> None:
    assert WebhookEvent.objects.count() == 0
    assert Transaction.objects.count() == 0


@pytest.fixture
def gift() -> Donation:
    return make_pending(make_campaign(), amount_pence=2500)


def _signed_body(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def test_valid_checkout_confirms_once(gift: Donation) -> None:
    payload = completed_event(gift, event_id="evt_1", fee_pence=58)
    response = deliver(payload)
    assert (response.status_code, response.json()) == (200, {"outcome": "event evt_1 received"})
    again = deliver(payload)
    assert (again.status_code, again.json()) == (200, {"outcome": "duplicate event evt_1: already received"})
    gift.refresh_from_db()
    assert gift.status == "succeeded"
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2500
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 2500 - 58
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 58
    assert Transaction.objects.count() == 1
    assert event_state("evt_1") == ("applied", f"gift #{gift.pk} confirmed")
    assert len(mail.outbox) == 1


def test_same_gift_under_a_new_event_id_posts_nothing_more(gift: Donation) -> None:
    assert deliver(completed_event(gift, event_id="evt_a")).status_code == 200
    assert deliver(completed_event(gift, event_id="evt_b")).status_code == 200
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2500
    assert Transaction.objects.count() == 1
    assert event_state("evt_b") == ("applied", f"gift #{gift.pk} confirmed")


# --- refused at the door: 400, nothing stored --------------------------------------------------------------------


def test_forged_signature_is_400(gift: Donation) -> None:
    response = deliver(completed_event(gift), secret="whsec_forger")
    assert response.status_code == 400
    assert response.json()["outcome"].startswith("unverified: signature")
    _nothing_written()


def test_stale_timestamp_is_400(gift: Donation) -> None:
    response = deliver(completed_event(gift), timestamp=int(time.time()) - 301)
    assert response.status_code == 400
    assert "unverified" in response.json()["outcome"]
    _nothing_written()


def test_a_signature_dated_ahead_of_the_clock_is_400(gift: Donation) -> None:
    """A signature dated a day ahead would stay replayable for a day: refused beyond the tolerance either way."""
    response = deliver(completed_event(gift), timestamp=int(time.time()) + 86_400)
    assert (response.status_code, response.json()["outcome"]) == (
        400,
        "unverified: signature: its timestamp is ahead of the server's clock.",
    )
    _nothing_written()
    assert deliver(completed_event(gift), timestamp=int(time.time()) + 60).status_code == 200  # within tolerance


def test_tampered_body_is_400(gift: Donation, client) -> None:  # type: ignore[no-untyped-def]
    payload = completed_event(gift)
    header = sign_payload(payload, secret=SECRET)
    tampered = payload.replace(b'"amount_total":2500', b'"amount_total":25')
    assert tampered != payload
    response = client.post(
        "/webhooks/stripe/", data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    _nothing_written()


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b"\xff\xfe\x00", b'{"id": "evt_x"}', b"[]", b'{"id":1,"type":"x","data":{"object":{}}}'],
)
def test_garbled_body_is_400_even_when_signed(body: bytes) -> None:
    assert deliver(body).status_code == 400
    _nothing_written()


def test_a_body_nested_fifty_thousand_deep_is_400_not_500() -> None:
    body = b'{"id":"evt_deep","type":"checkout.session.completed","data":{"object":' + b"[" * 50_000 + b"]" * 50_000
    body += b"}}"
    response = deliver(body)
    assert (response.status_code, response.json()["outcome"]) == (
        400,
        "unverified: body is not valid JSON (or nests too deeply).",
    )
    _nothing_written()


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=zz", "v1=deadbeef"])
def test_missing_or_garbled_header_is_400(gift: Donation, header: str, client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/webhooks/stripe/", data=completed_event(gift), content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    _nothing_written()


def test_get_is_405(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/webhooks/stripe/").status_code == 405


def test_checkout_never_created_is_400(gift: Donation) -> None:
    response = deliver(completed_event(gift, session_id="cs_test_made_up"))
    assert (response.status_code, response.json()["outcome"]) == (
        400,
        "refused: session: this checkout was not created by carefund for that gift.",
    )
    other = completed_event(gift, metadata={"donation_id": "999999"}, client_reference_id="999999")
    assert deliver(other).json()["outcome"] == "refused: donation: no online gift #999999 was created here."
    no_id = event_payload(
        event_type="checkout.session.completed",
        data_object={"id": "cs_x", "amount_total": 100, "currency": "gbp"},
    )
    assert deliver(no_id).json()["outcome"] == "refused: gift: the event names no carefund gift."
    gift.refresh_from_db()
    assert gift.status == "pending"
    _nothing_written()


def test_a_forty_digit_gift_id_is_400_not_500(gift: Donation) -> None:
    forty = "1" * 40
    response = deliver(completed_event(gift, metadata={"donation_id": forty}, client_reference_id=forty))
    assert response.status_code == 400
    assert response.json()["outcome"].startswith("refused: gift: '1111111111")
    _nothing_written()


def test_wrong_amount_is_400(gift: Donation) -> None:
    response = deliver(completed_event(gift, amount_total=100))
    assert (response.status_code, response.json()["outcome"]) == (
        400,
        "refused: amount_total: the provider took 100 pence but the gift was for 2500 pence.",
    )
    _nothing_written()


def test_a_completion_in_dollars_is_400_not_confirmed_as_pounds(gift: Donation) -> None:
    response = deliver(completed_event(gift, currency="usd"))
    assert (response.status_code, response.json()["outcome"]) == (
        400,
        "refused: currency: carefund takes gifts in pounds (gbp), not 'usd'.",
    )
    gift.refresh_from_db()
    assert gift.status == "pending"
    _nothing_written()


def test_amount_not_a_number_is_400(gift: Donation) -> None:
    assert deliver(completed_event(gift, amount_total="2500")).status_code == 400  # type: ignore[arg-type]
    _nothing_written()


def test_a_refund_larger_than_its_charge_is_400(gift: Donation) -> None:
    """10^12 pence refunded on a £25 charge: refused at the door, never posted as a full refund."""
    deliver(completed_event(gift, event_id="evt_pay"))
    response = deliver(refund_event(gift, amount_refunded=10**12))
    assert (response.status_code, response.json()["outcome"]) == (
        400,
        "refused: amount_refunded: 1000000000000 pence is more than the charge of 2500 pence.",
    )
    gift.refresh_from_db()
    assert (gift.status, gift.refunded_pence) == ("succeeded", 0)
    assert WebhookEvent.objects.count() == 1 and Transaction.objects.count() == 1


def test_a_garbled_dispute_fee_is_400(gift: Donation) -> None:
    deliver(completed_event(gift))
    dispute = event_payload(
        event_type="charge.dispute.created",
        data_object={
            "id": "dp_1",
            "currency": "gbp",
            "payment_intent": f"pi_test_{gift.pk}",
            "balance_transactions": [{"id": "txn_1", "fee": "20.00", "currency": "gbp"}],
        },
    )
    response = deliver(dispute)
    assert (response.status_code, response.json()["outcome"]) == (
        400,
        "refused: balance_transactions: fee '20.00' is not whole pence up to 100000.",
    )
    gift.refresh_from_db()
    assert gift.status == "succeeded"
    assert WebhookEvent.objects.count() == 1


def test_unknown_verified_type_is_200_and_not_stored() -> None:
    response = deliver(event_payload(event_type="customer.created", event_id="evt_cust", data_object={"id": "cus_1"}))
    assert (response.status_code, response.json()) == (
        200,
        {"outcome": "event type customer.created not handled by carefund"},
    )
    _nothing_written()


def test_test_gateway_events_refused_when_stripe_is_live(gift: Donation, settings) -> None:  # type: ignore[no-untyped-def]
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_real"
    assert deliver(completed_event(gift)).status_code == 400
    _nothing_written()


def test_a_database_failure_while_storing_is_503_and_stores_nothing(gift: Donation, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from carefund.campaigns.services import webhooks

    def broken(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(webhooks, "enqueue_in_transaction", broken)
    response = deliver(completed_event(gift, event_id="evt_db"))
    assert response.status_code == 503
    _nothing_written()


# --- what the worker makes of a stored event ----------------------------------------------------------------


def test_a_refund_before_its_payment_waits_and_applies_once_the_payment_has(gift: Donation) -> None:
    """Out of order: the refund is stored (200), and the worker cannot apply it yet: it is tried again later (the
    tests' task backend cannot wait, so the sweep's requeue stands in for the deferred retry)."""
    assert deliver(refund_event(gift, event_id="evt_refund")).status_code == 200
    state, outcome = event_state("evt_refund")
    assert state == "queued"
    assert outcome.startswith("try 1 of 6 failed (Refund: no confirmed gift matches this charge yet.)")
    assert Transaction.objects.count() == 0
    assert deliver(completed_event(gift, event_id="evt_pay")).status_code == 200
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.webhook_events_requeue_stale(older_than=dt.timedelta(0)) == 1
    assert event_state("evt_refund") == ("applied", f"gift #{gift.pk} refunded")
    gift.refresh_from_db()
    assert gift.status == "refunded"
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 0
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 0


def test_a_refund_beyond_what_the_gift_took_is_refused_by_the_worker(gift: Donation) -> None:
    """A refund whose charge claims more than the gift: the shape passes, the gift refutes it; nothing posted and a
    finance officer sees it."""
    deliver(completed_event(gift))
    obj = json.loads(refund_event(gift))["data"]["object"] | {"amount": 10**12, "amount_refunded": 10**12}
    assert deliver(event_payload(event_type="charge.refunded", event_id="evt_big", data_object=obj)).status_code == 200
    assert event_state("evt_big") == (
        "refused",
        f"amount_refunded: 1000000000000 pence is more than gift #{gift.pk} took (2500 pence); nothing posted.",
    )
    gift.refresh_from_db()
    assert (gift.status, gift.refunded_pence) == ("succeeded", 0)
    assert Transaction.objects.count() == 1


def test_a_fault_in_one_event_affects_that_event_only(gift: Donation) -> None:
    """The database fails half-way through a confirmation (after the ledger transaction was written): that event's
    work rolls back, it stays queued with its error, the next event is applied, and a retry posts once."""
    other = make_pending(gift.campaign, amount_pence=700)
    with confirming_fails(gift, DatabaseError("disk I/O error")):
        assert deliver(completed_event(gift, event_id="evt_db", fee_pence=58)).status_code == 200
        assert deliver(completed_event(other, event_id="evt_ok")).status_code == 200
    state, outcome = event_state("evt_db")
    assert (state, outcome.split(" (")[0]) == ("queued", "try 1 of 6 failed")
    assert "DatabaseError: disk I/O error" in outcome
    gift.refresh_from_db()
    assert gift.status == "pending"
    assert event_state("evt_ok") == ("applied", f"gift #{other.pk} confirmed")
    assert Transaction.objects.count() == 1
    services.webhook_event_process(event_pk=WebhookEvent.objects.get(event_id="evt_db").pk)
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2500 + 700
    assert Transaction.objects.count() == 2


def test_after_the_last_try_an_event_is_failed_and_shown_to_finance(gift: Donation, client) -> None:  # type: ignore[no-untyped-def]
    from carefund.campaigns.tests.factories import grant_campaign_roles
    from carefund.care.tests.factories import user_with_role
    from carefund.core.roles import Role

    deliver(refund_event(gift, event_id="evt_lost"))
    event = WebhookEvent.objects.get(event_id="evt_lost")
    for _ in range(5):
        services.webhook_event_process(event_pk=event.pk)
    state, outcome = event_state("evt_lost")
    assert (state, outcome) == ("failed", "failed after 6 tries: Refund: no confirmed gift matches this charge yet.")
    services.webhook_event_process(event_pk=event.pk)  # no longer queued: left as it is
    assert WebhookEvent.objects.get(pk=event.pk).attempts == 6
    grant_campaign_roles()
    client.force_login(user_with_role(Role.FINANCE_OFFICER))
    page = client.get("/staff/reconciliation/").content.decode()
    assert "evt_lost" in page and "failed after 6 tries" in page


def test_a_payout_moves_clearing_to_bank_once(gift: Donation) -> None:
    deliver(completed_event(gift, fee_pence=58))
    obj = {"id": "po_1", "object": "payout", "amount": 2442, "currency": "gbp", "arrival_date": 1790000000}
    deliver(event_payload(event_type="payout.paid", event_id="evt_po", data_object=obj))
    assert event_state("evt_po") == ("applied", "payout po_1 recorded")
    assert deliver(event_payload(event_type="payout.paid", data_object=obj)).status_code == 200  # a new event id
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 0
    assert account_balance_pence(name=chart.BANK) == 2442
    conflicting = event_payload(event_type="payout.paid", event_id="evt_po_x", data_object=obj | {"amount": 2000})
    assert deliver(conflicting).status_code == 200
    assert event_state("evt_po_x") == ("refused", "payout: po_1 was recorded with a different amount.")
    assert account_balance_pence(name=chart.BANK) == 2442


def test_a_payout_the_clearing_account_cannot_cover_is_held_for_a_finance_officer(gift: Donation, client) -> None:  # type: ignore[no-untyped-def]
    """10^15 pence paid out from a clearing account holding £24.42: held, never posted; ledger check stays clean,
    the reconciliation page shows it, and a finance officer cannot post it until the clearing account covers it."""
    from carefund.campaigns.models import Payout
    from carefund.campaigns.tests.factories import grant_campaign_roles
    from carefund.care.tests.factories import user_with_role
    from carefund.core.errors import ConflictError
    from carefund.core.roles import Role
    from carefund.ledger.integrity import ledger_check

    deliver(completed_event(gift, fee_pence=58))
    huge = {"id": "po_huge", "object": "payout", "amount": 10**15, "currency": "gbp"}
    assert deliver(event_payload(event_type="payout.paid", event_id="evt_huge", data_object=huge)).status_code == 200
    assert event_state("evt_huge") == (
        "applied",
        "payout po_huge held for a finance officer: the clearing account does not cover it",
    )
    payout = Payout.objects.get(payout_id="po_huge")
    assert payout.ledger_transaction_id is None
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 2442
    assert account_balance_pence(name=chart.BANK) == 0
    assert ledger_check() == []
    grant_campaign_roles()
    officer = user_with_role(Role.FINANCE_OFFICER)
    client.force_login(officer)
    page = client.get("/staff/reconciliation/").content.decode()
    assert "Payouts held" in page and "po_huge" in page
    with pytest.raises(ConflictError, match="still more than the clearing account holds"):
        services.payout_release(payout_id="po_huge", actor=officer)
    response = client.post("/staff/payouts/po_huge/release/", follow=True)
    assert "Nothing was posted" in response.content.decode()
    assert account_balance_pence(name=chart.BANK) == 0


class TestAnyOrderOfEvents(HypothesisTestCase):
    """Payments, refunds and duplicates delivered in any order, with the worker retrying what could not apply yet,
    always end with the books exact: each child's fund holds exactly the gifts that stand, each posted once."""

    @settings(max_examples=20, deadline=None)
    @given(
        st.lists(st.tuples(st.integers(100, 100_000), st.booleans(), st.integers(1, 3)), min_size=1, max_size=5),
        st.randoms(use_true_random=False),
    )
    def test_any_order(self, gifts: list[tuple[int, bool, int]], rnd: Any) -> None:
        campaign = make_campaign()
        deliveries: list[bytes] = []
        expected = 0
        for i, (amount, refunded, copies) in enumerate(gifts):
            donation = make_pending(campaign, amount_pence=amount)
            deliveries += [completed_event(donation, event_id=f"evt_pay_{i}")] * copies
            if refunded:
                deliveries += [refund_event(donation, event_id=f"evt_refund_{i}")] * copies
            else:
                expected += amount
        rnd.shuffle(deliveries)
        for payload in deliveries:
            assert receive(payload).status_code == 200
        with self.captureOnCommitCallbacks(execute=True):
            services.webhook_events_requeue_stale(older_than=dt.timedelta(0))  # the retries
        assert not WebhookEvent.objects.exclude(state="applied").exists()
        assert fund_balance_pence(child_id=campaign.child_id) == expected
        assert account_balance_pence(name="Assets:Clearing:TestGateway") == expected
        refunds = sum(1 for _, refunded, _ in gifts if refunded)
        assert Transaction.objects.count() == len(gifts) + refunds


def test_a_clearing_account_taken_below_zero_beyond_the_fees_is_noticed(gift: Donation, client) -> None:  # type: ignore[no-untyped-def]
    """A payout posted by hand beyond what the clearing account holds: ledger check and the reconciliation page say
    so (a refund's fee kept by the provider, which may take it below zero by that much, is not a finding)."""
    from carefund.campaigns.tests.factories import grant_campaign_roles
    from carefund.care.tests.factories import user_with_role
    from carefund.core.roles import Role
    from carefund.ledger.integrity import clearing_accounts_below_zero, ledger_check
    from carefund.ledger.services import PostingSpec, ledger_post

    deliver(completed_event(gift, fee_pence=58))
    deliver(refund_event(gift))
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == -58  # the fee the provider kept
    assert clearing_accounts_below_zero() == []
    ledger_post(
        kind="adjustment",
        postings=[
            PostingSpec(account=chart.BANK, amount_pence=1000),
            PostingSpec(account="Assets:Clearing:TestGateway", amount_pence=-1000),
        ],
        memo="a payout nobody can account for",
        on_date=gift.created_at.date(),
        idempotency_key="payout-by-hand",
    )
    finding = (
        "clearing account Assets:Clearing:TestGateway is below zero: 1058 pence, more than the 58 pence of fees the "
        "provider kept; a payout or refund does not match the gifts"
    )
    assert finding in ledger_check()
    grant_campaign_roles()
    client.force_login(user_with_role(Role.FINANCE_OFFICER))
    assert finding in client.get("/staff/reconciliation/").content.decode()
