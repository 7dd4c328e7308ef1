import pytest
from django.contrib.auth.models import Group, User

from carefund.core.models import AuditEvent
from carefund.core.permissions import has_role, roles_of
from carefund.core.roles import Role, roles_sync
from carefund.core.services import audit_record

pytestmark = pytest.mark.django_db


def test_every_role_is_a_group_after_migrate():
    roles_sync()
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_audit_record_names_actor_and_target():
    user = User.objects.create_user("cw", password="x")
    target = User.objects.create_user("subject", password="x")
    event = audit_record(actor=user, action="user.viewed", target=target, summary="looked")
    event.refresh_from_db()
    assert (event.actor, event.action, event.target_type, event.target_id) == (
        user,
        "user.viewed",
        "auth.user",
        str(target.pk),
    )


def test_roles_of_and_has_role():
    roles_sync()
    user = User.objects.create_user("fo", password="x")
    user.groups.add(Group.objects.get(name=Role.FINANCE_OFFICER.value))
    assert roles_of(user) == {Role.FINANCE_OFFICER}
    assert has_role(user, Role.FINANCE_OFFICER)
    assert not has_role(user, Role.CASEWORKER)
    assert AuditEvent.objects.count() == 0
