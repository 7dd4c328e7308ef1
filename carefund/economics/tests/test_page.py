"""The public SDR page, its form, the background-task path and the JSON API."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

VALID_FORM = {
    "discount_rate": "3.5",
    "sdr_operation_cost": "28000",
    "gmfm_gain_per_year": "3.2",
    "effect_duration_years": "15",
    "horizon_years": "94",
    "thresholds": "20000, 30000",
    "psa_draws": "100",
    "seed": "5",
}


def test_page_presents_the_claim_plots_and_form(client):
    response = client.get("/economics/sdr/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Does not treating cost the NHS more?" in html
    assert "Not supported: treating costs £" in html  # the model's honest answer with the shipped inputs
    for plot in ("ce_plane", "acceptability", "tornado", "cohort_trace"):
        assert f'id="plot-{plot}"' in html
    assert 'name="discount_rate"' in html and 'name="psa_draws"' in html
    assert "Budget impact" in html
    assert "utility gained per GMFM-66 unit" in html  # assumptions listed
    assert "<td>SDR with two years of intensive physiotherapy</td>" in html
    assert "<td>£20,000</td>" in html
    assert "Discounting 3.5% (costs) and 3.5% (effects) a year" in html


def test_small_run_is_inline_and_uses_the_changed_assumptions(client):
    response = client.post("/economics/sdr/", {**VALID_FORM, "sdr_operation_cost": "0"})
    assert response.status_code == 200
    run = response.context["run"]
    assert response.context["changed"] is True
    assert run["psa"]["iterations"] == 100
    assert set(run["psa"]["probability_cost_effective"]) == {"20000", "30000"}
    base = client.get("/economics/sdr/").context["run"]
    assert run["claim"]["incremental_cost"] < base["claim"]["incremental_cost"] - 20000
    assert "Your run" in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("discount_rate", "-1", "Ensure this value is greater than or equal to 0."),
        ("discount_rate", "abc", "Enter a number."),
        ("psa_draws", "-5", "Ensure this value is greater than or equal to 0."),
        ("psa_draws", "200001", "Ensure this value is less than or equal to 100000."),
        ("horizon_years", "0", "Ensure this value is greater than or equal to 1."),
        (
            "thresholds",
            "twenty",
            "&#x27;twenty&#x27; is not a whole number of pounds; write amounts like 20000, 30000.",
        ),
        ("effect_duration_years", "95", "Ensure this value is less than or equal to 94."),
    ],
)
def test_form_errors_are_shown(client, field, value, message):
    response = client.post("/economics/sdr/", {**VALID_FORM, field: value})
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert message in response.content.decode()
    assert response.context["changed"] is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20,000, 30,000", (20000.0, 30000.0)),
        ("£25000;35000", (25000.0, 35000.0)),
        ("30000,20000,20000", (20000.0, 30000.0)),
    ],
)
def test_thresholds_accept_thousands_separators(raw, expected):
    from carefund.web.economics.forms import SdrAssumptionsForm

    form = SdrAssumptionsForm({**VALID_FORM, "thresholds": raw})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["thresholds"] == expected


def test_effect_longer_than_horizon_is_refused(client):
    response = client.post("/economics/sdr/", {**VALID_FORM, "horizon_years": "10", "effect_duration_years": "20"})
    assert response.status_code == 400
    assert response.context["form"].errors["effect_duration_years"] == ["Must not exceed the time horizon (10 years)."]


def test_large_psa_runs_as_a_task_immediately_in_tests(client):
    response = client.post("/economics/sdr/", {**VALID_FORM, "psa_draws": "2500"})
    assert response.status_code == 200
    assert response.context["run"]["psa"]["iterations"] == 2500


@pytest.mark.django_db(transaction=True)  # the worker closes and reopens connections, as in production
def test_large_psa_with_the_database_backend_polls_until_done(client, settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    response = client.post("/economics/sdr/", {**VALID_FORM, "psa_draws": "2500"})
    assert response.status_code == 302
    assert DBTaskResult.objects.count() == 1
    url = response["Location"]
    waiting = client.get(url)
    assert waiting.status_code == 200
    assert f'hx-get="{url}"' in waiting.content.decode()
    assert 'hx-trigger="every 2s"' in waiting.content.decode()
    call_command("db_worker", batch=True, no_startup_delay=True, interval=0)
    done = client.get(url, headers={"HX-Request": "true"})
    assert done.status_code == 200
    html = done.content.decode()
    assert "hx-get" not in html  # polling stops
    assert "2500 PSA draws" in html
    assert done.context["run"]["psa"]["iterations"] == 2500


def test_unknown_run_is_404(client, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert client.get("/economics/sdr/runs/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/economics/sdr/runs/not-a-uuid/").status_code == 404


def test_api_runs_a_shipped_model_with_overrides(client):
    response = client.post(
        "/api/economics/models/sdr/run",
        data=json.dumps({"psa": 100, "seed": 3, "values": {"sdr_operation_cost": 21000}, "thresholds": [20000, 30000]}),
        content_type="application/json",
    )
    assert response.status_code == 200
    data = response.json()
    assert [s["name"] for s in data["strategies"]] == ["usual_care", "sdr"]
    assert data["psa"]["iterations"] == 100
    assert set(data["psa"]["probability_cost_effective"]) == {"20000", "30000"}
    assert "plots" not in data
    assert len(data["budget_impact"]["years"]) == 10


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"values": {"nope": 1}}, 422, "parameters.nope: no such parameter; allowed: "),
        ({"values": {"p_decline_2": 2}}, 422, "parameters.p_decline_2.value: is 2; a probability must be from 0 to 1"),
    ],
)
def test_api_refusals_name_the_key(client, body, status, detail):
    response = client.post("/api/economics/models/sdr/run", data=json.dumps(body), content_type="application/json")
    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)


def test_api_refuses_negative_draws_and_unknown_models(client):
    response = client.post(
        "/api/economics/models/sdr/run", data=json.dumps({"psa": -1}), content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "psa"
    response = client.post("/api/economics/models/nope/run", data="{}", content_type="application/json")
    assert response.status_code == 404
    assert client.get("/api/economics/models").json() == ["sdr"]


def test_the_tornado_names_parameters_in_words_not_code_names(client):
    html = client.get("/economics/sdr/").content.decode()
    start = html.index('id="plot-tornado"')
    figure = html[start : html.index("</svg>", start)]
    assert "relative risk of decline after SDR" in figure
    assert "rr_decline_sdr" not in figure
