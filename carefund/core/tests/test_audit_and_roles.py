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


def test_audit_events_cannot_be_changed_or_deleted_in_the_database():
    from django.db import DatabaseError, connection, transaction

    event = audit_record(actor=None, action="test.done", summary="original")
    for sql in (
        "UPDATE core_auditevent SET summary = 'forged' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    event.refresh_from_db()
    assert event.summary == "original"


def test_deploy_check_refuses_development_secret_key(settings):
    from carefund.core.checks import check_secret_key

    settings.SECRET_KEY = "carefund-insecure-development-key-change-me"
    assert [m.id for m in check_secret_key(None)] == ["carefund.E001"]
    settings.SECRET_KEY = "a-real-long-random-production-key-0123456789abcdef"
    assert check_secret_key(None) == []
