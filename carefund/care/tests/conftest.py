from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission

from carefund.care.roles import ROLE_PERMISSIONS
from carefund.core.roles import Role


def grant_care_roles() -> None:
    """Give each role group the care permissions `care.roles` declares (what `roles_sync` does after migrate,
    limited to this app so that the care tests do not depend on other apps' half-built roles)."""
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        perms = []
        for dotted in ROLE_PERMISSIONS.get(role, []):
            app_label, codename = dotted.split(".", 1)
            perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.add(*perms)


@pytest.fixture
def roles(db: Any) -> None:
    grant_care_roles()
