"""Finding 7 of issue 16 (data protection): a subject-access export of everything held about a donor, found by email,
as a file; erasure on request that removes who gave while the books keep every amount and date, and keeps a Gift Aid
declaration HMRC may still check until its retention ends (six years after the end of the tax year of its last gift);
the retention schedule erases it then. Audited by a keyed hash of the email, never the email."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from carefund.campaigns.models import Donation
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign, make_pending
from carefund.core import clock
from carefund.core.errors import PermissionDeniedError
from carefund.core.models import AuditEvent
from carefund.core.privacy import donor_data_erase, donor_data_export, retention_apply
from carefund.giftaid.models import Declaration
from carefund.giftaid.privacy import keep_until, tax_year_end
from carefund.giftaid.services import declaration_record
from carefund.ledger.integrity import ledger_check
from carefund.ledger.selectors import fund_balance_pence

pytestmark = pytest.mark.django_db


def _declared(campaign: Any, *, email: str, name: str, on: dt.datetime, pence: int) -> Donation:
    with clock.frozen_at(on):
        gift = make_pending(campaign, amount_pence=pence, donor_name=name, donor_email=email, message="Go James!")
        assert deliver(completed_event(gift, fee_pence=0)).status_code == 200
        first, last = name.split()
        declaration_record(
            donation=gift, title="Mrs", first_name=first, last_name=last, house_name_or_number="12",
            address="Acacia Avenue, Sheffield", postcode="S19 2BD", scope="this_gift", declared_on=on.date(),
        )  # fmt: skip
    gift.refresh_from_db()
    return gift


@pytest.fixture
def story() -> dict[str, Any]:
    campaign = make_campaign()
    now = clock.now().replace(tzinfo=None)
    return {
        "campaign": campaign,
        "old": _declared(campaign, email="Ann@Example.org", name="Ann Smith", on=dt.datetime(2015, 6, 1), pence=5000),
        "new": _declared(campaign, email="ann@example.org", name="Ann Smith", on=now, pence=2500),
        "bob": _declared(campaign, email="bob@example.org", name="Bob Jones", on=now, pence=1000),
    }


def test_the_retention_rule() -> None:
    assert tax_year_end(dt.date(2026, 4, 5)) == dt.date(2026, 4, 5)
    assert tax_year_end(dt.date(2026, 4, 6)) == dt.date(2027, 4, 5)
    assert keep_until(dt.date(2015, 6, 1)) == dt.date(2022, 4, 5)
    assert keep_until(dt.date(2026, 1, 31)) == dt.date(2032, 4, 5)


def test_a_donor_gets_everything_held_about_them_as_a_file(story: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "ann.json"
    call_command("privacy", "export", "--donor", " ANN@example.org ", "--output", str(out), stdout=io.StringIO())
    data = json.loads(out.read_text())
    gifts = data["records"]["gifts"]
    assert [g["gift"] for g in gifts] == [story["old"].pk, story["new"].pk]
    assert {g["donor_name"] for g in gifts} == {"Ann Smith"} and gifts[0]["message"] == "Go James!"
    declarations = data["records"]["gift_aid_declarations"]
    assert [(d["gift"], d["name"], d["postcode"]) for d in declarations] == [
        (story["old"].pk, "Mrs Ann Smith", "S19 2BD"),
        (story["new"].pk, "Mrs Ann Smith", "S19 2BD"),
    ]
    assert "bob" not in out.read_text().lower()
    event = AuditEvent.objects.get(action="privacy.export")
    assert "ann" not in (event.summary + json.dumps(event.details)).lower()  # the audit names no one


def test_erasure_keeps_the_books_and_the_gift_aid_records_hmrc_may_check(story: dict[str, Any]) -> None:
    fund = fund_balance_pence(child_id=story["campaign"].child_id)
    report = donor_data_erase(email="ann@example.org")
    assert report.erased == {"gifts": 2, "gift_aid_declarations": 1, "petitions": 0}
    new_declaration = Declaration.objects.get(donation=story["new"])
    until = keep_until(story["new"].received_on)
    assert report.kept == [
        f"Gift Aid declaration #{new_declaration.pk}: kept until {until.isoformat()} (HMRC may check Gift Aid claims; "
        "the retention schedule erases it then)"
    ]
    for gift in (story["old"], story["new"]):
        after = Donation.objects.get(pk=gift.pk)
        assert (after.donor_name, after.donor_email, after.message) == ("", "", "")
        assert (after.amount_pence, after.received_on, after.status) == (
            gift.amount_pence,
            gift.received_on,
            "succeeded",
        )
    old_declaration = Declaration.objects.get(donation=story["old"])
    assert (old_declaration.first_name, old_declaration.address, old_declaration.postcode) == (
        "erased",
        "erased",
        "erased",
    )
    assert (new_declaration.first_name, new_declaration.postcode) == ("Ann", "S19 2BD")
    assert Donation.objects.get(pk=story["bob"].pk).donor_email == "bob@example.org"
    assert fund_balance_pence(child_id=story["campaign"].child_id) == fund and ledger_check() == []
    event = AuditEvent.objects.get(action="privacy.erase")
    assert "ann" not in (event.summary + json.dumps(event.details)).lower()

    assert retention_apply(today=until)["gift_aid_declarations"] == 0  # not yet: kept through its last day
    assert retention_apply(today=until + dt.timedelta(days=1))["gift_aid_declarations"] == 2  # and Bob's
    assert Declaration.objects.get(pk=new_declaration.pk).postcode == "erased"


def test_only_an_administrator_may_export_or_erase(story: dict[str, Any], django_user_model: Any) -> None:
    caseworker = django_user_model.objects.create_user("cw", password="x")
    before = AuditEvent.objects.count()
    for call in (donor_data_export, donor_data_erase):
        with pytest.raises(PermissionDeniedError):
            call(email="ann@example.org", actor=caseworker)
    assert Donation.objects.get(pk=story["new"].pk).donor_email == "ann@example.org"
    assert AuditEvent.objects.count() == before
    admin = django_user_model.objects.create_superuser("admin", password="x")
    assert len(donor_data_export(email="ann@example.org", actor=admin)["records"]["gifts"]) == 2
