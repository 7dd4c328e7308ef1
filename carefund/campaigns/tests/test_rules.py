from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carefund.campaigns import rules


@pytest.mark.parametrize(
    ("from_state", "to_state", "ok"),
    [
        ("draft", "published", True),
        ("draft", "closed", True),
        ("draft", "target_reached", False),
        ("published", "target_reached", True),
        ("published", "draft", False),
        ("target_reached", "published", True),
        ("target_reached", "closed", True),
        ("closed", "published", False),
        ("published", "archived", False),
    ],
)
def test_transitions(from_state: str, to_state: str, ok: bool) -> None:
    assert (rules.transition_problem(from_state, to_state) is None) is ok


def test_closed_message_says_it_stays_closed() -> None:
    assert rules.transition_problem("closed", "published") == (
        "state: a closed campaign cannot become published; allowed: none (a closed campaign stays closed)."
    )


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        (99, "amount: the smallest gift is £1; enter £1 or more."),
        (100, None),
        (10_000_000, None),
        (
            10_000_001,
            "amount: the largest gift online is £100,000; for a larger gift please contact the charity, who will "
            "arrange it with you.",
        ),
        (0, "amount: the smallest gift is £1; enter £1 or more."),
        (-5, "amount: the smallest gift is £1; enter £1 or more."),
        ("10", "amount: enter a whole number of pence."),
        (True, "amount: enter a whole number of pence."),
    ],
)
def test_gift_amount(amount: object, problem: str | None) -> None:
    assert rules.gift_amount_problem(amount) == problem  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "hi <b>there</b>", "<img src=x onerror=alert(1)>"])
def test_message_with_html_refused(text: str) -> None:
    assert rules.message_problem(text) == (
        "message: plain text only; remove the HTML (anything in angle brackets such as <b> or <script>)."
    )


def test_plain_message_with_less_than_sign_allowed() -> None:
    assert rules.message_problem("Get well soon, love from us <3 and 2 < 3") is None
    assert rules.message_problem("x" * 501) == "message: at most 500 characters, got 501."


def test_batch_must_add_up() -> None:
    assert rules.batch_problem(3000, [1000, 2000]) is None
    assert rules.batch_problem(3001, [1000, 2000]) == (
        "lines: the lines add up to £30.00 but the batch says £30.01; correct a line or the stated total so that they "
        "match."
    )
    assert rules.batch_problem(0, []) == "lines: a batch needs at least one line."
    assert (
        rules.batch_problem(1000, [1000, 0]) == "lines[1].amount_pence: each line must be more than zero pence, got 0."
    )


@given(st.lists(st.integers(min_value=1, max_value=10_000_000), min_size=1, max_size=30), st.integers(-5, 5))
def test_batch_property(lines: list[int], delta: int) -> None:
    assert (rules.batch_problem(sum(lines) + delta, lines) is None) is (delta == 0)


@given(st.integers(min_value=1, max_value=10**9))
def test_test_fee_never_exceeds_gift(total: int) -> None:
    fee = rules.test_gateway_fee_pence(total)
    assert 0 < fee <= total


def test_test_fee_value() -> None:
    assert rules.test_gateway_fee_pence(2500) == 58  # 1.5% of £25 = 37.5p -> 38p, + 20p


def test_progress() -> None:
    p = rules.Progress(
        raised_pence=2_000_000, gift_aid_to_come_pence=500_000, target_pence=5_000_000, nhs_covers_pence=0
    )
    assert (p.percent, p.remaining_pence) == (50, 2_500_000)
    assert rules.Progress(10, 0, 0, 0).percent == 0
    assert rules.Progress(6_000_000, 0, 5_000_000, 0).percent == 100


# --- payment events' shape and bounds (rules.webhook_event_problem) ---------------------------------------------


