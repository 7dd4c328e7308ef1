"""Issue 16, data protection for a child: a subject-access export of everything held about a child, as a file, for
their guardian or a caseworker (no one else); erasure on request that removes or pseudonymises the child's personal
data in every app while the books keep every amount, date and the restricted fund's history; every export and erasure
audited; and, after erasure, no audit event and no new ledger memo holds the child's name (the audit log names the
child "erased child #N" when it is read)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from carefund.campaigns import services as campaign_services
from carefund.campaigns.models import Campaign, CampaignState, Donation
from carefund.campaigns.tests.factories import completed_event, deliver, make_pending
from carefund.care import selectors
from carefund.care import services as care_services
from carefund.care.models import Child, SdrAssessment
from carefund.care.privacy import child_data_erase, child_data_export
from carefund.care.tests.factories import user_with_role
from carefund.core.errors import ConflictError, NotFoundError, PermissionDeniedError
from carefund.core.models import AuditEvent
from carefund.core.people import render_summaries
from carefund.core.roles import Role
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import fund_balance_pence
from carefund.outcomes import services as outcome_services
from carefund.outcomes.models import Enrolment, Observation
from carefund.outcomes.tests.fixtures import Registry, frozen, registry  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
NAMES = ("james", "hartley")


def _no_name(text: str) -> bool:
    return not any(name in text.lower() for name in NAMES)


@pytest.fixture
def family(request: pytest.FixtureRequest) -> dict[str, Any]:
    """James Hartley (the outcomes registry's child): a measurement, a campaign with a gift and a message, an
    assessment, a caseworker's correction and views, each audited as the apps do."""
    reg: Registry = request.getfixturevalue("registry")
    caseworker = user_with_role(Role.CASEWORKER, "cw")
    outcome_services.consent_give(enrolment=reg.enrolment, actor=reg.clinician)
    outcome_services.observation_record(
        enrolment=reg.enrolment, measure=reg.gmfm, time_point=reg.baseline, value=40.0,
        observed_on=dt.date(2025, 12, 1), assessor="A. Physio (physiotherapist)", actor=reg.clinician,
    )  # fmt: skip
    child = reg.child
    care_services.child_set_publicity_consent(child=child, consent=True, actor=caseworker)
    care_services.child_update(
        child=child, first_name="James", last_name="Hartley", date_of_birth=child.date_of_birth,
        home_postcode="NG7 2UH", diagnosis=child.diagnosis, gmfcs_level=2, actor=caseworker,
    )  # fmt: skip
    selectors.child_get_for_user(user=caseworker, pk=child.pk)  # an audited view
    SdrAssessment.objects.create(
        child=child, provider=reg.centre, assessed_on=dt.date(2025, 11, 1), gmfcs_level=2, spastic_diplegia=True,
        spasticity_affects_function=True, dystonia=False, mri_typical_pvl=True,
        mri_basal_ganglia_or_cerebellar_lesion=False, genetic_or_progressive_condition=False,
        antigravity_strength=True, reimers_index_percent=10, notes="James walks with a frame",
    )  # fmt: skip
    campaign = campaign_services.campaign_create(
        child=child, title="Help James Hartley walk", story="James is five.", actor=caseworker
    )
    campaign = campaign_services.campaign_transition(
        campaign=campaign, to_state=CampaignState.PUBLISHED, actor=caseworker
    )
    gift = make_pending(campaign, amount_pence=5000, message="Go James!")
    assert deliver(completed_event(gift, fee_pence=0)).status_code == 200
    gift.refresh_from_db()
    return {"reg": reg, "child": child, "caseworker": caseworker, "campaign": campaign, "gift": gift}


def test_a_guardian_downloads_everything_held_about_their_child(family: dict[str, Any]) -> None:
    child, guardian = family["child"], family["reg"].guardian
    client = Client()
    client.force_login(guardian)
    page = client.get(f"/children/{child.pk}/").content.decode()
    assert f'action="/children/{child.pk}/data/"' in page and f"/children/{child.pk}/erase/" not in page
    response = client.post(f"/children/{child.pk}/data/")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    records = data["records"]
    assert set(records) >= {"care", "campaigns", "funding", "outcomes", "petitions"}
    assert records["care"][0]["first_name"] == "James" and records["care"][0]["home_postcode"] == "NG7 2UH"
    assert [r["record"] for r in records["care"]] == ["child", "sdr_assessment", "care_plan"]
    assert records["campaigns"][0]["title"] == "Help James Hartley walk"
    assert records["campaigns"][0]["messages_from_donors"] == ["Go James!"]
    fund = next(r for r in records["funding"] if r["record"] == "restricted_fund")
    assert fund["balance_pence"] == 5000 and [p["amount_pence"] for p in fund["postings"]] == [5000]
    assert [m["value"] for m in records["outcomes"][0]["measurements"]] == [40.0]
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="privacy.child_export")
    assert (event.actor, event.target_id) == (guardian, str(child.pk))
    assert _no_name(event.summary + json.dumps(event.details))
    assert render_summaries([event.summary]) == [f"subject-access export of James H. ({data_count(data)} records)"]


def data_count(data: dict[str, Any]) -> int:
    return sum(len(r) for r in data["records"].values())


