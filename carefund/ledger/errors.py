"""Refusals of the ledger. Each names what was wrong and what is allowed, in words a finance officer uses."""

from __future__ import annotations

from carefund.core.errors import ConflictError, DomainError, ValidationError


class LedgerError(DomainError):
    """Base of the ledger's refusals."""


class UnbalancedTransactionError(LedgerError, ValidationError):
    """The postings do not sum to zero, or there are fewer than two, or an amount is zero or not whole pence."""


class UnknownAccountError(LedgerError, ValidationError):
    """A posting names an account that was never opened (and is not in the chart)."""


class InvalidAccountNameError(LedgerError, ValidationError):
    """An account name that is not a valid beancount name of one of the five types."""


class ClosedAccountError(LedgerError, ValidationError):
    """A posting names an account that has been closed."""


class FundOverdrawnError(LedgerError, ConflictError):
    """The transaction would take a restricted fund below zero."""


class AlreadyReversedError(LedgerError, ConflictError):
    """The transaction has already been reversed (a transaction is reversed once)."""


class IdempotencyConflictError(LedgerError, ConflictError):
    """The idempotency key was used before for a transaction with different content."""