def _checkout(**changes: object) -> dict[str, object]:
    obj: dict[str, object] = {
        "id": "cs_1",
        "amount_total": 2500,
        "currency": "gbp",
        "payment_status": "paid",
        "payment_intent": "pi_1",
        "metadata": {"donation_id": "12"},
    }
    obj.update(changes)
    return {k: v for k, v in obj.items() if v is not ...}


def test_a_well_formed_checkout_completion_has_no_problem() -> None:
    assert rules.webhook_event_problem("checkout.session.completed", _checkout()) is None
    assert rules.webhook_event_problem("checkout.session.async_payment_succeeded", _checkout()) is None
    assert rules.webhook_event_problem("checkout.session.completed", _checkout(payment_intent={"id": "pi_1"})) is None
    assert rules.webhook_event_problem("checkout.session.completed", _checkout(payment_intent=None)) is None
    assert rules.webhook_event_problem("customer.created", {"anything": []}) is None  # not handled: no problem


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"id": ...}, "id: expected an id of 1 to 255 characters, got 'None'."),
        ({"id": ""}, "id: expected an id of 1 to 255 characters, got ''."),
        ({"id": "c" * 256}, f"id: expected an id of 1 to 255 characters, got {'c' * 40!r}."),
        ({"metadata": ...}, "gift: the event names no carefund gift."),
        ({"metadata": "12"}, "metadata: expected an object."),
        ({"metadata": {"donation_id": "1" * 19}}, f"gift: {'1' * 19!r} is not a carefund gift id (up to 18 digits)."),
        ({"metadata": {"donation_id": "١٢"}}, "gift: '١٢' is not a carefund gift id (up to 18 digits)."),
        ({"metadata": {"donation_id": "-1"}}, "gift: '-1' is not a carefund gift id (up to 18 digits)."),
        ({"currency": "usd"}, "currency: carefund takes gifts in pounds (gbp), not 'usd'."),
        ({"currency": ...}, "currency: carefund takes gifts in pounds (gbp), not None."),
        ({"amount_total": 0}, f"amount_total: expected whole pence from 1 to {2**53 - 1}, got 0."),
        ({"amount_total": 2**53}, f"amount_total: expected whole pence from 1 to {2**53 - 1}, got {2**53}."),
        ({"amount_total": 25.0}, f"amount_total: expected whole pence from 1 to {2**53 - 1}, got 25.0."),
        ({"amount_total": True}, f"amount_total: expected whole pence from 1 to {2**53 - 1}, got True."),
        ({"payment_intent": 7}, "payment_intent: expected an id of 1 to 255 characters, got '7'."),
        ({"payment_status": 1}, "payment_status: expected a string."),
    ],
)
def test_a_checkout_completion_out_of_shape_says_what_is_wrong(changes: dict[str, object], problem: str) -> None:
    assert rules.webhook_event_problem("checkout.session.completed", _checkout(**changes)) == problem


def test_the_gift_id_may_come_as_the_client_reference_and_has_at_most_eighteen_digits() -> None:
    assert (
        rules.webhook_event_problem(
            "checkout.session.completed", _checkout(metadata=None, client_reference_id="9" * 18)
        )
        is None
    )
    assert rules.gift_id_in({"metadata": {"donation_id": "3"}, "client_reference_id": "4"}) == "3"
    assert rules.gift_id_in({"metadata": {}, "client_reference_id": "4"}) == "4"
    assert rules.gift_id_in({"client_reference_id": 4}) is None


def _refund(**changes: object) -> dict[str, object]:
    obj: dict[str, object] = {"amount": 2750, "amount_refunded": 2750, "currency": "gbp", "payment_intent": "pi_1"}
    obj.update(changes)
    return obj


