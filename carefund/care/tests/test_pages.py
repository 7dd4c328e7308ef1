"""The care pages: registering a child, creating a plan from the template, moving items, revealing an NHS
number; clear field errors and nothing saved on a refusal."""

from __future__ import annotations

import datetime as dt

import pytest

from carefund.care.demo import seed_care
from carefund.care.models import CarePlan, Child
from carefund.core import clock
from carefund.core.models import AuditEvent

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 11, 24, 12, 0)


@pytest.fixture
def demo(roles):
    with clock.frozen_at(TODAY):
        yield seed_care(allow_accounts=True)


@pytest.fixture(autouse=True)
def _clock():
    with clock.frozen_at(TODAY):
        yield


FORM = {
    "first_name": "Ella",
    "last_name": "Moss",
    "date_of_birth": "2021-04-02",
    "home_postcode": "ct21 6ab",
    "nhs_number": "943 476 5919",
    "diagnosis": "Cerebral palsy: spastic diplegia",
    "gmfcs_level": "2",
    "publicity_consent": "on",
}


def test_caseworker_registers_a_child_through_the_form(client, demo):
    client.force_login(demo.users["caseworker"])
    assert client.get("/children/new/").status_code == 200
    response = client.post("/children/new/", FORM)
    child = Child.objects.get(first_name="Ella")
    assert response.status_code == 302
    assert response["Location"] == f"/children/{child.pk}/"
    assert (child.home_postcode, child.nhs_number_last3, child.gmfcs_level, child.publicity_consent) == (
        "CT21 6AB",
        "919",
        2,
        True,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nhs_number", "943 476 5918", "is not a valid NHS number"),
        ("nhs_number", "12345", "exactly 10 digits"),
        ("home_postcode", "HYTHE", "is not a UK postcode"),
        ("date_of_birth", "2026-11-25", "is in the future"),
        ("date_of_birth", "not a date", "Enter a valid date."),
        ("gmfcs_level", "6", "Select a valid choice."),
        ("first_name", "", "This field is required."),
        ("diagnosis", "", "This field is required."),
    ],
)
def test_register_form_shows_the_field_error_and_saves_nothing(client, demo, field, value, message):
    client.force_login(demo.users["caseworker"])
    before = (Child.objects.count(), AuditEvent.objects.count())
    response = client.post("/children/new/", {**FORM, field: value})
    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert (Child.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize("username", ["guardian", "clinician", "finance1", "commissioner", "economist"])
def test_only_caseworkers_may_register(client, demo, username):
    client.force_login(demo.users[username])
    assert client.get("/children/new/").status_code == 403
    assert client.post("/children/new/", FORM).status_code == 403
    assert not Child.objects.filter(first_name="Ella").exists()


def test_caseworker_creates_a_plan_from_the_template(client, demo):
    client.force_login(demo.users["caseworker"])
    oliver = demo.children["oliver"]
    template = demo.templates["sdr-standard"]
    leeds = demo.providers["leeds-teaching"]
    response = client.post(
        f"/children/{oliver.pk}/plans/new/",
        {"template": template.pk, "provider": leeds.pk, "start_date": "2027-01-04", "title": ""},
    )
    plan = CarePlan.objects.filter(child=oliver).order_by("-pk").first()
    assert response["Location"] == f"/care-plans/{plan.pk}/"
    assert (plan.start_date, plan.items.count(), plan.total_pence) == (dt.date(2027, 1, 4), 18, 5_011_000)
    page = client.get(f"/care-plans/{plan.pk}/").content.decode()
    assert "£50,110.00" in page
    assert "Selective dorsal rhizotomy (surgery)" in page


def test_plan_form_errors_save_nothing(client, demo):
    client.force_login(demo.users["caseworker"])
    oliver = demo.children["oliver"]
    before = CarePlan.objects.count()
    response = client.post(f"/children/{oliver.pk}/plans/new/", {"template": "", "provider": "", "start_date": "x"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"template", "provider", "start_date"}
    assert CarePlan.objects.count() == before


def test_plan_form_for_a_child_out_of_sight_is_404(client, demo):
    client.force_login(demo.users["guardian"])
    assert client.get(f"/children/{demo.children['amelia'].pk}/plans/new/").status_code == 404
    assert client.get(f"/children/{demo.children['james'].pk}/plans/new/").status_code == 403


def test_item_moves_through_the_page_and_a_forbidden_move_is_explained(client, demo):
    client.force_login(demo.users["caseworker"])
    item = demo.plans["james"].items.get(category="surgery")
    url = f"/care-plans/items/{item.pk}/state/"
    response = client.post(url, {"to_state": "booked"}, follow=True)
    item.refresh_from_db()
    assert item.state == "booked"
    assert "is now booked" in response.content.decode()
    response = client.post(url, {"to_state": "paid"}, follow=True)
    item.refresh_from_db()
    assert item.state == "booked"
    assert "cannot change from &#x27;booked&#x27; to &#x27;paid&#x27;" in response.content.decode()


def test_the_plan_page_offers_no_money_state_and_refuses_one_posted_by_hand(client, demo):
    client.force_login(demo.users["caseworker"])
    item = demo.plans["james"].items.get(category="surgery")
    for state in ("booked", "delivered"):
        client.post(f"/care-plans/items/{item.pk}/state/", {"to_state": state})
    item.refresh_from_db()
    assert item.state == "delivered"
    page = client.get(f"/care-plans/{demo.plans['james'].pk}/").content.decode()
    planned = demo.plans["james"].items.get(category="assessment")
    assert f'action="/care-plans/items/{planned.pk}/state/"' in page  # a planned item can be booked or cancelled
    assert f'action="/care-plans/items/{item.pk}/state/"' not in page  # delivered: only an invoice moves it on
    response = client.post(f"/care-plans/items/{item.pk}/state/", {"to_state": "invoiced"}, follow=True)
    item.refresh_from_db()
    assert item.state == "delivered"
    assert "only through the funding page" in response.content.decode()


def test_a_plan_starting_in_year_9999_is_a_form_error_not_a_500(client, demo):
    client.force_login(demo.users["caseworker"])
    james = demo.children["james"]
    before = CarePlan.objects.count()
    response = client.post(
        f"/children/{james.pk}/plans/new/",
        {
            "template": demo.templates["sdr-standard"].pk,
            "provider": demo.plans["james"].provider_id,
            "start_date": "9999-12-01",
        },
    )
    assert response.status_code == 400
    assert "is more than 5 years ahead" in response.content.decode()
    assert CarePlan.objects.count() == before


def test_guardian_cannot_move_items_and_others_children_are_404(client, demo):
    client.force_login(demo.users["guardian"])
    item = demo.plans["james"].items.first()
    assert client.post(f"/care-plans/items/{item.pk}/state/", {"to_state": "booked"}).status_code == 403
    other = demo.plans["amelia"].items.first()
    assert client.post(f"/care-plans/items/{other.pk}/state/", {"to_state": "booked"}).status_code == 404
    assert client.post("/care-plans/items/999999/state/", {"to_state": "booked"}).status_code == 404
    item.refresh_from_db()
    other.refresh_from_db()
    assert (item.state, other.state) == ("planned", "planned")


def test_nhs_number_shows_last_three_digits_and_full_reveal_is_audited(client, demo):
    james = demo.children["james"]
    client.force_login(demo.users["clinician"])
    page = client.get(f"/children/{james.pk}/").content.decode()
    assert "••• ••• •018" in page
    assert "999 000 0018" not in page
    response = client.post(f"/children/{james.pk}/nhs-number/")
    assert "999 000 0018" in response.content.decode()
    assert AuditEvent.objects.filter(action="child.nhs_number_revealed", actor=demo.users["clinician"]).count() == 1


def test_guardian_and_finance_may_not_reveal(client, demo):
    james = demo.children["james"]
    for username in ("guardian", "finance1"):
        client.force_login(demo.users[username])
        assert "Show in full" not in client.get(f"/children/{james.pk}/").content.decode()
        assert client.post(f"/children/{james.pk}/nhs-number/").status_code == 403
    client.force_login(demo.users["guardian2"])
    assert client.post(f"/children/{james.pk}/nhs-number/").status_code == 404
    assert not AuditEvent.objects.filter(action="child.nhs_number_revealed").exists()


def test_child_page_shows_eligibility_reasons(client, demo):
    client.force_login(demo.users["caseworker"])
    page = client.get(f"/children/{demo.children['amelia'].pk}/").content.decode()
    assert "NHS England 2018: not eligible" in page
    assert "Reimers index 44%: 40% or more (hip dislocation)." in page


ASSESSMENT = {
    "assessed_on": "2026-11-20",
    "gmfcs_level": "3",
    "spastic_diplegia": "on",
    "spasticity_affects_function": "on",
    "mri_typical_pvl": "on",
    "antigravity_strength": "on",
    "reimers_index_percent": "22",
}


def test_clinician_records_an_assessment_and_sees_the_verdict(client, demo):
    clinician = demo.users["clinician"]
    client.force_login(clinician)
    james = demo.children["james"]
    centre = demo.providers["nottingham-university"]
    response = client.post(f"/children/{james.pk}/assessments/new/", {**ASSESSMENT, "provider": centre.pk})
    assessment = james.sdr_assessments.order_by("-pk").first()
    assert response["Location"] == f"/assessments/{assessment.pk}/"
    assert (assessment.clinician, assessment.reimers_index_percent, assessment.dystonia) == (clinician, 22, False)
    page = client.get(response["Location"]).content.decode()
    assert "NHS England 2018: eligible" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("assessed_on", "2026-11-25", "is in the future"),
        ("reimers_index_percent", "101", "less than or equal to 100"),
        ("reimers_index_percent", "12.5", "Enter a whole number."),
    ],
)
def test_assessment_form_errors_save_nothing(client, demo, field, value, message):
    client.force_login(demo.users["clinician"])
    james = demo.children["james"]
    centre = demo.providers["nottingham-university"]
    before = james.sdr_assessments.count()
    response = client.post(
        f"/children/{james.pk}/assessments/new/", {**ASSESSMENT, "provider": centre.pk, field: value}
    )
    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert james.sdr_assessments.count() == before


