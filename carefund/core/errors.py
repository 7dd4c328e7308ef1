"""The DomainError tree: every refusal a person can meet, with a message that says what to fix."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every business-rule refusal. `field` names the input at fault, when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class ValidationError(DomainError):
    """Input that is well-formed but not allowed (a future date of birth, a bad NHS number)."""


class PermissionDeniedError(DomainError):
    """The acting user may not do this."""


class NotFoundError(DomainError):
    """The thing asked for does not exist, or the acting user may not know that it exists."""


class StateTransitionError(DomainError):
    """A state change that the entity's life cycle does not allow."""


class FourEyesError(PermissionDeniedError):
    """A person tried to approve what they entered or proposed themselves."""


class ConflictError(DomainError):
    """The request clashes with the current state (already done, already taken)."""
