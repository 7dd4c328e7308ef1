import pytest
from hypothesis import given
from hypothesis import strategies as st

from carefund.core.errors import ValidationError
from carefund.core.money import format_pence, parse_pounds, pence_from_decimal, require_pence, split_pence


@pytest.mark.parametrize(
    ("pence", "text"),
    [(0, "£0.00"), (5, "£0.05"), (123450, "£1,234.50"), (-5, "-£0.05"), (5_000_000, "£50,000.00")],
)
def test_format_pence(pence, text):
    assert format_pence(pence) == text


def test_format_pence_refuses_floats():
    with pytest.raises(TypeError):
        format_pence(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "pence"), [("25", 2500), ("25.5", 2550), ("£1,234.56", 123456), (" 0.01 ", 1)])
def test_parse_pounds(text, pence):
    assert parse_pounds(text) == pence


@pytest.mark.parametrize("text", ["", "abc", "-5", "1.234", "1e3", "12,34"])
def test_parse_pounds_refuses_with_field_name(text):
    with pytest.raises(ValidationError) as err:
        parse_pounds(text, field="gift")
    assert err.value.field == "gift"
    assert "gift" in str(err.value)


def test_pence_from_decimal_refuses_fraction_of_penny():
    assert pence_from_decimal("12.34") == 1234
    with pytest.raises(ValidationError, match="fraction of a penny"):
        pence_from_decimal("0.001")


@pytest.mark.parametrize("value", [-1, 0, 1.5, "10", True])
def test_require_pence_refuses(value):
    with pytest.raises(ValidationError):
        require_pence(value)


@given(st.integers(min_value=0, max_value=10**9), st.lists(st.integers(0, 1000), min_size=1, max_size=20))
def test_split_pence_never_loses_a_penny(total, weights):
    if sum(weights) == 0:
        weights[0] = 1
    parts = split_pence(total, weights)
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)
    assert all(p == 0 for p, w in zip(parts, weights, strict=True) if w == 0)


def test_split_pence_largest_remainder():
    assert split_pence(100, [1, 1, 1]) == [34, 33, 33]


# --- issue 16: ASCII digits only, and every amount within MAX_AMOUNT_PENCE before any arithmetic -------------------


@pytest.mark.parametrize("text", ["٥", "５", "1٥", "٥.٠٠", "১০", "𝟓", "5.٥"])
def test_parse_pounds_refuses_digits_other_than_ascii(text):
    with pytest.raises(ValidationError, match="is not an amount in pounds"):
        parse_pounds(text, field="Another amount (£)")


def test_parse_pounds_limits():
    from carefund.core.money import MAX_AMOUNT_PENCE

    assert MAX_AMOUNT_PENCE == 100_000_000_000
    assert parse_pounds("1,000,000,000") == MAX_AMOUNT_PENCE
    assert parse_pounds("0000000000001.50") == 150  # leading zeros are not digits of the amount
    for text in ("1,000,000,000.01", "1000000001", "9" * 30, "1" + "0" * 5000):
        with pytest.raises(ValidationError, match=r"more than £1,000,000,000.00, the most carefund accepts"):
            parse_pounds(text, field="amount")


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "sNaN", "1E+999999", "-1E+999999", "1000000000.01"])
def test_pence_from_decimal_refuses_the_unbounded(value):
    with pytest.raises(ValidationError, match="amount: "):
        pence_from_decimal(value)
    assert pence_from_decimal("1000000000") == 100_000_000_000


def test_require_pence_has_a_ceiling():
    assert require_pence(100_000_000_000) == 100_000_000_000
    with pytest.raises(ValidationError, match="at most 100000000000 pence"):
        require_pence(100_000_000_001)


@given(st.text(max_size=40))
def test_parse_pounds_never_fails_otherwise_than_by_validation(text):
    try:
        pence = parse_pounds(text)
    except ValidationError:
        return
    assert 0 <= pence <= 100_000_000_000
    assert text.strip().lstrip("£").strip().replace(",", "").replace(".", "").isascii()
