"""Money is integer pence everywhere; these helpers parse and format it at the edges only."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from carefund.core.errors import ValidationError

Pence = int

# The largest amount any input may name: £1,000,000,000 (far above any gift, invoice or NHS programme budget, and far
# below what the database's 64-bit integers hold, so sums of many such amounts cannot overflow either). Every amount
# from a person or a file is checked against it before any arithmetic (docs/security.md, "Input").
MAX_AMOUNT_PENCE = 100_000_000_000

# ASCII digits only: Python's \d also matches Arabic-Indic, full-width and other digits ('٥' would be £5).
_AMOUNT_RE = re.compile(r"^\s*£?\s*(?P<pounds>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<pence>[0-9]{1,2}))?\s*$")


def format_pence(amount_pence: int, *, symbol: bool = True) -> str:
    """Format pence for people: 123450 -> '£1,234.50', -5 -> '-£0.05'."""
    if not isinstance(amount_pence, int) or isinstance(amount_pence, bool):
        raise TypeError(f"amount_pence must be an int, not {type(amount_pence).__name__}")
    sign = "-" if amount_pence < 0 else ""
    pounds, pence = divmod(abs(amount_pence), 100)
    return f"{sign}{'£' if symbol else ''}{pounds:,}.{pence:02d}"


def format_pounds_whole(amount_pence: int) -> str:
    """Format to whole pounds for headlines: 5000000 -> '£50,000'."""
    sign = "-" if amount_pence < 0 else ""
    return f"{sign}£{round(abs(amount_pence) / 100):,}"


def parse_pounds(text: str, *, field: str = "amount") -> int:
    """Parse '1,234.50' or '£12' into pence. Refuses negatives, more than two decimals and non-numbers."""
    if text is None or str(text).strip() == "":
        raise ValidationError(f"{field}: enter an amount in pounds, for example 25 or 25.50.", field=field)
    match = _AMOUNT_RE.match(str(text))
    if not match:
        raise ValidationError(
            f"{field}: '{text}' is not an amount in pounds; use digits with at most two decimals, "
            "for example 25 or 25.50.",
            field=field,
        )
    digits = match.group("pounds").replace(",", "").lstrip("0")
    if len(digits) > len(str(MAX_AMOUNT_PENCE // 100)):  # checked on the text: no huge number is ever built
        raise _too_large(field)
    pence = int(digits or "0") * 100 + int((match.group("pence") or "0").ljust(2, "0"))
    if pence > MAX_AMOUNT_PENCE:
        raise _too_large(field)
    return pence


def _too_large(field: str) -> ValidationError:
    return ValidationError(
        f"{field}: the amount is more than {format_pence(MAX_AMOUNT_PENCE)}, the most carefund accepts; check it.",
        field=field,
    )


def pence_from_decimal(value: Decimal | str, *, field: str = "amount") -> int:
    """Convert an exact decimal amount of pounds to pence; refuses fractions of a penny."""
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(f"{field}: '{value}' is not a number.", field=field) from None
    if not d.is_finite():
        raise ValidationError(f"{field}: '{value}' is not a number.", field=field)
    if abs(d) > MAX_AMOUNT_PENCE // 100:  # before any arithmetic: 1E+999999 would make a vast integer
        raise _too_large(field)
    pence = d * 100
    if pence != pence.to_integral_value():
        raise ValidationError(f"{field}: {value} has a fraction of a penny.", field=field)
    return int(pence)


def require_pence(value: object, *, field: str = "amount_pence", allow_zero: bool = False) -> int:
    """Check a value is a whole, non-negative (or positive) number of pence."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field}: must be a whole number of pence, got {value!r}.", field=field)
    if value < 0 or (value == 0 and not allow_zero):
        allowed = "zero or more" if allow_zero else "more than zero"
        raise ValidationError(f"{field}: must be {allowed} pence, got {value}.", field=field)
    if value > MAX_AMOUNT_PENCE:
        raise ValidationError(f"{field}: must be at most {MAX_AMOUNT_PENCE} pence, got {value}.", field=field)
    return value


def split_pence(total: int, weights: list[int]) -> list[int]:
    """Split `total` pence in proportion to integer weights; the parts always add up to `total` exactly.

    Largest-remainder method: each part gets its floor share, and the pennies left over go to the
    parts with the largest remainders (earliest first on ties)."""
    if not weights:
        raise ValueError("weights must not be empty")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    shares = [total * w // weight_sum for w in weights]
    remainders = [(total * w % weight_sum, -i) for i, w in enumerate(weights)]
    left = total - sum(shares)
    for _, neg_i in sorted(remainders, reverse=True)[:left]:
        shares[-neg_i] += 1
    return shares
