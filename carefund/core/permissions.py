"""Who may see and do what: roles, and object-level access decided in one place.

Object-level rules are written as query filters over field names, so this module imports no domain app:
- a guardian sees only their own children;
- a clinician sees only children with a care plan at a provider they work for;
- caseworkers, finance officers, commissioners and trustees (and superusers) see every child."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from carefund.core.roles import STAFF_ROLES, Role


def has_role(user: Any, role: Role) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return bool(user.groups.filter(name=role.value).exists())


def roles_of(user: Any) -> set[Role]:
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    if getattr(user, "is_superuser", False):
        return set(Role)
    names = set(user.groups.values_list("name", flat=True))
    return {role for role in Role if role.value in names}


def is_staff_reader(user: Any) -> bool:
    """Staff who may read every child's record (not guardians or clinicians)."""
    return bool(roles_of(user) & STAFF_ROLES)


def child_access_filter(user: Any, *, prefix: str = "") -> Q | None:
    """A Q over the Child model (or a model reaching Child through `prefix`, e.g. "child__") selecting the
    children `user` may see; None means all of them. An anonymous user matches nothing."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    roles = roles_of(user)  # one query for the user's groups
    if roles & STAFF_ROLES:
        return None
    q = Q(**{f"{prefix}pk__in": []})
    if Role.GUARDIAN in roles:
        q |= Q(**{f"{prefix}guardians": user})
    if Role.CLINICIAN in roles:
        q |= Q(**{f"{prefix}care_plans__provider__clinicians": user})
    return q


def restrict_children(queryset: QuerySet[Any], user: Any, *, prefix: str = "") -> QuerySet[Any]:
    """Limit a queryset of children (or of records owned by a child) to those `user` may see."""
    q = child_access_filter(user, prefix=prefix)
    if q is None:
        return queryset
    # A correlated EXISTS on the same model rather than joining the outer query: the joins through guardians and care
    # plans would repeat rows (and need DISTINCT, which also stops later ordering and annotating).
    visible = queryset.model._default_manager.filter(q, pk=OuterRef("pk"))
    return queryset.filter(Exists(visible))


def require_perm(actor: Any, perm: str, what: str) -> None:
    """For a service given an acting user: refuse unless they hold `perm` (`actor=None` is the system: trusted)."""
    from carefund.core.errors import PermissionDeniedError

    if actor is None:
        return
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}.")


def require_child_visible(actor: Any, child: Any) -> None:
    """For a service given an acting user: answer as for a child that does not exist unless `actor` may see the
    child (never confirm a record the actor may not see). `actor=None` is the system."""
    from carefund.core.errors import NotFoundError

    if actor is None:
        return
    if not restrict_children(type(child)._default_manager.filter(pk=child.pk), actor).exists():
        raise NotFoundError("No such child.")
