"""Finding 2 of issue 16: no input a person (or a script) can send gives a 500. Hypothesis sends arbitrary text to
the money forms and arbitrary JSON to the API's model run; every answer is a page or a 4xx that says what to fix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carefund.campaigns.models import Donation
from carefund.campaigns.tests.factories import make_campaign
from carefund.core import clock
from carefund.core.roles import Role
from carefund.ledger import chart
from carefund.ledger.models import JournalEntry, Transaction
from carefund.ledger.services import journal_entry_decide
from carefund.ledger.tests.test_pages import user_with_role

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
THIRTY_DIGITS = "123456789012345678901234567890"


def test_a_thirty_digit_journal_amount_is_refused_on_the_page(django_user_model: Any) -> None:
    client = Client()
    client.force_login(user_with_role(django_user_model, "fo", Role.FINANCE_OFFICER))
    lines = f"{chart.PAYMENT_FEES}, {THIRTY_DIGITS}\n{chart.BANK}, -{THIRTY_DIGITS}"
    form = {"memo": "fee", "reason": "typo test", "on_date": clock.today().isoformat(), "lines": lines}
    response = client.post("/ledger/journal/", form)
    assert response.status_code == 400
    assert "lines: line 1: the amount is more than £1,000,000,000.00" in response.content.decode()
    assert JournalEntry.objects.count() == 0


def test_an_oversized_entry_already_stored_is_refused_at_approval(django_user_model: Any) -> None:
    proposer = user_with_role(django_user_model, "fo", Role.FINANCE_OFFICER)
    approver = user_with_role(django_user_model, "fo2", Role.FINANCE_OFFICER)
    huge = int(THIRTY_DIGITS)
    entry = JournalEntry.objects.create(
        memo="fee", reason="x", on_date=clock.today(), lines=[[chart.PAYMENT_FEES, huge], [chart.BANK, -huge]],
        proposed_by=proposer, proposed_at=clock.now(),
    )  # fmt: skip
    client = Client()
    client.force_login(approver)
    response = client.post(f"/ledger/journal/{entry.pk}/decide/", {"decision": "approve"}, follow=True)
    assert response.status_code == 200
    assert "was not posted: lines: line 1 is more than £1,000,000,000.00" in response.content.decode()
    entry.refresh_from_db()
    assert entry.state == "proposed" and Transaction.objects.count() == 0
    with pytest.raises(Exception, match="the most carefund accepts"):
        journal_entry_decide(entry_id=entry.pk, approve=True, actor=approver)


@pytest.mark.parametrize("amount", ["٥", "５", "1e309", THIRTY_DIGITS, "NaN"])
def test_the_giving_form_refuses_bad_amounts(amount: str) -> None:
    campaign = make_campaign()
    gift = {"preset": "other", "custom_amount": amount, "donor_name": "Ann", "donor_email": "ann@example.org"}
    response = Client().post(f"/campaigns/{campaign.slug}/give/", gift)
    assert response.status_code == 400
    assert Donation.objects.count() == 0


@FUZZ
@given(amount=st.text(max_size=30), costs=st.text(max_size=12))
def test_any_text_in_the_giving_form_gets_a_page_not_a_500(settings: Any, amount: str, costs: str) -> None:
    settings.GIVE_RATE_LIMIT = "100000/h"  # every example comes from one address
    campaign = make_campaign()
    gift = {"preset": "other", "custom_amount": amount, "costs_contribution": costs, "donor_name": "Ann",
            "donor_email": "ann@example.org"}  # fmt: skip
    response = Client().post(f"/campaigns/{campaign.slug}/give/", gift)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert Donation.objects.get(campaign=campaign).amount_pence <= 10_000_000


JSON_NUMBERS = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e309", "-1e309", "NaN", "Infinity"]),
)


@pytest.mark.parametrize(
    "body",
    [
        '{"thresholds": [1e309]}',
        '{"thresholds": [NaN]}',
        '{"values": {"sdr_operation_cost": 1e309}}',
        '{"values": {"sdr_operation_cost": -Infinity}}',
    ],
)
def test_infinite_numbers_are_refused_by_the_model_run(body: str) -> None:
    response = Client().post("/api/economics/models/sdr/run", data=body, content_type="application/json")
    assert response.status_code in (400, 422)


@FUZZ
@given(field=st.sampled_from(["thresholds", "cycles", "discount_costs", "psa", "seed"]), number=JSON_NUMBERS)
def test_any_number_in_the_model_run_gets_an_answer_not_a_500(field: str, number: Any) -> None:
    raw = number if isinstance(number, str) else json.dumps(number)
    value = f"[{raw}]" if field == "thresholds" else raw
    body = f'{{"{field}": {value}, "psa": 0}}' if field != "psa" else f'{{"psa": {value}}}'
    response = Client().post("/api/economics/models/sdr/run", data=body, content_type="application/json")
    assert response.status_code in (200, 400, 422)
