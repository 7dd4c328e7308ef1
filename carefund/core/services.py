"""Core services: the one writer of audit events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models

from carefund.core import clock
from carefund.core.models import AuditEvent


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    target: models.Model | None = None,
    summary: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event. Every state change that matters calls this with the acting user.

    Details must not carry identifiers such as NHS numbers: name the record, never copy its secrets."""
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        occurred_at=clock.now(),
        actor=user,  # type: ignore[misc]
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:300],
        details=details or {},
    )
