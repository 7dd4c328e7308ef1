"""The back office: finance officers read declarations and cancel them through the service; nobody edits them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from carefund.core import clock
from carefund.core.models import AuditEvent
from carefund.core.roles import Role, roles_sync
from carefund.giftaid.models import Declaration
from carefund.giftaid.roles import ROLE_PERMISSIONS
from carefund.giftaid.services import declaration_record
from carefund.giftaid.tests.factories import aware, make_donation, make_user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/giftaid/declaration/"


@pytest.fixture(autouse=True)
def _clock() -> Any:
    with clock.frozen_at(aware(dt.date(2026, 7, 1))):
        yield


def staff(role: Role) -> Any:
    from django.contrib.auth.models import Group

    roles_sync()
    user = make_user(role.value.replace(" ", "_"))
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role.value))
    return user


def declaration() -> Declaration:
    return declaration_record(
        donation=make_donation(on=dt.date(2026, 6, 15)),
        title="Mr",
        first_name="Bob",
        last_name="Jones",
        house_name_or_number="4",
        address="High Street, Leeds",
        postcode="LS1 4AP",
        scope="this_and_future",
        declared_on=dt.date(2026, 6, 15),
    )


def test_roles_name_real_permissions() -> None:
    roles_sync()  # raises LookupError for an unknown permission
    assert set(ROLE_PERMISSIONS) == {Role.FINANCE_OFFICER, Role.TRUSTEE, Role.CASEWORKER}


def test_finance_officer_sees_history_but_cannot_edit_or_delete() -> None:
    d = declaration()
    client = Client()
    client.force_login(staff(Role.FINANCE_OFFICER))
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert "LS1 4AP" in page.content.decode()
    detail = client.get(f"{CHANGELIST}{d.pk}/change/")
    assert detail.status_code == 200
    assert 'name="first_name"' not in detail.content.decode()  # read-only
    assert client.get(f"{CHANGELIST}{d.pk}/delete/").status_code == 403
    assert client.get(f"{CHANGELIST}add/").status_code == 403


def test_guardian_cannot_see_declarations() -> None:
    declaration()
    client = Client()
    client.force_login(staff(Role.GUARDIAN))
    assert client.get(CHANGELIST).status_code == 403


def test_cancel_action_asks_then_cancels_through_the_service() -> None:
    d = declaration()
    officer = staff(Role.FINANCE_OFFICER)
    client = Client()
    client.force_login(officer)
    ask = client.post(CHANGELIST, {"action": "cancel_declarations", "_selected_action": [d.pk]})
    assert ask.status_code == 200
    assert "Cancel Gift Aid declarations" in ask.content.decode()
    d.refresh_from_db()
    assert d.cancelled_on is None
    done = client.post(
        CHANGELIST,
        {
            "action": "cancel_declarations",
            "_selected_action": [d.pk],
            "apply": "1",
            "on_date": "2026-06-30",
            "reason": "donor request by phone",
        },
    )
    assert done.status_code == 302
    d.refresh_from_db()
    assert (d.cancelled_on, d.cancellation_reason, d.cancelled_by) == (
        dt.date(2026, 6, 30),
        "donor request by phone",
        officer,
    )
    assert AuditEvent.objects.get(action="giftaid.declaration_cancel").actor == officer


def test_cancel_action_refusal_is_shown_and_writes_nothing() -> None:
    d = declaration()
    client = Client()
    client.force_login(staff(Role.FINANCE_OFFICER))
    response = client.post(
        CHANGELIST,
        {
            "action": "cancel_declarations",
            "_selected_action": [d.pk],
            "apply": "1",
            "on_date": "2026-06-01",
            "reason": "too early",
        },
        follow=True,
    )
    assert "cancellation is not retrospective" in response.content.decode()
    d.refresh_from_db()
    assert d.cancelled_on is None
    assert not AuditEvent.objects.filter(action="giftaid.declaration_cancel").exists()


def test_caseworker_cannot_cancel() -> None:
    d = declaration()
    client = Client()
    client.force_login(staff(Role.CASEWORKER))
    response = client.post(
        CHANGELIST,
        {
            "action": "cancel_declarations",
            "_selected_action": [d.pk],
            "apply": "1",
            "on_date": "2026-06-30",
            "reason": "x",
        },
    )
    assert response.status_code == 200  # Django's "no action selected" page: the action is not offered
    d.refresh_from_db()
    assert d.cancelled_on is None