def test_only_the_childs_guardian_or_a_caseworker_may_export(family: dict[str, Any]) -> None:
    child, reg = family["child"], family["reg"]
    other_guardian = user_with_role(Role.GUARDIAN, "other-mum")
    finance = user_with_role(Role.FINANCE_OFFICER, "fo")
    before = AuditEvent.objects.filter(action__startswith="privacy.").count()
    with pytest.raises(NotFoundError):  # another family's child: as if it did not exist
        child_data_export(child_id=child.pk, actor=other_guardian)
    for who in (reg.clinician, finance):  # may see the child for their work, not take everything away
        with pytest.raises(PermissionDeniedError):
            child_data_export(child_id=child.pk, actor=who)
    for who in (reg.guardian, family["caseworker"], other_guardian, reg.clinician):  # erasure: the DP lead only
        with pytest.raises((NotFoundError, PermissionDeniedError)):
            child_data_erase(child_id=child.pk, actor=who)
    assert AuditEvent.objects.filter(action__startswith="privacy.").count() == before
    assert Child.objects.get(pk=child.pk).first_name == "James"
    client = Client()
    client.force_login(other_guardian)
    assert client.post(f"/children/{child.pk}/data/").status_code == 404
    client.force_login(reg.guardian)
    assert client.get(f"/children/{child.pk}/erase/").status_code == 403
    client.force_login(reg.clinician)
    assert f"/children/{child.pk}/data/" not in client.get(f"/children/{child.pk}/").content.decode()
    assert len(child_data_export(child_id=child.pk, actor=family["caseworker"])["records"]["care"]) == 3


def test_erasure_keeps_the_books_and_leaves_no_name_in_the_audit_log(
    family: dict[str, Any], django_user_model: Any
) -> None:
    child, campaign, gift = family["child"], family["campaign"], family["gift"]
    balance = fund_balance_pence(child_id=child.pk)
    lead = django_user_model.objects.create_superuser("dpo", password="x")
    client = Client()
    client.force_login(lead)
    assert client.post(f"/children/{child.pk}/erase/", {"confirm": "no"}).status_code == 400
    assert Child.objects.get(pk=child.pk).erased_at is None
    response = client.post(f"/children/{child.pk}/erase/", {"confirm": "erase"})
    assert response.status_code == 302

    after = Child.objects.get(pk=child.pk)
    assert (after.first_name, after.last_name, after.home_postcode, after.nhs_number_encrypted) == (
        "erased",
        "",
        "",
        "",
    )
    assert after.date_of_birth == dt.date(2020, 7, 1) and after.erased_at is not None
    assert not after.guardians.exists() and not SdrAssessment.objects.filter(child=child).exists()
    assert not Enrolment.objects.filter(child=child).exists() and not Observation.objects.exists()
    page = Campaign.objects.get(pk=campaign.pk)
    assert (page.state, page.title, page.story, page.photos.count()) == ("closed", f"Campaign #{campaign.pk}", "", 0)
    kept = Donation.objects.get(pk=gift.pk)
    assert (kept.amount_pence, kept.received_on, kept.status, kept.message) == (5000, gift.received_on, "succeeded", "")
    assert fund_balance_pence(child_id=child.pk) == balance and ledger_check() == []

    events = list(AuditEvent.objects.all())
    assert all(_no_name(e.summary + json.dumps(e.details)) for e in events)
    assert all(_no_name(t.memo) for t in Transaction.objects.all())
    shown = render_summaries([e.summary for e in events if e.target_type == "care.child"])
    assert f"Changed home_postcode, gmfcs_level of erased child #{child.pk}" in shown
    assert all("James" not in s for s in shown)
    erase_event = AuditEvent.objects.get(action="privacy.child_erase")
    assert erase_event.actor == lead and erase_event.details["erased"]["outcomes"] == 2  # a measurement, enrolment
    assert client.get("/admin/core/auditevent/").content.decode().count(f"erased child #{child.pk}") >= 3
    with pytest.raises(ConflictError):
        child_data_erase(child_id=child.pk)
    with pytest.raises(ConflictError, match="register the child again"):  # no way to write the names back
        care_services.child_update(
            child=after, first_name="James", last_name="Hartley", date_of_birth=after.date_of_birth,
            home_postcode="NG7 2UH", diagnosis="CP", gmfcs_level=2, actor=family["caseworker"],
        )  # fmt: skip


def test_the_command_exports_and_erases_a_child(family: dict[str, Any], tmp_path: Path) -> None:
    child = family["child"]
    out = tmp_path / "child.json"
    call_command("privacy", "export", "--child", str(child.pk), "--output", str(out), stdout=io.StringIO())
    assert json.loads(out.read_text())["records"]["care"][0]["last_name"] == "Hartley"
    text = io.StringIO()
    call_command("privacy", "erase", "--child", str(child.pk), stdout=text)
    assert '"care": 2' in text.getvalue() and "kept: " in text.getvalue()  # the child and the assessment
    with pytest.raises(CommandError, match="erased already"):
        call_command("privacy", "erase", "--child", str(child.pk), stdout=io.StringIO())
    with pytest.raises(CommandError, match="No such child"):
        call_command("privacy", "export", "--child", "999999", stdout=io.StringIO())