def test_clinician_may_only_assess_for_their_own_centre(client, demo):
    client.force_login(demo.users["clinician"])
    james = demo.children["james"]
    leeds = demo.providers["leeds-teaching"]
    response = client.post(f"/children/{james.pk}/assessments/new/", {**ASSESSMENT, "provider": leeds.pk})
    assert response.status_code == 400
    assert "provider" in response.context["form"].errors
    assert client.get(f"/children/{demo.children['amelia'].pk}/assessments/new/").status_code == 404
    client.force_login(demo.users["caseworker"])
    assert client.get(f"/children/{james.pk}/assessments/new/").status_code == 403


def test_guardian_withdraws_and_gives_publicity_consent(client, demo):
    guardian = demo.users["guardian"]
    client.force_login(guardian)
    james = demo.children["james"]
    assert "Withdraw consent" in client.get(f"/children/{james.pk}/").content.decode()
    client.post(f"/children/{james.pk}/consent/", {"consent": "no"})
    james.refresh_from_db()
    assert james.publicity_consent is False
    client.post(f"/children/{james.pk}/consent/", {"consent": "yes"})
    james.refresh_from_db()
    assert james.publicity_consent is True
    actions = list(AuditEvent.objects.filter(actor=guardian, target_id=str(james.pk)).values_list("action", flat=True))
    assert "child.publicity_consent_withdrawn" in actions
    assert "child.publicity_consent_given" in actions