def test_a_refund_may_not_exceed_its_charge() -> None:
    assert rules.webhook_event_problem("charge.refunded", _refund()) is None
    assert rules.webhook_event_problem("charge.refunded", _refund(amount_refunded=1)) is None
    assert rules.webhook_event_problem("charge.refunded", _refund(amount_refunded=10**12)) == (
        "amount_refunded: 1000000000000 pence is more than the charge of 2750 pence."
    )
    assert rules.webhook_event_problem("charge.refunded", _refund(amount_refunded=0)) == (
        f"amount_refunded: expected whole pence from 1 to {2**53 - 1}, got 0."
    )
    assert rules.webhook_event_problem("charge.refunded", _refund(amount=None)) == (
        f"amount: expected whole pence from 1 to {2**53 - 1}, got None."
    )
    assert rules.webhook_event_problem("charge.refunded", _refund(currency="eur")) == (
        "currency: carefund takes gifts in pounds (gbp), not 'eur'."
    )


def _dispute(*bts: object, **changes: object) -> dict[str, object]:
    obj: dict[str, object] = {"currency": "gbp", "payment_intent": "pi_1", "balance_transactions": list(bts)}
    obj.update(changes)
    return obj


def test_dispute_fees_must_parse() -> None:
    fee = {"id": "txn_1", "fee": 2000, "currency": "gbp"}
    given_back = {"id": "txn_2", "fee": -2000, "currency": "gbp"}
    no_fee = {"id": "txn_3", "fee": 0, "currency": "usd"}
    assert rules.webhook_event_problem("charge.dispute.created", _dispute(fee, given_back, no_fee, "txn_4")) is None
    assert rules.dispute_fees(_dispute(fee, given_back, no_fee, "txn_4")) == [("txn_1", 2000), ("txn_2", -2000)]
    edge = {"id": "txn_5", "fee": 100_000, "currency": "gbp"}
    assert rules.webhook_event_problem("charge.dispute.funds_withdrawn", _dispute(edge)) is None
    for bad, problem in [
        ({"id": "txn_1", "fee": 100_001, "currency": "gbp"}, "fee 100001 is not whole pence up to 100000."),
        ({"id": "txn_1", "fee": -100_001, "currency": "gbp"}, "fee -100001 is not whole pence up to 100000."),
        ({"id": "txn_1", "fee": "20", "currency": "gbp"}, "fee '20' is not whole pence up to 100000."),
        ({"id": "txn_1", "fee": 20, "currency": "eur"}, "a fee in 'eur', not pounds (gbp)."),
        ({"fee": 20, "currency": "gbp"}, "id: expected an id of 1 to 255 characters, got 'None'."),
        (7, "expected ids or objects, got '7'."),
    ]:
        assert rules.webhook_event_problem("charge.dispute.funds_reinstated", _dispute(bad)) == (
            f"balance_transactions: {problem}"
        )
    assert rules.webhook_event_problem("charge.dispute.created", _dispute(balance_transactions="txn_1")) == (
        "balance_transactions: expected a list."
    )
    assert rules.dispute_fees({"balance_transactions": "txn_1"}) == []


def test_a_payout_needs_an_id_pounds_an_amount_and_a_sane_arrival() -> None:
    payout = {"id": "po_1", "amount": 10**15, "currency": "gbp", "arrival_date": 1_790_000_000}
    assert rules.webhook_event_problem("payout.paid", payout) is None  # huge, but a finance officer decides
    assert rules.webhook_event_problem("payout.paid", payout | {"arrival_date": None}) is None
    assert rules.webhook_event_problem("payout.paid", payout | {"arrival_date": 4_102_444_800}) is None
    assert rules.webhook_event_problem("payout.paid", payout | {"arrival_date": 4_102_444_801}) == (
        "arrival_date: expected a Unix time before 2100, got '4102444801'."
    )
    assert rules.webhook_event_problem("payout.paid", payout | {"arrival_date": -1}) == (
        "arrival_date: expected a Unix time before 2100, got '-1'."
    )
    assert rules.webhook_event_problem("payout.paid", payout | {"amount": 0}) == (
        f"amount: expected whole pence from 1 to {2**53 - 1}, got 0."
    )
    assert rules.webhook_event_problem("payout.paid", payout | {"id": 5}) == (
        "id: expected an id of 1 to 255 characters, got '5'."
    )
