"""The care demo data: the story's children, centres, template, plans and one account per role."""

from __future__ import annotations

import datetime as dt

import pytest

from carefund.care import rules, selectors
from carefund.care.demo import seed_care
from carefund.care.models import CarePlan, CarePlanItem, Child, PathwayTemplate, Provider, SdrAssessment
from carefund.core import clock
from carefund.core.models import AuditEvent

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 11, 24, 12, 0)


@pytest.fixture
def demo(roles):
    with clock.frozen_at(TODAY):
        yield seed_care(allow_accounts=True)


def test_the_five_sdr_centres_with_their_cities(demo):
    centres = {p.name: p.city for p in Provider.objects.filter(is_sdr_centre=True, kind="nhs_trust")}
    assert centres == {
        "Alder Hey Children's NHS Foundation Trust": "Liverpool",
        "Great Ormond Street Hospital for Children NHS Foundation Trust": "London",
        "Leeds Teaching Hospitals NHS Trust": "Leeds",
        "Nottingham University Hospitals NHS Trust": "Nottingham",
        "University Hospitals Bristol NHS Foundation Trust": "Bristol",
    }


def test_james_is_three_of_hythe_with_sdr_planned_at_nottingham_for_about_fifty_thousand_pounds(demo):
    james = demo.children["james"]
    assert (james.first_name, james.public_name, james.age_on(TODAY.date()), james.home_postcode) == (
        "James",
        "James H.",
        3,
        "CT21 5AB",
    )
    assert "spastic diplegia" in james.diagnosis
    plan = demo.plans["james"]
    assert plan.provider.slug == "nottingham-university"
    assert plan.total_pence == 5_011_000
    assert plan.items.filter(category="surgery").get().cost_pence == 1_000_000
    verdict = rules.sdr_eligibility(selectors.eligibility_input_for(child=james, on_date=TODAY.date()))
    assert verdict.eligible is True


def test_other_children_differ_and_one_is_close_to_the_age_limit(demo):
    others = [demo.children[k] for k in ("oliver", "amelia", "sophie", "noah")]
    ages = {c.first_name: c.age_on(TODAY.date()) for c in others}
    assert ages == {"Oliver": 9, "Amelia": 7, "Sophie": 5, "Noah": 6}
    assert {c.gmfcs_level for c in others} == {2, 3, 4}
    assert len({demo.plans[k].provider.slug for k in ("oliver", "amelia", "sophie", "noah")}) == 4
    oliver = demo.children["oliver"]
    # Oliver turns 10 within two months: then outside the 2018 policy, still inside the CtE 2014 range.
    later = TODAY.date() + dt.timedelta(days=60)
    assert rules.sdr_eligibility(selectors.eligibility_input_for(child=oliver, on_date=later)).eligible is False
    assert (
        rules.sdr_eligibility(
            selectors.eligibility_input_for(child=oliver, on_date=later), rules.POLICY_CTE_2014
        ).eligible
        is True
    )
    assert (
        rules.sdr_eligibility(selectors.eligibility_input_for(child=demo.children["amelia"], on_date=TODAY.date()))
        .unmet[0]
        .code
        == "reimers"
    )
    sophie = rules.sdr_eligibility(selectors.eligibility_input_for(child=demo.children["sophie"], on_date=TODAY.date()))
    assert [c.code for c in sophie.unmet] == ["gmfcs", "antigravity_strength"]


def test_one_account_per_role_with_working_printed_passwords(demo):
    roles = {login.role for login in demo.logins}
    assert roles == {
        "guardian",
        "clinician",
        "caseworker",
        "finance officer",
        "commissioner",
        "health economist",
        "trustee",
    }
    assert [login.username for login in demo.logins if login.role == "finance officer"] == ["finance1", "finance2"]
    for login in demo.logins:
        assert demo.users[login.username].check_password(login.password)
    assert list(demo.children["james"].guardians.all()) == [demo.users["guardian"]]
    assert list(demo.providers["nottingham-university"].clinicians.all()) == [demo.users["clinician"]]


def test_seeding_twice_changes_nothing(demo):
    models = (Child, Provider, PathwayTemplate, CarePlan, CarePlanItem, SdrAssessment)
    counts = [m.objects.count() for m in models]
    events = AuditEvent.objects.count()
    with clock.frozen_at(TODAY + dt.timedelta(days=3)):
        again = seed_care(allow_accounts=True)
    assert [
        m.objects.count() for m in (Child, Provider, PathwayTemplate, CarePlan, CarePlanItem, SdrAssessment)
    ] == counts
    assert AuditEvent.objects.count() == events
    assert again.children["james"].pk == demo.children["james"].pk
    assert again.plans["james"].pk == demo.plans["james"].pk


def test_without_permission_to_make_accounts_none_are_made(roles):
    from django.contrib.auth import get_user_model

    with clock.frozen_at(TODAY):
        demo = seed_care(allow_accounts=False)
    assert demo.users == {}
    assert demo.logins == ()
    assert get_user_model().objects.count() == 0
    assert Child.objects.count() == 5
