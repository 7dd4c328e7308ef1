"""Object-level access decided in one place (`core.permissions`), checked against the care models."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from carefund.care.models import CarePlan, Child, SdrAssessment
from carefund.care.tests.factories import CarePlanFactory, ChildFactory, ProviderFactory, UserFactory, user_with_role
from carefund.core.permissions import child_access_filter, has_role, is_staff_reader, restrict_children, roles_of
from carefund.core.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    nottingham, leeds = ProviderFactory(slug="nott"), ProviderFactory(slug="leeds")
    james, oliver, unplanned = ChildFactory(first_name="James"), ChildFactory(first_name="Oliver"), ChildFactory()
    CarePlanFactory(child=james, provider=nottingham)
    CarePlanFactory(child=oliver, provider=leeds)
    CarePlanFactory(child=oliver, provider=leeds)  # two plans at one provider: still one child, once
    return {"nottingham": nottingham, "leeds": leeds, "james": james, "oliver": oliver, "unplanned": unplanned}


def visible(user):
    return set(restrict_children(Child.objects.all(), user).values_list("first_name", flat=True))


def test_guardian_sees_only_their_own_children(world):
    guardian = user_with_role(Role.GUARDIAN)
    world["james"].guardians.add(guardian)
    assert visible(guardian) == {"James"}


def test_guardian_role_without_a_linked_child_sees_nothing(world):
    assert visible(user_with_role(Role.GUARDIAN)) == set()


def test_linked_user_without_the_guardian_role_sees_nothing(world):
    user = UserFactory()
    world["james"].guardians.add(user)
    assert visible(user) == set()


def test_clinician_sees_children_with_a_plan_at_their_provider(world):
    clinician = user_with_role(Role.CLINICIAN)
    world["leeds"].clinicians.add(clinician)
    assert list(restrict_children(Child.objects.all(), clinician).values_list("first_name", flat=True)) == ["Oliver"]


def test_clinician_without_a_provider_sees_nothing(world):
    assert visible(user_with_role(Role.CLINICIAN)) == set()


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.FINANCE_OFFICER, Role.COMMISSIONER, Role.TRUSTEE])
def test_staff_roles_see_every_child(world, role):
    user = user_with_role(role)
    assert is_staff_reader(user)
    assert child_access_filter(user) is None
    assert restrict_children(Child.objects.all(), user).count() == 3


def test_health_economist_and_plain_users_see_no_child(world):
    assert visible(user_with_role(Role.HEALTH_ECONOMIST)) == set()
    assert visible(UserFactory()) == set()


def test_anonymous_and_none_see_nothing(world):
    assert visible(AnonymousUser()) == set()
    assert visible(None) == set()
    assert roles_of(AnonymousUser()) == set()
    assert not has_role(None, Role.TRUSTEE)


def test_superuser_has_every_role_and_sees_everything(world):
    admin = UserFactory(is_superuser=True)
    assert roles_of(admin) == set(Role)
    assert visible(admin) == {"James", "Oliver", world["unplanned"].first_name}


def test_guardian_who_is_also_a_clinician_sees_the_union(world):
    user = user_with_role(Role.GUARDIAN)
    user.groups.add(*user_with_role(Role.CLINICIAN).groups.all())
    world["unplanned"].guardians.add(user)
    world["nottingham"].clinicians.add(user)
    assert visible(user) == {"James", world["unplanned"].first_name}


def test_prefix_restricts_records_owned_by_a_child(world):
    guardian = user_with_role(Role.GUARDIAN)
    world["oliver"].guardians.add(guardian)
    plans = restrict_children(CarePlan.objects.all(), guardian, prefix="child__")
    assert plans.count() == 2
    assert {p.child.first_name for p in plans} == {"Oliver"}
    assert restrict_children(SdrAssessment.objects.all(), guardian, prefix="child__").count() == 0
    assert restrict_children(CarePlan.objects.all(), None, prefix="child__").count() == 0


def test_login_is_locked_after_five_failures(client, settings):
    settings.AXES_FAILURE_LIMIT = 5
    UserFactory(username="target", password="right-password")
    for _ in range(5):
        client.post("/login/", {"username": "target", "password": "wrong"})
    response = client.post("/login/", {"username": "target", "password": "right-password"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_migrate_leaves_each_role_group_with_its_declared_permissions():
    """post_migrate reaches only apps with models; roles are synced after the last of them (no manual sync here)."""
    from django.contrib.auth.models import Group

    from carefund.care.roles import ROLE_PERMISSIONS

    for role, perms in ROLE_PERMISSIONS.items():
        held = {
            f"{app}.{code}"
            for app, code in Group.objects.get(name=role.value).permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert set(perms) <= held, role
    trustee = {p.codename for p in Group.objects.get(name="trustee").permissions.all()}
    assert "view_auditevent" in trustee
