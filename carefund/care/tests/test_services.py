"""Services of the care domain: writes, refusals that write nothing, audit events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carefund.care import pathways, selectors, services
from carefund.care.models import CarePlan, CarePlanItem, Child, SdrAssessment
from carefund.care.tests.factories import (
    CarePlanFactory,
    CarePlanItemFactory,
    ChildFactory,
    ProviderFactory,
    user_with_role,
)
from carefund.core import clock
from carefund.core.crypto import decrypt_identifier, identifier_hash
from carefund.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StateTransitionError,
    ValidationError,
)
from carefund.core.models import AuditEvent
from carefund.core.roles import Role

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 11, 24, 12, 0)


@pytest.fixture(autouse=True)
def _clock():
    with clock.frozen_at(TODAY):
        yield


def register(actor, **overrides):
    data = {
        "first_name": "James",
        "last_name": "Hartley",
        "date_of_birth": dt.date(2023, 7, 27),
        "home_postcode": "ct21 5ab",
        "nhs_number": "943 476 5919",
        "diagnosis": "Cerebral palsy: spastic diplegia",
        "gmfcs_level": 3,
        "publicity_consent": True,
    }
    data.update(overrides)
    return services.child_register(**data, actor=actor)


@pytest.fixture
def caseworker(roles):
    return user_with_role(Role.CASEWORKER, "cw")


@pytest.fixture
def template():
    return services.pathway_template_upsert(
        slug=pathways.SDR_TEMPLATE_SLUG,
        name=pathways.SDR_TEMPLATE_NAME,
        duration_days=pathways.SDR_DURATION_DAYS,
        items=pathways.sdr_template_items(),
        actor=None,
    )


# --- registering a child --------------------------------------------------------------------------------------


def test_child_register_normalises_encrypts_and_audits(caseworker):
    guardian = user_with_role(Role.GUARDIAN, "mum")
    child = register(caseworker, guardians=[guardian])
    child.refresh_from_db()
    assert child.home_postcode == "CT21 5AB"
    assert "9434765919" not in child.nhs_number_encrypted
    assert decrypt_identifier(child.nhs_number_encrypted) == "9434765919"
    assert child.nhs_number_hash == identifier_hash("9434765919")
    assert child.nhs_number_last3 == "919"
    assert child.nhs_number_masked == "••• ••• •919"
    assert child.public_name == "James H."
    assert list(child.guardians.all()) == [guardian]
    event = AuditEvent.objects.get(action="child.registered")
    assert (event.actor, event.target_id) == (caseworker, str(child.pk))
    assert "9434765919" not in str(event.details) + event.summary


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"nhs_number": "9434765918"}, "nhs_number", "modulus-11"),
        ({"nhs_number": "94347659"}, "nhs_number", "exactly 10 digits"),
        ({"home_postcode": "CT21"}, "home_postcode", "not a UK postcode"),
        ({"date_of_birth": dt.date(2026, 11, 25)}, "date_of_birth", "in the future"),
        ({"gmfcs_level": 6}, "gmfcs_level", "from 1 to 5"),
        ({"first_name": "  "}, "first_name", "first name"),
        ({"last_name": ""}, "last_name", "last name"),
        ({"diagnosis": ""}, "diagnosis", "diagnosis"),
    ],
)
def test_child_register_refusals_name_the_field_and_write_nothing(caseworker, overrides, field, words):
    with pytest.raises(ValidationError) as exc:
        register(caseworker, **overrides)
    assert exc.value.field == field
    assert words in str(exc.value)
    assert Child.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_the_same_nhs_number_cannot_be_registered_twice(caseworker):
    register(caseworker)
    with pytest.raises(ConflictError) as exc:
        register(caseworker, first_name="Other", nhs_number="9434765919")
    assert exc.value.field == "nhs_number"
    assert Child.objects.count() == 1
    assert AuditEvent.objects.filter(action="child.registered").count() == 1


def test_only_users_with_the_right_may_register(roles):
    guardian = user_with_role(Role.GUARDIAN, "g")
    with pytest.raises(PermissionDeniedError):
        register(guardian)
    assert Child.objects.count() == 0


def test_find_by_nhs_number_uses_the_keyed_hash(caseworker):
    child = register(caseworker)
    assert services.child_find_by_nhs_number(nhs_number="943-476-5919") == child
    assert services.child_find_by_nhs_number(nhs_number="9990000018") is None


def test_age_on_counts_whole_years():
    child = ChildFactory.build(date_of_birth=dt.date(2016, 2, 29))
    assert child.age_on(dt.date(2026, 2, 28)) == 9
    assert child.age_on(dt.date(2026, 3, 1)) == 10


# --- revealing the NHS number ---------------------------------------------------------------------------------


def test_reveal_is_audited_for_a_user_with_the_right(caseworker):
    child = register(caseworker)
    assert services.child_reveal_nhs_number(child=child, actor=caseworker) == "943 476 5919"
    event = AuditEvent.objects.get(action="child.nhs_number_revealed")
    assert (event.actor, event.target_id) == (caseworker, str(child.pk))


def test_reveal_is_refused_without_the_right_and_not_audited(caseworker):
    child = register(caseworker)
    commissioner = user_with_role(Role.COMMISSIONER, "comm")
    guardian = user_with_role(Role.GUARDIAN, "g")
    child.guardians.add(guardian)
    for user in (commissioner, guardian):
        with pytest.raises(PermissionDeniedError):
            services.child_reveal_nhs_number(child=child, actor=user)
    with pytest.raises(PermissionDeniedError):
        services.child_reveal_nhs_number(child=child, actor=None)
    assert not AuditEvent.objects.filter(action="child.nhs_number_revealed").exists()


def test_reveal_for_a_child_the_clinician_does_not_treat_is_not_found(roles):
    clinician = user_with_role(Role.CLINICIAN, "doc")
    child = ChildFactory()
    with pytest.raises(NotFoundError):
        services.child_reveal_nhs_number(child=child, actor=clinician)
    assert not AuditEvent.objects.exists()


# --- plans from templates -------------------------------------------------------------------------------------


def test_care_plan_from_the_sdr_template(caseworker, template):
    child = ChildFactory()
    centre = ProviderFactory(name="Nottingham University Hospitals NHS Trust")
    plan = services.care_plan_create_from_template(
        child=child, provider=centre, template=template, start_date=dt.date(2026, 12, 15), actor=caseworker
    )
    plan.refresh_from_db()
    assert (plan.start_date, plan.end_date) == (dt.date(2026, 12, 15), dt.date(2029, 2, 22))
    assert plan.title == f"{pathways.SDR_TEMPLATE_NAME} at Nottingham University Hospitals NHS Trust"
    assert plan.items.count() == 18
    assert plan.total_pence == 5_011_000
    assert set(plan.items.values_list("state", flat=True)) == {"planned"}
    surgery = plan.items.get(category="surgery")
    assert (surgery.planned_date, surgery.cost_pence) == (dt.date(2027, 1, 26), 1_000_000)
    event = AuditEvent.objects.get(action="care_plan.created")
    assert event.details == {"template": "sdr-standard", "items": 18, "total_pence": 5_011_000}


def test_template_change_does_not_change_existing_plans(caseworker, template):
    plan = services.care_plan_create_from_template(
        child=ChildFactory(), provider=ProviderFactory(), template=template, start_date=dt.date(2026, 12, 1), actor=None
    )
    items = list(pathways.sdr_template_items())
    items[2] = pathways.TemplateItemSpec(3, "surgery", "SDR", pathways.SURGERY_DAY, 2_000_000)
    services.pathway_template_upsert(
        slug=template.slug, name=template.name, duration_days=template.duration_days, items=items, actor=None
    )
    assert template.total_pence == 6_011_000
    assert plan.total_pence == 5_011_000


def test_upserting_the_same_template_twice_changes_nothing(template):
    before = AuditEvent.objects.count()
    ids = list(template.items.values_list("pk", flat=True))
    again = services.pathway_template_upsert(
        slug=template.slug,
        name=template.name,
        duration_days=template.duration_days,
        items=pathways.sdr_template_items(),
        actor=None,
    )
    assert again.pk == template.pk
    assert list(again.items.values_list("pk", flat=True)) == ids
    assert AuditEvent.objects.count() == before


def test_a_guardian_cannot_create_a_plan_and_nothing_is_written(roles, template):
    guardian = user_with_role(Role.GUARDIAN, "g")
    child = ChildFactory()
    child.guardians.add(guardian)
    with pytest.raises(PermissionDeniedError):
        services.care_plan_create_from_template(
            child=child, provider=ProviderFactory(), template=template, start_date=dt.date(2026, 12, 1), actor=guardian
        )
    assert CarePlan.objects.count() == 0


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (
            dt.date(9999, 12, 1),
            "start_date: 9999-12-01 is more than 5 years ahead; choose a date on or before 2031-11-23.",
        ),
        (
            dt.date(1, 1, 1),
            "start_date: 0001-01-01 is before the child's date of birth 2020-05-01; choose a later date.",
        ),
    ],
)
def test_a_plan_start_outside_the_childs_life_or_far_ahead_is_refused(caseworker, template, start, message):
    # Regression: a start in year 9999 overflowed the date arithmetic (a 500 on the page); one in year 1 made a plan
    # for a child before they were born.
    child = ChildFactory(date_of_birth=dt.date(2020, 5, 1))
    audit_before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as caught:
        services.care_plan_create_from_template(
            child=child, provider=ProviderFactory(), template=template, start_date=start, actor=caseworker
        )
    assert caught.value.message == message
    assert CarePlan.objects.count() == 0
    assert AuditEvent.objects.count() == audit_before


# --- items: dates, costs, states ------------------------------------------------------------------------------


def test_item_outside_the_plan_dates_is_refused_and_nothing_written(caseworker):
    plan = CarePlanFactory()
    for day in (dt.date(2025, 12, 31), dt.date(2028, 1, 1)):
        with pytest.raises(ValidationError) as exc:
            services.care_plan_item_add(
                plan=plan, category="orthotics", description="AFOs", planned_date=day, cost_pence=100, actor=caseworker
            )
        assert exc.value.field == "planned_date"
    assert CarePlanItem.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"cost_pence": -1}, "cost_pence"), ({"cost_pence": 12.5}, "cost_pence"), ({"category": "holiday"}, "category")],
)
def test_item_with_bad_cost_or_category_is_refused(caseworker, overrides, field):
    plan = CarePlanFactory()
    data = {"category": "orthotics", "description": "AFOs", "planned_date": dt.date(2026, 6, 1), "cost_pence": 100}
    data.update(overrides)
    with pytest.raises(ValidationError) as exc:
        services.care_plan_item_add(plan=plan, **data, actor=caseworker)
    assert exc.value.field == field
    assert CarePlanItem.objects.count() == 0


def test_item_added_inside_the_plan(caseworker):
    plan = CarePlanFactory()
    item = services.care_plan_item_add(
        plan=plan,
        category="orthotics",
        description="AFOs",
        planned_date=dt.date(2027, 12, 31),
        cost_pence=0,
        actor=caseworker,
    )
    assert (item.position, item.provider, item.state) == (1, plan.provider, "planned")


def test_set_cost_changes_and_audits(caseworker):
    item = CarePlanItemFactory()
    services.care_plan_item_set_cost(item=item, cost_pence=950_000, actor=caseworker)
    item.refresh_from_db()
    assert item.cost_pence == 950_000
    event = AuditEvent.objects.get(action="care_plan_item.cost_changed")
    assert event.details == {"from_pence": 1_000_000, "to_pence": 950_000}


@pytest.mark.parametrize("bad", [-1, 0.5, "100"])
def test_set_cost_refuses_negative_or_fractional_pence(caseworker, bad):
    item = CarePlanItemFactory()
    with pytest.raises(ValidationError):
        services.care_plan_item_set_cost(item=item, cost_pence=bad, actor=caseworker)
    item.refresh_from_db()
    assert item.cost_pence == 1_000_000
    assert AuditEvent.objects.count() == 0


def test_set_cost_refused_once_invoiced(caseworker):
    item = CarePlanItemFactory(state="invoiced")
    with pytest.raises(StateTransitionError):
        services.care_plan_item_set_cost(item=item, cost_pence=5, actor=caseworker)
    item.refresh_from_db()
    assert item.cost_pence == 1_000_000


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(costs=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=5))
def test_plan_total_is_the_exact_sum_of_its_live_item_costs(costs):
    plan = CarePlanFactory()
    items = [CarePlanItemFactory(plan=plan, cost_pence=0) for _ in costs]
    for item, cost in zip(items, costs, strict=True):
        services.care_plan_item_set_cost(item=item, cost_pence=cost, actor=None)
    assert plan.total_pence == sum(costs)
    services.care_plan_item_transition(item=items[0], to_state="cancelled", actor=None)
    assert plan.total_pence == sum(costs[1:])


def test_full_life_cycle_through_the_service(caseworker):
    item = CarePlanItemFactory()
    for state in ("booked", "planned", "booked", "delivered", "invoiced", "paid"):
        by_invoice = state in ("invoiced", "paid")  # the money states come from funding's invoice services
        services.care_plan_item_transition(item=item, to_state=state, actor=caseworker, by_invoice=by_invoice)
        item.refresh_from_db()
        assert item.state == state
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [
        "care_plan_item.booked",
        "care_plan_item.planned",
        "care_plan_item.booked",
        "care_plan_item.delivered",
        "care_plan_item.invoiced",
        "care_plan_item.paid",
    ]


@pytest.mark.parametrize(
    ("start", "to_state"),
    [
        ("planned", "delivered"),
        ("planned", "paid"),
        ("delivered", "booked"),
        ("paid", "planned"),
        ("cancelled", "planned"),
        ("invoiced", "cancelled"),
    ],
)
def test_forbidden_transition_through_the_service_writes_nothing(caseworker, start, to_state):
    item = CarePlanItemFactory(state=start)
    with pytest.raises(StateTransitionError):
        services.care_plan_item_transition(item=item, to_state=to_state, actor=caseworker)
    item.refresh_from_db()
    assert item.state == start
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(("start", "to_state"), [("delivered", "invoiced"), ("invoiced", "paid")])
def test_a_person_cannot_move_an_item_into_a_money_state_by_hand(caseworker, start, to_state):
    # Regression: the care page let a caseworker, clinician or finance officer mark an item invoiced or paid with no
    # invoice or payment; an entered invoice for an item marked paid by hand could then never be paid.
    item = CarePlanItemFactory(state=start)
    with pytest.raises(StateTransitionError, match="only through the funding page"):
        services.care_plan_item_transition(item=item, to_state=to_state, actor=caseworker)
    item.refresh_from_db()
    assert item.state == start
    assert AuditEvent.objects.count() == 0


def test_transition_needs_the_right(roles):
    guardian = user_with_role(Role.GUARDIAN, "g")
    item = CarePlanItemFactory()
    item.plan.child.guardians.add(guardian)
    with pytest.raises(PermissionDeniedError):
        services.care_plan_item_transition(item=item, to_state="booked", actor=guardian)
    item.refresh_from_db()
    assert item.state == "planned"


# --- SDR assessments ------------------------------------------------------------------------------------------

FINDINGS = {
    "gmfcs_level": 3,
    "spastic_diplegia": True,
    "spasticity_affects_function": True,
    "dystonia": False,
    "mri_typical_pvl": True,
    "mri_basal_ganglia_or_cerebellar_lesion": False,
    "genetic_or_progressive_condition": False,
    "antigravity_strength": True,
    "reimers_index_percent": 18,
}


@pytest.fixture
def treated(roles):
    clinician = user_with_role(Role.CLINICIAN, "doc")
    plan = CarePlanFactory(child__date_of_birth=dt.date(2023, 7, 27))
    plan.provider.clinicians.add(clinician)
    return clinician, plan


def test_clinician_records_an_assessment_and_eligibility_input_follows(treated):
    clinician, plan = treated
    a = services.sdr_assessment_record(
        child=plan.child, provider=plan.provider, assessed_on=dt.date(2026, 11, 10), actor=clinician, **FINDINGS
    )
    assert a.clinician == clinician
    inp = selectors.eligibility_input_for(child=plan.child, on_date=dt.date(2026, 11, 24))
    assert (inp.age_years, inp.gmfcs_level, inp.reimers_index_percent, inp.assessed_on) == (3, 3, 18, a.assessed_on)
    before = selectors.eligibility_input_for(child=plan.child, on_date=dt.date(2026, 11, 9))
    assert (before.age_years, before.gmfcs_level, before.dystonia, before.assessed_on) == (3, 3, None, None)
    assert AuditEvent.objects.filter(action="sdr_assessment.recorded", actor=clinician).count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"assessed_on": dt.date(2026, 11, 25)}, "assessed_on"),
        ({"assessed_on": dt.date(2023, 7, 1)}, "assessed_on"),
        ({"gmfcs_level": 0}, "gmfcs_level"),
        ({"reimers_index_percent": 101}, "reimers_index_percent"),
        ({"reimers_index_percent": 12.5}, "reimers_index_percent"),
    ],
)
def test_assessment_refusals_write_nothing(treated, overrides, field):
    clinician, plan = treated
    data = {**FINDINGS, "assessed_on": dt.date(2026, 11, 10), **overrides}
    with pytest.raises(ValidationError) as exc:
        services.sdr_assessment_record(child=plan.child, provider=plan.provider, actor=clinician, **data)
    assert exc.value.field == field
    assert SdrAssessment.objects.count() == 0


def test_clinician_cannot_assess_for_another_provider(treated):
    clinician, plan = treated
    with pytest.raises(PermissionDeniedError):
        services.sdr_assessment_record(
            child=plan.child, provider=ProviderFactory(), assessed_on=dt.date(2026, 11, 10), actor=clinician, **FINDINGS
        )
    assert SdrAssessment.objects.count() == 0


# --- database constraints (the last line of defence) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [
        (CarePlanItemFactory, {"cost_pence": -1}),
        (CarePlanItemFactory, {"state": "lost"}),
        (CarePlanItemFactory, {"category": "holiday"}),
        (ChildFactory, {"gmfcs_level": 6}),
        (ChildFactory, {"gmfcs_level": 0}),
        (CarePlanFactory, {"start_date": dt.date(2026, 1, 1), "end_date": dt.date(2026, 1, 1)}),
        (CarePlanFactory, {"status": "lost"}),
    ],
)
def test_database_refuses_rows_that_break_single_row_truths(make, kwargs):
    model = make._meta.model
    before = model.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        make(**kwargs)
    assert model.objects.count() == before
