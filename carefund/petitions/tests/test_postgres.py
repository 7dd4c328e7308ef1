"""On PostgreSQL, with real concurrent transactions: confirmations of one signature racing count it once; signers
of one petition racing all count; two people racing from one email and postcode leave at most the household's
two; refreshes racing never count a signature twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from carefund.petitions.counting import petition_count_refresh
from carefund.petitions.models import AreaCount, Petition, Signature, SignatureState
from carefund.petitions.signing import signature_confirm, signature_sign
from carefund.petitions.tests.factories import make_petition, signer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(work: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work[i]()
        except Exception as exc:  # kept to assert on
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_confirmations_of_one_signature_count_once(settings):
    settings.PETITION_COUNT_INTERVAL_SECONDS = 0  # refresh inline after each confirmation
    petition = make_petition()
    token = Signature.objects.get(pk=signature_sign(petition=petition, data=signer(1), ip=None).signature_id).token
    client_posts = [lambda: Client().post(f"/petitions/confirm/{token}/").status_code for _ in range(12)]
    assert _race(client_posts) == [302] * 12
    petition_count_refresh(petition_id=petition.pk)
    assert Petition.objects.get(pk=petition.pk).signature_count == 1
    assert AreaCount.objects.get(petition=petition, kind="country").signature_count == 1


def test_concurrent_signers_of_one_petition_all_count(settings):
    settings.PETITION_COUNT_INTERVAL_SECONDS = 0
    petition = make_petition()

    def sign_and_confirm(n: int) -> str:
        result = signature_sign(petition=petition, data=signer(n), ip=None)
        return signature_confirm(token=Signature.objects.get(pk=result.signature_id).token).state

    states = _race([lambda n=n: sign_and_confirm(n) for n in range(20)])
    assert states == [SignatureState.VALIDATED] * 20
    petition_count_refresh(petition_id=petition.pk)
    assert Petition.objects.get(pk=petition.pk).signature_count == 20
    assert AreaCount.objects.get(petition=petition, kind="country").signature_count == 20


def test_racing_household_members_leave_at_most_two():
    petition = make_petition()
    names = ["Sarah", "Tom", "Amy", "Raj", "Chloe", "Ben"]
    _race([lambda name=name: signature_sign(petition=petition, data=signer(0, name=name), ip=None) for name in names])
    assert Signature.objects.filter(petition=petition).count() <= 2
    assert Signature.objects.filter(petition=petition).count() >= 1


def test_racing_refreshes_never_count_twice(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # queued, not run
    petition = make_petition()
    for n in range(30):
        result = signature_sign(petition=petition, data=signer(n), ip=None)
        signature_confirm(token=Signature.objects.get(pk=result.signature_id).token)
    added = _race([lambda: petition_count_refresh(petition_id=petition.pk) for _ in range(6)])
    assert sum(added) == 30
    assert Petition.objects.get(pk=petition.pk).signature_count == 30
