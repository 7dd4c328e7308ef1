"""`carefund daily`: one cron line runs every daily job; a job that fails is reported, the others still run, and the
command exits non-zero so cron reports it."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from carefund.campaigns.gateways.base import GatewayError
from carefund.campaigns.gateways.test import TestGateway
from carefund.core import clock
from carefund.petitions.models import Petition, PetitionState
from carefund.petitions.tests.factories import make_petition

pytestmark = pytest.mark.django_db


def _expired_petition() -> Petition:
    petition = make_petition()
    Petition.objects.filter(pk=petition.pk).update(closes_at=clock.now() - dt.timedelta(seconds=1))
    return petition


def test_daily_runs_every_job_and_says_what_each_did() -> None:
    petition = _expired_petition()
    out = StringIO()
    call_command("daily", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["payments", "petitions", "outcomes", "retention"]
    assert lines[0].startswith("payments: 0 completed checkout(s) listed, 0 gift(s) confirmed")
    assert lines[1].startswith("petitions: 1 closed,")
    petition.refresh_from_db()
    assert petition.state == PetitionState.CLOSED
    assert lines[2] == "outcomes: 0 reminder email(s) sent to centres"


def test_a_failing_job_is_reported_the_others_run_and_the_command_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def provider_down(self: TestGateway, *, since: int) -> list[dict[str, object]]:
        raise GatewayError("could not list completed checkouts: the provider did not answer")

    monkeypatch.setattr(TestGateway, "completed_checkouts", provider_down)
    petition = _expired_petition()
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 daily job\(s\) failed: payments; the others ran"):
        call_command("daily", stdout=out)
    assert "payments: FAILED: GatewayError" in out.getvalue()
    petition.refresh_from_db()
    assert petition.state == PetitionState.CLOSED  # the petitions job ran after the failed one


def test_only_runs_one_job() -> None:
    petition = _expired_petition()
    out = StringIO()
    call_command("daily", "--only", "outcomes", stdout=out)
    assert out.getvalue().splitlines() == ["outcomes: 0 reminder email(s) sent to centres"]
    petition.refresh_from_db()
    assert petition.state == PetitionState.OPEN
