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
