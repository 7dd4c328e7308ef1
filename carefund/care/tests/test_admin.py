"""The back office: restricted by role and by object-level access, read-only where records change only
through services, NHS numbers masked."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission

from carefund.care.demo import seed_care
from carefund.core import clock
from carefund.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(roles):
    with clock.frozen_at(dt.datetime(2026, 11, 24, 12, 0)):
        yield seed_care(allow_accounts=True)


def test_child_list_masks_nhs_numbers(client, demo):
    client.force_login(demo.users["caseworker"])
    body = client.get("/admin/care/child/").content.decode()
    assert "James" in body
    assert "••• ••• •018" in body
    assert "9990000018" not in body
    assert "999 000 0018" not in body


def test_clinician_sees_only_their_providers_children_in_the_back_office(client, demo):
    client.force_login(demo.users["clinician"])
    body = client.get("/admin/care/child/").content.decode()
    assert "James" in body
    assert "Amelia" not in body
    assert client.get(f"/admin/care/child/{demo.children['amelia'].pk}/change/").status_code == 302  # "not found"


def test_guardian_has_no_back_office(client, demo):
    client.force_login(demo.users["guardian"])
    response = client.get("/admin/care/child/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_care_plan_items_cannot_be_hand_edited(client, demo):
    client.force_login(demo.users["caseworker"])
    plan = demo.plans["james"]
    page = client.get(f"/admin/care/careplan/{plan.pk}/change/").content.decode()
    assert 'name="items-0-cost_pence"' not in page
    assert 'name="items-0-state"' not in page
    assert "£10,000.00" in page
    assert client.get("/admin/care/careplan/add/").status_code == 403
    assert client.get(f"/admin/care/careplan/{plan.pk}/delete/").status_code == 403


def test_child_identifiers_are_read_only_in_the_back_office(client, demo):
    client.force_login(demo.users["caseworker"])
    james = demo.children["james"]
    page = client.get(f"/admin/care/child/{james.pk}/change/").content.decode()
    assert 'name="date_of_birth"' not in page
    assert 'name="publicity_consent"' in page
    assert client.get("/admin/care/child/add/").status_code == 403


def test_audit_events_are_read_only_in_the_back_office(client, demo):
    trustee = demo.users["trustee"]
    trustee.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client.force_login(trustee)
    event = AuditEvent.objects.first()
    assert client.get("/admin/core/auditevent/").status_code == 200
    response = client.post(f"/admin/core/auditevent/{event.pk}/change/", {"summary": "forged"})
    assert response.status_code == 403
    assert client.get(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403
    event.refresh_from_db()
    assert event.summary != "forged"


def test_a_hand_edit_in_the_back_office_is_audited(client, demo):
    caseworker = demo.users["caseworker"]
    client.force_login(caseworker)
    james = demo.children["james"]
    guardian = demo.users["guardian"]
    response = client.post(
        f"/admin/care/child/{james.pk}/change/", {"guardians": [guardian.pk], "publicity_consent": ""}
    )
    assert response.status_code == 302
    james.refresh_from_db()
    assert james.publicity_consent is False
    event = AuditEvent.objects.get(action="child.changed_in_back_office")
    assert (event.actor, event.target_id) == (caseworker, str(james.pk))
    assert event.details == {"change": [{"changed": {"fields": ["Publicity consent"]}}]}


def test_opening_a_childs_record_in_the_back_office_is_audited(client, demo):
    # Regression: the pages and the API audit every view of a child's record; the back office did not.
    clinician = demo.users["clinician"]
    client.force_login(clinician)
    james, plan = demo.children["james"], demo.plans["james"]
    assert client.get(f"/admin/care/child/{james.pk}/change/").status_code == 200
    assert client.get(f"/admin/care/careplan/{plan.pk}/change/").status_code == 200
    viewed = AuditEvent.objects.filter(action__endswith="viewed_in_back_office").order_by("id")
    assert [(e.action, e.actor, e.target_id) for e in viewed] == [
        ("child.viewed_in_back_office", clinician, str(james.pk)),
        ("careplan.viewed_in_back_office", clinician, str(plan.pk)),
    ]
    before = AuditEvent.objects.count()
    assert client.get(f"/admin/care/child/{demo.children['amelia'].pk}/change/").status_code == 302  # not theirs
    assert AuditEvent.objects.count() == before
