"""Petition refusals (all under the DomainError tree)."""

from carefund.core.errors import NotFoundError


class PetitionRemovedError(NotFoundError):
    """The petition was removed: its address answers 410 Gone."""
