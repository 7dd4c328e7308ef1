"""Access matrix: each role against each kind of record (child, care plan, SDR assessment), through the real
pages and the JSON API. A record the user may not see is a 404 that shows nothing of it."""

from __future__ import annotations

import datetime as dt

import pytest

from carefund.care.demo import seed_care
from carefund.core import clock
from carefund.core.models import AuditEvent

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 11, 24, 12, 0)

USERS = ["guardian", "guardian2", "clinician", "caseworker", "finance1", "commissioner", "economist", "trustee"]

# Who may see James's / Amelia's child record and care plan (James: guardian + Nottingham clinician + staff;
# Amelia: guardian2 + staff). The health economist sees no child (least privilege).
SEES_JAMES = {"guardian", "clinician", "caseworker", "finance1", "commissioner", "trustee"}
SEES_AMELIA = {"guardian2", "caseworker", "finance1", "commissioner", "trustee"}
# Assessments are clinical: guardians of the child, clinicians, caseworkers, commissioners, trustees; not finance.
SEES_ASSESSMENT = {"caseworker", "commissioner", "trustee"}


@pytest.fixture
def demo(roles):
    with clock.frozen_at(TODAY):
        yield seed_care(allow_accounts=True)


def _expect(username, child_key, kind):
    sees = SEES_JAMES if child_key == "james" else SEES_AMELIA
    if kind == "assessment":
        own = {"james": {"guardian", "clinician"}, "amelia": {"guardian2"}}[child_key]
        return username in SEES_ASSESSMENT or username in own
    return username in sees


def _urls(demo, child_key):
    child = demo.children[child_key]
    plan = demo.plans[child_key]
    assessment = child.sdr_assessments.get()
    return {
        "child": (f"/children/{child.pk}/", f"/api/care/children/{child.pk}"),
        "plan": (f"/care-plans/{plan.pk}/", f"/api/care/plans/{plan.pk}"),
        "assessment": (f"/assessments/{assessment.pk}/", f"/api/care/children/{child.pk}/eligibility"),
    }


@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("child_key", ["james", "amelia"])
@pytest.mark.parametrize("kind", ["child", "plan", "assessment"])
def test_access_matrix_pages_and_api(client, demo, username, child_key, kind):
    client.force_login(demo.users[username])
    page, api = _urls(demo, child_key)[kind]
    child = demo.children[child_key]
    allowed = _expect(username, child_key, kind)
    before = AuditEvent.objects.count()
    with clock.frozen_at(TODAY):
        page_response = client.get(page)
        api_response = client.get(api)
    if allowed:
        assert page_response.status_code == 200
        assert child.full_name in page_response.content.decode()
        assert api_response.status_code == 200
        assert AuditEvent.objects.filter(actor=demo.users[username]).count() >= 2
    else:
        assert page_response.status_code == 404
        assert api_response.status_code == 404
        for response in (page_response, api_response):
            assert child.first_name not in response.content.decode()
            assert child.last_name not in response.content.decode()
        assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("kind", ["child", "plan", "assessment"])
def test_anonymous_is_sent_to_sign_in_and_api_says_401(client, demo, kind):
    page, api = _urls(demo, "james")[kind]
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert client.get(api).status_code == 401


def test_child_view_writes_one_audit_event_naming_the_viewer(client, demo):
    guardian = demo.users["guardian"]
    client.force_login(guardian)
    james = demo.children["james"]
    with clock.frozen_at(TODAY):
        client.get(f"/children/{james.pk}/")
    event = AuditEvent.objects.filter(action="child.viewed").get()
    assert (event.actor, event.target_type, event.target_id) == (guardian, "care.child", str(james.pk))


def test_child_list_shows_only_visible_children(client, demo):
    client.force_login(demo.users["guardian"])
    body = client.get("/children/").content.decode()
    assert "James Hartley" in body
    for other in ("Amelia", "Oliver", "Sophie", "Noah"):
        assert other not in body
    client.force_login(demo.users["caseworker"])
    body = client.get("/children/").content.decode()
    assert all(name in body for name in ("James", "Amelia", "Oliver", "Sophie", "Noah"))


def test_api_plan_has_items_with_states_and_exact_total(client, demo):
    client.force_login(demo.users["guardian"])
    plan = demo.plans["james"]
    data = client.get(f"/api/care/plans/{plan.pk}").json()
    assert data["total_pence"] == 5_011_000
    assert len(data["items"]) == 18
    assert data["items"][0]["next_states"] == ["booked", "cancelled"]
    assert data["provider_name"] == "Nottingham University Hospitals NHS Trust"
    plans = client.get(f"/api/care/children/{plan.child_id}/plans").json()
    assert [p["id"] for p in plans] == [plan.pk]


def test_api_child_masks_the_nhs_number(client, demo):
    client.force_login(demo.users["caseworker"])
    james = demo.children["james"]
    data = client.get(f"/api/care/children/{james.pk}").json()
    assert data["nhs_number_masked"] == "••• ••• •018"
    assert "9990000018" not in str(data)


def test_api_eligibility_gives_one_reason_per_criterion(client, demo):
    client.force_login(demo.users["clinician"])
    james = demo.children["james"]
    with clock.frozen_at(TODAY):
        data = client.get(f"/api/care/children/{james.pk}/eligibility").json()
    assert [(v["policy"], v["eligible"]) for v in data] == [("NHS England 2018", True), ("CtE 2014", True)]
    assert len(data[0]["criteria"]) == 11
    assert data[0]["criteria"][0]["reason"] == "Aged 3: within the NHS England 2018 range of 3 to 9 inclusive."


def test_api_eligibility_before_the_childs_birth_is_a_400_that_says_why(client, demo):
    # Regression: a date before birth was judged with a negative age ("Aged -2011").
    client.force_login(demo.users["clinician"])
    james = demo.children["james"]
    response = client.get(f"/api/care/children/{james.pk}/eligibility?on_date=0001-01-01")
    assert response.status_code == 400
    assert response.json() == {"detail": "on_date: 0001-01-01 is before the child's birth; give a date on or after it."}


@pytest.mark.parametrize(
    ("username", "names"),
    [
        ("guardian", ["James Hartley"]),
        ("guardian2", ["Amelia Price"]),
        ("clinician", ["James Hartley"]),
        ("economist", []),
        ("caseworker", ["Noah Bennett", "James Hartley", "Sophie Nolan", "Amelia Price", "Oliver Shaw"]),
    ],
)
def test_api_child_list_honours_access(client, demo, username, names):
    client.force_login(demo.users[username])
    assert [c["full_name"] for c in client.get("/api/care/children").json()] == names
