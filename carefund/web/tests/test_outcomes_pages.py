"""The outcomes pages as each role meets them: the family's chart (SVG with a table, no script), the clinician's
forms with errors in the page's words, the follow-up list, and the evaluation for commissioners and economists."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from carefund.care.tests.factories import user_with_role
from carefund.core.models import AuditEvent
from carefund.core.roles import Role
from carefund.outcomes import services
from carefund.outcomes.models import Enrolment, Observation
from carefund.outcomes.tests.fixtures import Registry

pytestmark = pytest.mark.django_db


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def seed(reg: Registry) -> None:
    for tp, value, on in (
        (reg.baseline, 45.1, dt.date(2025, 12, 1)),
        (reg.six, 46.4, dt.date(2026, 7, 15)),
        (reg.twelve, 48.5, dt.date(2027, 1, 15)),
    ):
        services.observation_record(
            enrolment=reg.enrolment,
            measure=reg.gmfm,
            time_point=tp,
            value=value,
            observed_on=on,
            assessor="R. Patel",
            actor=None,
        )


def test_the_family_sees_their_childs_chart_and_table(registry: Registry) -> None:
    seed(registry)
    response = login(registry.guardian).get(f"/outcomes/children/{registry.child.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script" not in html.split("</head>")[1]  # no inline script in the page body
    svg = re.search(r"<svg viewBox.*?</svg>", html, re.S)
    assert svg is not None
    assert 'role="img"' in svg.group(
        0
    ) and '<title id="chart-0-title">James&#x27;s GMFM-66 over time</title>' in svg.group(0)
    assert "Baseline (before surgery): 45.1; 6 months after surgery: 46.4; 12 months after surgery: 48.5" in svg.group(
        0
    )
    assert "style=" not in svg.group(0)
    assert html.count("<circle") == 3
    assert '<td class="num">46.4</td>' in html  # the table alternative
    assert "I agree to share" in html
    assert "Correct" not in html  # no clinician actions for the family
    assert AuditEvent.objects.filter(action="outcomes.viewed", actor=registry.guardian).count() == 1


def test_the_family_gives_and_withdraws_consent(registry: Registry) -> None:
    client = login(registry.guardian)
    response = client.post(f"/outcomes/children/{registry.child.pk}/consent/", {"consent": "yes"}, follow=True)
    assert "will help the evaluation" in response.content.decode()
    assert Enrolment.objects.get().has_consent
    response = client.post(f"/outcomes/children/{registry.child.pk}/consent/", {"consent": "no"}, follow=True)
    assert "left out of every analysis from now on" in response.content.decode()
    assert not Enrolment.objects.get().has_consent


@pytest.mark.parametrize("role", [Role.GUARDIAN, Role.COMMISSIONER, Role.HEALTH_ECONOMIST])
def test_others_cannot_see_a_childs_outcomes(registry: Registry, role: Role) -> None:
    response = login(user_with_role(role)).get(f"/outcomes/children/{registry.child.pk}/")
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="outcomes.viewed").exists()


def test_a_clinician_records_with_errors_in_the_forms_words(registry: Registry) -> None:
    client = login(registry.clinician)
    url = f"/outcomes/children/{registry.child.pk}/record/"
    form = {
        "measure": registry.gmfm.pk,
        "time_point": registry.six.pk,
        "value": "104",
        "observed_on": "2026-07-15",
        "assessor": "R. Patel, physiotherapist",
        "instrument_version": "GMAE-3",
    }
    response = client.post(url, form)
    assert response.status_code == 400
    assert "104 is outside the valid range of GMFM-66 (0 to 100 units)." in response.content.decode()
    assert not Observation.objects.exists()
    response = client.post(url, {**form, "value": "46.5", "observed_on": "2026-03-01"})
    assert response.status_code == 400
    assert "01 March 2026 is outside the window of 6 months after surgery" in response.content.decode()
    response = client.post(url, {**form, "value": "46.5"})
    assert response.status_code == 302
    obs = Observation.objects.get()
    assert (obs.value, obs.recorded_by) == (46.5, registry.clinician)
    response = client.post(f"/outcomes/measurements/{obs.pk}/correct/", {"value": "47", "reason": "misread the sheet"})
    assert response.status_code == 302
    assert list(Observation.objects.order_by("version").values_list("value", "is_current")) == [
        (46.5, False),
        (47.0, True),
    ]
    page = client.get(f"/outcomes/children/{registry.child.pk}/").content.decode()
    assert "misread the sheet" in page and "Replaced values" in page


def test_a_clinician_elsewhere_gets_404(registry: Registry) -> None:
    response = login(registry.other_clinician).get(f"/outcomes/children/{registry.child.pk}/record/")
    assert response.status_code == 404


def test_the_follow_up_list(registry: Registry) -> None:
    response = login(registry.clinician).get("/outcomes/follow-up/", follow=True)
    html = response.content.decode()
    assert "Follow-up at Nottingham University Hospitals NHS Trust" in html
    assert html.count("<strong>Overdue</strong>") == 3  # baseline, 6 and 12 months (today 1 June 2027)
    assert login(registry.guardian).get(f"/outcomes/follow-up/{registry.centre.pk}/").status_code == 403
    assert login(registry.other_clinician).get(f"/outcomes/follow-up/{registry.centre.pk}/").status_code == 404


@pytest.mark.parametrize("role", [Role.COMMISSIONER, Role.HEALTH_ECONOMIST])
def test_commissioners_and_economists_read_the_evaluation(registry: Registry, role: Role) -> None:
    seed(registry)
    services.consent_give(enrolment=registry.enrolment, actor=None)
    response = login(user_with_role(role)).get("/outcomes/evaluation/?measure=gmfm66")
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 children whose guardians agreed to share" in html
    assert "not shown: fewer than 5 children" in html
    assert "45.1" not in html  # no child-level value leaks through a small cell
    assert "Synthetic data" not in html


def test_guardians_and_clinicians_do_not_read_the_evaluation(registry: Registry) -> None:
    assert login(registry.guardian).get("/outcomes/evaluation/").status_code == 403
    assert login(registry.clinician).get("/outcomes/evaluation/").status_code == 403