def test_consent_is_the_guardians_or_caseworkers_only(client, demo):
    james = demo.children["james"]
    client.force_login(demo.users["clinician"])
    assert client.post(f"/children/{james.pk}/consent/", {"consent": "no"}).status_code == 403
    client.force_login(demo.users["guardian2"])
    assert client.post(f"/children/{james.pk}/consent/", {"consent": "no"}).status_code == 404
    james.refresh_from_db()
    assert james.publicity_consent is True
    assert not AuditEvent.objects.filter(action__startswith="child.publicity_consent").exists()


def test_caseworker_adds_an_item_by_hand_and_re_costs_it(client, demo):
    client.force_login(demo.users["caseworker"])
    plan = demo.plans["james"]
    when = plan.start_date + dt.timedelta(days=30)
    response = client.post(
        f"/care-plans/{plan.pk}/items/new/",
        {"category": "orthotics", "description": "Ankle-foot orthoses, second pair", "planned_date": when,
         "cost": "1,250.50"},
        follow=True,
    )  # fmt: skip
    assert "is added to the plan" in response.content.decode()
    item = plan.items.get(description="Ankle-foot orthoses, second pair")
    assert (item.category, item.cost_pence, item.planned_date, item.state) == ("orthotics", 125_050, when, "planned")
    assert AuditEvent.objects.filter(action="care_plan_item.added", target_id=str(item.pk)).exists()
    response = client.post(f"/care-plans/items/{item.pk}/cost/", {"cost": "1300"}, follow=True)
    item.refresh_from_db()
    assert item.cost_pence == 130_000
    assert "now costs £1,300.00" in response.content.decode()
    assert AuditEvent.objects.get(action="care_plan_item.cost_changed").details == {
        "from_pence": 125_050,
        "to_pence": 130_000,
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cost", "12.345", "use digits with at most two decimals"),
        ("cost", "-5", "is not an amount in pounds"),
        ("planned_date", "2001-01-01", "planned_date"),
        ("description", "", "This field is required."),
    ],
)
def test_an_item_added_with_bad_input_says_what_to_fix_and_saves_nothing(client, demo, field, value, message):
    client.force_login(demo.users["caseworker"])
    plan = demo.plans["james"]
    before = plan.items.count()
    form = {"category": "orthotics", "description": "Orthoses", "cost": "450",
            "planned_date": plan.start_date + dt.timedelta(days=30)} | {field: value}  # fmt: skip
    response = client.post(f"/care-plans/{plan.pk}/items/new/", form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert plan.items.count() == before


def test_an_item_that_is_paid_or_cancelled_cannot_be_re_costed_and_says_why(client, demo):
    client.force_login(demo.users["caseworker"])
    item = demo.plans["james"].items.get(category="assessment")
    client.post(f"/care-plans/items/{item.pk}/state/", {"to_state": "cancelled"})
    response = client.post(f"/care-plans/items/{item.pk}/cost/", {"cost": "10"}, follow=True)
    before = item.cost_pence
    item.refresh_from_db()
    assert item.cost_pence == before
    assert "only planned, booked or delivered items may be re-costed" in response.content.decode()
    response = client.post(f"/care-plans/items/{item.pk}/cost/", {"cost": "ten pounds"}, follow=True)
    assert "is not an amount in pounds" in response.content.decode()


def test_guardians_may_not_add_or_re_cost_items_and_others_plans_are_404(client, demo):
    client.force_login(demo.users["guardian"])
    plan = demo.plans["james"]
    form = {"category": "travel", "description": "Taxi", "cost": "40",
            "planned_date": plan.start_date + dt.timedelta(days=30)}  # fmt: skip
    assert client.post(f"/care-plans/{plan.pk}/items/new/", form).status_code == 403
    item = plan.items.first()
    assert client.post(f"/care-plans/items/{item.pk}/cost/", {"cost": "1"}).status_code == 403
    assert "Add an item by hand" not in client.get(f"/care-plans/{plan.pk}/").content.decode()
    other = demo.plans["amelia"]
    assert client.post(f"/care-plans/{other.pk}/items/new/", form).status_code == 404
    assert client.post(f"/care-plans/items/{other.items.first().pk}/cost/", {"cost": "1"}).status_code == 404
    assert plan.items.filter(description="Taxi").count() == 0


def _edit_form(child, **changes):
    return {
        "first_name": child.first_name,
        "last_name": child.last_name,
        "date_of_birth": child.date_of_birth.isoformat(),
        "home_postcode": child.home_postcode,
        "diagnosis": child.diagnosis,
        "gmfcs_level": str(child.gmfcs_level),
        "nhs_number": "",
    } | changes


def test_caseworker_corrects_a_childs_details_and_the_audit_names_the_fields_not_the_values(client, demo):
    client.force_login(demo.users["caseworker"])
    james = demo.children["james"]
    assert f'href="/children/{james.pk}/edit/"' in client.get(f"/children/{james.pk}/").content.decode()
    page = client.get(f"/children/{james.pk}/edit/").content.decode()
    assert f'value="{james.first_name}"' in page
    level = 2 if james.gmfcs_level != 2 else 3
    response = client.post(
        f"/children/{james.pk}/edit/", _edit_form(james, home_postcode="ng7 2uh", gmfcs_level=str(level)), follow=True
    )
    assert "Saved: home postcode, gmfcs level." in response.content.decode()
    james.refresh_from_db()
    assert (james.home_postcode, james.gmfcs_level) == ("NG7 2UH", level)
    audit = AuditEvent.objects.get(action="child.updated")
    assert audit.details == {"fields": ["home_postcode", "gmfcs_level"]}
    assert "NG7" not in str(audit.details) + audit.summary


def test_an_nhs_number_is_corrected_only_to_a_valid_number_of_no_other_child(client, demo):
    client.force_login(demo.users["caseworker"])
    james, amelia = demo.children["james"], demo.children["amelia"]
    before = (james.nhs_number_hash, james.nhs_number_last3)
    response = client.post(f"/children/{james.pk}/edit/", _edit_form(james, nhs_number="943 476 5918"))
    assert response.status_code == 400 and "check digit" in response.content.decode().lower()
    from carefund.care.services import child_reveal_nhs_number

    taken = child_reveal_nhs_number(child=amelia, actor=demo.users["caseworker"])
    response = client.post(f"/children/{james.pk}/edit/", _edit_form(james, nhs_number=taken))
    assert response.status_code == 400 and "another child is registered with this NHS number" in (
        response.content.decode()
    )
    james.refresh_from_db()
    assert (james.nhs_number_hash, james.nhs_number_last3) == before
    response = client.post(f"/children/{james.pk}/edit/", _edit_form(james, nhs_number="401 023 2137"), follow=True)
    james.refresh_from_db()
    assert james.nhs_number_last3 == "137"
    assert child_reveal_nhs_number(child=james, actor=demo.users["caseworker"]) == "401 023 2137"
    assert AuditEvent.objects.filter(action="child.updated").last().details == {"fields": ["nhs_number"]}


def test_a_bad_correction_says_what_to_fix_and_saves_nothing(client, demo):
    client.force_login(demo.users["caseworker"])
    james = demo.children["james"]
    response = client.post(
        f"/children/{james.pk}/edit/", _edit_form(james, first_name="Jim", date_of_birth="2030-01-01")
    )
    assert response.status_code == 400
    james.refresh_from_db()
    assert james.first_name != "Jim"
    assert not AuditEvent.objects.filter(action="child.updated").exists()


def test_only_caseworkers_and_trustees_correct_a_child_and_only_one_they_may_see(client, demo):
    james = demo.children["james"]
    client.force_login(demo.users["guardian"])
    assert client.get(f"/children/{james.pk}/edit/").status_code == 403
    assert client.post(f"/children/{james.pk}/edit/", _edit_form(james, first_name="X")).status_code == 403
    assert f'href="/children/{james.pk}/edit/"' not in client.get(f"/children/{james.pk}/").content.decode()
    client.force_login(demo.users["caseworker"])
    assert client.get("/children/999999/edit/").status_code == 404
    james.refresh_from_db()
    assert james.first_name != "X"


def test_the_treating_centre_list_names_each_organisation_once(client, demo):
    """A trust and its hospital were listed side by side (four hospitals twice under different names): the list
    offers the trust, naming its hospital, and never the hospital again."""
    client.force_login(demo.users["caseworker"])
    page = client.get(f"/children/{demo.children['oliver'].pk}/plans/new/").content.decode()
    trust = "Leeds Teaching Hospitals NHS Trust (Leeds)"
    assert f"{trust} — Leeds Children&#x27;s Hospital (Leeds General Infirmary)" in page
    hospital = demo.providers["leeds-childrens"]
    assert f'<option value="{hospital.pk}"' not in page
    assert page.count("Leeds Children&#x27;s Hospital") == 1
