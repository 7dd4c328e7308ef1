"""Runs for visitors go through the task queue, never the request, with a cap on draws, a limit per address and a
cap on the queue; a refused run writes nothing."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from carefund.economics.tests.test_page import VALID_FORM

pytestmark = pytest.mark.django_db(transaction=True)  # the worker closes and reopens connections, as in production
API = "/api/economics/models/sdr/run"


@pytest.fixture(autouse=True)
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    cache.clear()  # the per-address counts live in the cache
    yield
    cache.clear()


def api_post(client, body: dict, **extra):  # type: ignore[no-untyped-def]
    return client.post(API, data=json.dumps(body), content_type="application/json", **extra)


def test_a_small_run_from_the_page_is_queued_not_run_in_the_request(client):
    response = client.post("/economics/sdr/", {**VALID_FORM, "psa_draws": "10"})
    assert response.status_code == 302
    run = DBTaskResult.objects.get()
    assert run.status == "READY"
    assert run.return_value is None


def test_the_api_answers_202_then_the_result_once_the_worker_ran_it(client):
    response = api_post(client, {"psa": 50, "seed": 3})
    assert response.status_code == 202
    waiting = response.json()
    assert waiting["status"] == "READY"
    assert client.get(waiting["result_url"]).status_code == 202
    call_command("db_worker", batch=True, no_startup_delay=True, interval=0)
    done = client.get(waiting["result_url"])
    assert done.status_code == 200
    assert done.json()["psa"]["iterations"] == 50
    assert "plots" not in done.json()
    assert client.get("/api/economics/runs/not-a-run").status_code == 404


def test_bad_input_is_refused_before_anything_is_queued(client):
    response = api_post(client, {"values": {"p_decline_2": 2}})
    assert response.status_code == 422
    assert DBTaskResult.objects.count() == 0


def test_more_draws_than_the_cap_are_refused(client, settings):
    settings.ECONOMICS_MAX_DRAWS = 500
    response = api_post(client, {"psa": 501})
    assert response.status_code == 422
    assert response.json()["detail"] == "PSA draws: at most 500 here; run more with the carefund command."
    response = client.post("/economics/sdr/", {**VALID_FORM, "psa_draws": "501"})
    assert response.status_code == 422
    assert "PSA draws: at most 500 here" in response.content.decode()
    assert DBTaskResult.objects.count() == 0


def test_one_address_may_start_only_so_many_runs(client, settings):
    settings.ECONOMICS_RUNS_PER_ADDRESS = "2/h"
    assert api_post(client, {}).status_code == 202
    assert client.post("/economics/sdr/", VALID_FORM).status_code == 302
    refused = api_post(client, {})
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("You have started many model runs in a short time.")
    assert DBTaskResult.objects.count() == 2
    assert api_post(client, {}, REMOTE_ADDR="192.0.2.9").status_code == 202  # another address is not held back


def test_a_full_queue_refuses_new_runs_until_it_drains(client, settings):
    settings.ECONOMICS_QUEUE_CAP = 1
    assert api_post(client, {}).status_code == 202
    refused = api_post(client, {}, REMOTE_ADDR="192.0.2.10")
    assert refused.status_code == 503
    assert refused.json()["detail"] == "Many model runs are waiting already. Please try again in a few minutes."
    page = client.post("/economics/sdr/", VALID_FORM, REMOTE_ADDR="192.0.2.11")
    assert page.status_code == 503
    assert DBTaskResult.objects.count() == 1
    call_command("db_worker", batch=True, no_startup_delay=True, interval=0)
    assert api_post(client, {}, REMOTE_ADDR="192.0.2.10").status_code == 202
