"""The permission check every petition writer and staff reader starts with."""

from __future__ import annotations

from typing import Any

from carefund.core.errors import PermissionDeniedError


def require_perm(user: Any, perm: str, message: str = "You may not do this: ask a petitions moderator.") -> None:
    """Refuse (PermissionDeniedError) unless `user` is signed in and has `perm` ("petitions.<codename>")."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm(perm):
        raise PermissionDeniedError(message)
