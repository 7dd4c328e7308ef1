"""The roles of carefund as Django groups with model permissions.

Each domain app declares what each role may do in its own `roles.py` as `ROLE_PERMISSIONS`, a mapping of
role name to a list of "app_label.codename" strings; `roles_sync()` gathers them and makes the groups.
Object-level access (whose records) is decided in `carefund.core.permissions`."""

from __future__ import annotations

import importlib
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    GUARDIAN = "guardian"
    CASEWORKER = "caseworker"
    FINANCE_OFFICER = "finance officer"
    CLINICIAN = "clinician"
    COMMISSIONER = "commissioner"
    HEALTH_ECONOMIST = "health economist"
    TRUSTEE = "trustee"
    # Moderates petitions (approve, reject, hold, invalidate, record responses); trustees have its permissions too.
    MODERATOR = "moderator"


STAFF_ROLES = frozenset({Role.CASEWORKER, Role.FINANCE_OFFICER, Role.COMMISSIONER, Role.TRUSTEE})

# Trustees read the audit trail in the back office (read-only: see core/admin.py).
ROLE_PERMISSIONS: dict[Role, list[str]] = {Role.TRUSTEE: ["core.view_auditevent"]}


def collect_role_permissions() -> dict[str, set[str]]:
    from django.apps import apps

    wanted: dict[str, set[str]] = {role.value: set() for role in Role}
    for config in apps.get_app_configs():
        if not config.name.startswith("carefund."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.roles")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.roles":
                raise
            continue
        for role, perms in getattr(module, "ROLE_PERMISSIONS", {}).items():
            wanted[Role(role).value].update(perms)
    return wanted


def roles_sync() -> None:
    """Create or update one group per role with exactly the permissions the apps declare."""
    from django.contrib.auth.models import Group, Permission

    for role, perms in collect_role_permissions().items():
        group, _ = Group.objects.get_or_create(name=role)
        objs = []
        for dotted in sorted(perms):
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is None:
                raise LookupError(f"role {role!r} names unknown permission {dotted!r}")
            objs.append(perm)
        group.permissions.set(objs)


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    from django.apps import apps

    # Run once, after the last app has migrated (all permissions exist by then). Django sends post_migrate only
    # to apps with a models module, so the last of those, not the last installed app, is the one to wait for.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if with_models and getattr(sender, "name", "") == with_models[-1].name:
        roles_sync()
