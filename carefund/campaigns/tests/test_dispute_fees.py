"""The provider's dispute fee (Stripe's is £20 in the UK), through the real webhook endpoint: the dispute object's
balance transactions state it (`charge.dispute.created`, `charge.dispute.funds_withdrawn`, and a fee given back
with `charge.dispute.funds_reinstated`); carefund posts each once as an expense out of the clearing account
(`services.donation_dispute_fees_record`), whichever event brings it first, and the reconciliation counts it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from carefund.campaigns import selectors
from carefund.campaigns.gateways.test import event_payload
from carefund.campaigns.models import Donation, DonationStatus
from carefund.campaigns.tests.factories import (
    caseworker,
    completed_event,
    deliver,
    event_state,
    make_campaign,
    make_pending,
)
from carefund.core.models import AuditEvent
from carefund.ledger import chart
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

pytestmark = pytest.mark.django_db

CLEARING = "Assets:Clearing:TestGateway"
DISPUTE_FEE = 2000  # £20, Stripe's UK dispute fee


def _confirmed() -> Donation:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500, costs=100)
    assert deliver(completed_event(gift, fee_pence=58)).status_code == 200
    gift.refresh_from_db()
    return gift


def _bt(bt_id: str, amount: int, fee: Any, currency: str = "gbp") -> dict[str, Any]:
    return {"id": bt_id, "object": "balance_transaction", "amount": amount, "fee": fee, "currency": currency}


def _dispute_event(gift: Donation, event_type: str, *balance_transactions: Any, event_id: str | None = None) -> bytes:
    return event_payload(
        event_type=event_type,
        event_id=event_id,
        data_object={
            "id": "dp_1",
            "object": "dispute",
            "payment_intent": f"pi_test_{gift.pk}",
            "amount": gift.total_pence,
            "currency": "gbp",
            "balance_transactions": list(balance_transactions),
        },
    )


def _outcome(payload: bytes) -> str:
    """Deliver the event (answered 200: stored and queued) and return what the worker made of it."""
    assert deliver(payload).status_code == 200
    _state, outcome = event_state(json.loads(payload)["id"])
    return outcome


def _books(gift: Donation) -> dict[str, int]:
    return {
        "fund": fund_balance_pence(child_id=gift.campaign.child_id),
        "clearing": account_balance_pence(name=CLEARING),
        "fees": account_balance_pence(name=chart.PAYMENT_FEES),
    }


def _reconciled() -> None:
    [line] = [line for line in selectors.reconciliation(user=caseworker()) if "clearing" in line.label]
    assert line.expected_pence == line.ledger_pence


WITHDRAWN = _bt("txn_withdrawn", -2600, DISPUTE_FEE)


def test_the_dispute_fee_in_the_created_dispute_is_posted_once() -> None:
    gift = _confirmed()
    created = _dispute_event(gift, "charge.dispute.created", WITHDRAWN)
    assert _outcome(created) == f"gift #{gift.pk} disputed; dispute fees posted: {DISPUTE_FEE} pence"
    # the gift reversed, its own fee kept, and the dispute fee: what the provider took from its balance
    assert _books(gift) == {"fund": 0, "clearing": -58 - DISPUTE_FEE, "fees": 58 + DISPUTE_FEE}
    gift.refresh_from_db()
    assert (gift.status, gift.dispute_fees_pence) == (DonationStatus.DISPUTED, DISPUTE_FEE)
    _reconciled()
    # the same event again; the same balance transaction in the funds-withdrawn event: nothing more
    assert deliver(created).status_code == 200
    withdrawn = _outcome(_dispute_event(gift, "charge.dispute.funds_withdrawn", WITHDRAWN))
    assert withdrawn == f"dispute of gift #{gift.pk}: funds withdrawn"
    assert _books(gift)["fees"] == 58 + DISPUTE_FEE
    assert Transaction.objects.filter(idempotency_key=f"dispute-fee-test-{WITHDRAWN['id']}").count() == 1
    assert AuditEvent.objects.filter(action="donation.dispute_fee", target_id=str(gift.pk)).count() == 1
    _reconciled()
    # the provider took the gift back and kept its fee and the dispute fee: the clearing account is short by those
    assert ledger_check() == []


def test_funds_withdrawn_before_the_dispute_posts_the_fee_and_the_dispute_the_gift() -> None:
    gift = _confirmed()
    withdrawn = _outcome(_dispute_event(gift, "charge.dispute.funds_withdrawn", WITHDRAWN))
    assert withdrawn == f"dispute of gift #{gift.pk}: funds withdrawn; dispute fees posted: {DISPUTE_FEE} pence"
    assert Donation.objects.get(pk=gift.pk).status == DonationStatus.SUCCEEDED  # the gift waits for its dispute
    assert _books(gift) == {"fund": 2500, "clearing": 2600 - 58 - DISPUTE_FEE, "fees": 58 + DISPUTE_FEE}
    _reconciled()
    assert _outcome(_dispute_event(gift, "charge.dispute.created", WITHDRAWN)) == f"gift #{gift.pk} disputed"
    assert _books(gift) == {"fund": 0, "clearing": -58 - DISPUTE_FEE, "fees": 58 + DISPUTE_FEE}
    _reconciled()
    # the provider took the gift back and kept its fee and the dispute fee: the clearing account is short by those
    assert ledger_check() == []


@pytest.mark.parametrize(("returned", "fees_after"), [(-DISPUTE_FEE, 58), (0, 58 + DISPUTE_FEE)])
def test_a_dispute_won_posts_a_dispute_fee_given_back(returned: int, fees_after: int) -> None:
    gift = _confirmed()
    assert deliver(_dispute_event(gift, "charge.dispute.created", WITHDRAWN)).status_code == 200
    reinstated = _bt("txn_reinstated", 2600, returned)
    won = _outcome(_dispute_event(gift, "charge.dispute.funds_reinstated", WITHDRAWN, reinstated))
    assert won.startswith(f"gift #{gift.pk} stands again")
    assert _books(gift) == {"fund": 2500, "clearing": 2600 - fees_after, "fees": fees_after}
    assert Donation.objects.get(pk=gift.pk).dispute_fees_pence == fees_after - 58
    _reconciled()
    assert ledger_check() == []


@pytest.mark.parametrize(
    ("balance_transaction", "refusal"),
    [
        (_bt("txn_x", -2600, "2000"), "fee '2000' is not whole pence up to 100000."),
        (_bt("txn_x", -2600, 2000.5), "fee 2000.5 is not whole pence up to 100000."),
        (_bt("txn_x", -2600, True), "fee True is not whole pence up to 100000."),
        (_bt("txn_x", -2600, 10**9), "fee 1000000000 is not whole pence up to 100000."),
        (_bt("txn_eur", -3000, 1500, "eur"), "a fee in 'eur', not pounds (gbp)."),
        ({"object": "balance_transaction", "fee": 2000, "currency": "gbp"}, "id: expected an id of 1 to 255"),
    ],
)
def test_a_dispute_fee_that_cannot_be_read_is_refused_at_the_door(balance_transaction: Any, refusal: str) -> None:
    """A dispute whose fee does not parse is refused (400) and nothing of it is stored: the provider shows the
    failed delivery, and carefund never books half of what the event says."""
    gift = _confirmed()
    response = deliver(_dispute_event(gift, "charge.dispute.created", balance_transaction))
    assert response.status_code == 400
    assert response.json()["outcome"].startswith(f"refused: balance_transactions: {refusal}")
    assert _books(gift) == {"fund": 2500, "clearing": 2600 - 58, "fees": 58}
    assert Donation.objects.get(pk=gift.pk).status == DonationStatus.SUCCEEDED
    assert Transaction.objects.count() == 1


def test_funds_withdrawn_for_a_gift_not_confirmed_yet_waits_for_a_retry() -> None:
    """Even when the dispute names the gift itself: its fee waits until the payment is confirmed."""
    gift = make_pending(make_campaign(), amount_pence=2500)
    body = event_payload(
        event_type="charge.dispute.funds_withdrawn",
        data_object={
            "id": "dp_1",
            "object": "dispute",
            "currency": "gbp",
            "metadata": {"donation_id": str(gift.pk)},
            "balance_transactions": [WITHDRAWN],
        },
    )
    assert _outcome(body).startswith("try 1 of 6 failed (Dispute: no confirmed gift matches this charge yet.)")
    assert Donation.objects.get(pk=gift.pk).dispute_fees_pence == 0
    assert not Transaction.objects.exists()


def test_funds_withdrawn_for_no_known_gift_waits_for_a_retry() -> None:
    gift = make_pending(make_campaign(), amount_pence=2500)  # its payment has not arrived
    outcome = _outcome(_dispute_event(gift, "charge.dispute.funds_withdrawn", WITHDRAWN))
    assert outcome.startswith("try 1 of 6 failed")
    assert not Transaction.objects.exists()


def test_a_balance_transaction_given_only_by_its_id_is_skipped() -> None:
    gift = _confirmed()
    assert _outcome(_dispute_event(gift, "charge.dispute.created", "txn_unexpanded")) == f"gift #{gift.pk} disputed"
    assert _books(gift)["fees"] == 58


def test_staff_see_the_dispute_fee_of_a_gift() -> None:
    from django.test import Client

    gift = _confirmed()
    assert deliver(_dispute_event(gift, "charge.dispute.created", WITHDRAWN)).status_code == 200
    staff = Client()
    staff.force_login(caseworker())
    page = staff.get(f"/staff/campaigns/{gift.campaign.slug}/gifts/").content.decode()
    assert f"#{gift.pk} £25.00: Disputed (charged back); the provider's dispute fees: £20.00" in page
