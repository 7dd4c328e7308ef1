"""The chart of accounts: the names every app uses, beancount style (debits positive, credits negative).

Account types follow beancount: the first component of a name is its type. A restricted child fund is an
Equity account; while it holds money its balance is a credit, i.e. negative in beancount signs.
See docs/ledger.md for the chart and the posting recipes."""

from __future__ import annotations

import re
from enum import StrEnum


class AccountType(StrEnum):
    ASSETS = "Assets"
    LIABILITIES = "Liabilities"
    EQUITY = "Equity"
    INCOME = "Income"
    EXPENSES = "Expenses"


BANK = "Assets:Bank:Current"
GIFT_AID_RECEIVABLE = "Assets:Receivable:GiftAid"
GENERAL_FUND = "Equity:Fund:General"
PAYMENT_FEES = "Expenses:Fees:Payments"
OPENING_BALANCES = "Equity:Opening-Balances"

CHILD_FUND_PREFIX = "Equity:Fund:Restricted:Child-"
PROVIDER_PAYABLE_PREFIX = "Liabilities:Payable:Provider-"
CLEARING_PREFIX = "Assets:Clearing:"

_GATEWAY_COMPONENTS = {"stripe": "Stripe", "test": "TestGateway", "testgateway": "TestGateway"}

# A component starts with a capital letter or a digit, then letters, digits and hyphens (beancount's rule).
_COMPONENT = r"[A-Z0-9][A-Za-z0-9-]*"
ACCOUNT_NAME_RE = re.compile(rf"^(Assets|Liabilities|Equity|Income|Expenses)(:{_COMPONENT})+$")
_CHILD_FUND_RE = re.compile(r"^Equity:Fund:Restricted:Child-([1-9][0-9]*)$")
_PROVIDER_RE = re.compile(r"^Liabilities:Payable:Provider-([1-9][0-9]*)$")

# Accounts that need no explicit `account_open`: ledger_post opens them on first use (see docs/ledger.md).
STANDARD_ACCOUNTS: dict[str, str] = {
    BANK: "The charity's current account.",
    GIFT_AID_RECEIVABLE: "Gift Aid claimed from HMRC and not yet received.",
    GENERAL_FUND: "General (unrestricted) funds of the charity.",
    PAYMENT_FEES: "Fees charged by payment providers.",
    OPENING_BALANCES: "Balances brought in when the book was started.",
    "Assets:Clearing:Stripe": "Card gifts taken by Stripe and not yet paid out to the bank.",
    "Assets:Clearing:TestGateway": "Gifts taken by the built-in test gateway (demo only).",
}


def clearing_account(gateway: str) -> str:
    """The clearing account of a payment gateway: "stripe" -> "Assets:Clearing:Stripe"."""
    key = gateway.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    component = _GATEWAY_COMPONENTS.get(key)
    if component is None:
        component = gateway.strip().title().replace("_", "").replace(" ", "").replace("-", "")
    name = CLEARING_PREFIX + component
    if not is_valid_name(name):
        raise ValueError(f"gateway {gateway!r} does not make a valid account name")
    return name


def provider_payable(provider_id: int) -> str:
    """What the charity owes one provider: "Liabilities:Payable:Provider-<id>"."""
    return f"{PROVIDER_PAYABLE_PREFIX}{_positive_id(provider_id, 'provider_id')}"


def child_fund(child_id: int) -> str:
    """The restricted fund of one child: "Equity:Fund:Restricted:Child-<id>"."""
    return f"{CHILD_FUND_PREFIX}{_positive_id(child_id, 'child_id')}"


def _positive_id(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{field} must be a positive integer, got {value!r}")
    return value


def is_valid_name(name: str) -> bool:
    """True for a valid beancount account name of one of the five types."""
    return bool(ACCOUNT_NAME_RE.match(name))


def account_type_of(name: str) -> AccountType:
    """The type of an account, from the first component of its name."""
    return AccountType(name.split(":", 1)[0])


def child_id_of(name: str) -> int | None:
    """The child id of a restricted child fund account name, or None for any other account."""
    match = _CHILD_FUND_RE.match(name)
    return int(match.group(1)) if match else None


def is_restricted_fund(name: str) -> bool:
    return child_id_of(name) is not None


def is_chart_name(name: str) -> bool:
    """True for a name the chart defines (a standard account, a gateway clearing account, a provider payable or
    a child fund): ledger_post opens these on first use; any other name must be opened with account_open."""
    if name in STANDARD_ACCOUNTS or _CHILD_FUND_RE.match(name) or _PROVIDER_RE.match(name):
        return True
    return name.startswith(CLEARING_PREFIX) and name.count(":") == 2 and is_valid_name(name)


def default_description(name: str) -> str:
    if name in STANDARD_ACCOUNTS:
        return STANDARD_ACCOUNTS[name]
    child = child_id_of(name)
    if child is not None:
        return f"Restricted fund of child {child}."
    match = _PROVIDER_RE.match(name)
    if match:
        return f"Owed to provider {match.group(1)}."
    if name.startswith(CLEARING_PREFIX):
        return f"Payment gateway clearing ({name.rsplit(':', 1)[1]})."
    return ""
