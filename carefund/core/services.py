"""Core services: the one writer of audit events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.utils import CursorWrapper

from carefund.core import clock
from carefund.core.models import AuditEvent

_COLUMNS = "occurred_at, actor_id, action, target_type, target_id, summary, details"


@lru_cache(maxsize=32)
def _insert_sql(n_rows: int) -> str:
    """The INSERT of `n_rows` audit events (built once per size; only placeholders are formatted into it)."""
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * n_rows)
    return f"INSERT INTO core_auditevent ({_COLUMNS}) VALUES {rows}"  # noqa: S608


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
    event = AuditEvent(
        occurred_at=clock.now(),
        actor=user,  # type: ignore[misc]
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:300],
        details=details or {},
    )
    # One plain INSERT (no ORM compilation: this runs on every state change, including each confirmed gift).
    db = connections[DEFAULT_DB_ALIAS]
    ops = db.ops
    with db.cursor() as cursor:
        cursor.execute(
            _insert_sql(1) + " RETURNING id",
            [
                ops.adapt_datetimefield_value(event.occurred_at),
                user.pk if user is not None else None,
                event.action,
                event.target_type,
                event.target_id,
                event.summary,
                ops.adapt_json_value(event.details, None),
            ],
        )
        event.pk = int(cursor.fetchone()[0])
    event._state.adding = False
    event._state.db = db.alias
    return event


def audit_record_many(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    events: Sequence[tuple[str, models.Model | None, str, dict[str, Any]]],
    cursor: CursorWrapper | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Write several audit events by one actor in one INSERT: (action, target, summary, details) each. The same
    rows as calling audit_record for each, for writers that act on many records at once (a batch of gifts), and
    for writers on a hot path that do not need the AuditEvent instance back (no model instance is built). Such a
    writer may pass its open `cursor` and the instant of its change (`at`, default now) to save a cursor and a
    clock read."""
    if not events:
        return
    actor_id = actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None
    db = connections[DEFAULT_DB_ALIAS]  # resolved once (each attribute of the `connection` proxy is a lookup)
    ops = db.ops
    when = ops.adapt_datetimefield_value(at if at is not None else clock.now())
    params: list[Any] = []
    for action, target, summary, details in events:
        params += [
            when,
            actor_id,
            action,
            target._meta.label_lower if target is not None else "",
            str(target.pk) if target is not None else "",
            summary[:300],
            ops.adapt_json_value(details or {}, None),
        ]
    if cursor is not None:
        cursor.execute(_insert_sql(len(events)), params)
        return
    with db.cursor() as own:
        own.execute(_insert_sql(len(events)), params)
