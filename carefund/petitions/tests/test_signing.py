"""Signing, confirming and counting, through the services (with a database)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from carefund.core import clock
from carefund.core.errors import NotFoundError, StateTransitionError
from carefund.core.errors import ValidationError as DomainValidationError
from carefund.petitions.counting import petition_count_refresh, petition_recount
from carefund.petitions.models import AreaCount, Petition, PetitionState, Signature, SignatureState
from carefund.petitions.rules import SigningOutcome
from carefund.petitions.signing import signature_confirm, signature_sign
from carefund.petitions.tests.factories import make_petition, postcodes, signer

pytestmark = pytest.mark.django_db


def sign_and_confirm(petition, n, ip=None, **kwargs):
    result = signature_sign(petition=petition, data=signer(n, **kwargs), ip=ip)
    return signature_confirm(token=Signature.objects.get(pk=result.signature_id).token)


def test_a_signature_is_pending_until_confirmed_and_only_then_counts(django_capture_on_commit_callbacks):
    postcodes()
    petition = make_petition()
    with django_capture_on_commit_callbacks(execute=True):
        result = signature_sign(petition=petition, data=signer(1), ip="192.0.2.1")
    assert result.outcome == SigningOutcome.NEW
    signature = Signature.objects.get(pk=result.signature_id)
    assert signature.state == SignatureState.PENDING
    assert (signature.constituency_code, signature.icb_code, signature.region_code) == (
        "E14001237",
        "E54000032",
        "E40000005",
    )
    assert len(mail.outbox) == 1
    assert signature.token in mail.outbox[0].body
    assert petition_count_refresh(petition_id=petition.pk) == 0
    assert Petition.objects.get(pk=petition.pk).signature_count == 0

    with django_capture_on_commit_callbacks(execute=True):  # the immediate task backend runs the refresh at once
        signature_confirm(token=signature.token)
    petition.refresh_from_db()
    assert petition.signature_count == 1
    assert petition.count_updated_at is not None
    counts = set(AreaCount.objects.filter(petition=petition).values_list("kind", "code", "signature_count"))
    assert counts == {
        ("constituency", "E14001237", 1),
        ("icb", "E54000032", 1),
        ("region", "E40000005", 1),
        ("country", "GB", 1),
    }


def test_confirming_twice_counts_once():
    petition = make_petition()
    first = sign_and_confirm(petition, 1)
    again = signature_confirm(token=Signature.objects.get(pk=first.signature_id).token)
    assert again == first
    assert again.state == SignatureState.VALIDATED
    assert petition_count_refresh(petition_id=petition.pk) == 1
    assert petition_count_refresh(petition_id=petition.pk) == 0
    assert Petition.objects.get(pk=petition.pk).signature_count == 1


def test_unknown_confirmation_token_is_not_found():
    with pytest.raises(NotFoundError):
        signature_confirm(token="nope")


def test_an_unknown_or_missing_postcode_still_signs_under_unknown():
    petition = make_petition()
    sign_and_confirm(petition, 1, postcode="ZZ1 1ZZ")
    sign_and_confirm(petition, 2, location_code="FR", postcode="")
    petition_count_refresh(petition_id=petition.pk)
    rows = set(AreaCount.objects.filter(petition=petition).values_list("kind", "code", "signature_count"))
    assert ("constituency", "", 2) in rows
    assert ("country", "GB", 1) in rows and ("country", "FR", 1) in rows


def test_bad_input_writes_nothing_and_names_the_field():
    petition = make_petition()
    with pytest.raises(DomainValidationError) as info:
        signature_sign(petition=petition, data=signer(1, name="=SUM(A1)"), ip=None)
    assert info.value.field == "name"
    with pytest.raises(DomainValidationError) as info:
        signature_sign(petition=petition, data=signer(1, uk_citizen_or_resident=False), ip=None)
    assert info.value.field == "uk_citizen_or_resident"
    with pytest.raises(DomainValidationError) as info:
        signature_sign(petition=petition, data=signer(1, postcode="not a postcode"), ip=None)
    assert info.value.field == "postcode"
    with pytest.raises(DomainValidationError) as info:
        signature_sign(petition=petition, data=signer(1, email_confirmation="other@example.org"), ip=None)
    assert info.value.field == "email_confirmation"
    assert not Signature.objects.exists()


def test_household_rule_two_people_same_postcode_then_refused(django_capture_on_commit_callbacks):
    petition = make_petition()
    email = "family@example.org"
    with django_capture_on_commit_callbacks(execute=True):
        first = signature_sign(petition=petition, data=signer(1, name="Sarah", email=email), ip=None)
        second = signature_sign(petition=petition, data=signer(2, name="Tom", email=email), ip=None)
        third = signature_sign(petition=petition, data=signer(3, name="Amy", email=email), ip=None)
    assert (first.outcome, second.outcome, third.outcome) == (
        SigningOutcome.NEW,
        SigningOutcome.NEW,
        SigningOutcome.REFUSED,
    )
    assert Signature.objects.filter(petition=petition).count() == 2
    # two confirmation emails and one "already signed" notice: the page said nothing different
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "Please confirm your signature",
        "Please confirm your signature",
        "You have already signed",
    ]


def test_household_second_person_at_another_postcode_is_refused():
    petition = make_petition()
    signature_sign(petition=petition, data=signer(1, name="Sarah", email="f@example.org"), ip=None)
    result = signature_sign(
        petition=petition, data=signer(2, name="Tom", email="f@example.org", postcode="NG7 2UH"), ip=None
    )
    assert result.outcome == SigningOutcome.REFUSED
    assert Signature.objects.filter(petition=petition).count() == 1


def test_canonical_email_catches_aliases_as_the_same_signer():
    petition = make_petition()
    signature_sign(petition=petition, data=signer(1, name="Sarah", email="sarah.hartley@gmail.com"), ip=None)
    for alias in ("SarahHartley+sdr@googlemail.com", "s.a.r.a.h.hartley@gmail.com"):
        result = signature_sign(petition=petition, data=signer(1, name="Sarah", email=alias), ip=None)
        assert result.outcome == SigningOutcome.DUPLICATE
    assert Signature.objects.filter(petition=petition).count() == 1


def test_duplicate_reminders_stop_after_five_emails(django_capture_on_commit_callbacks):
    petition = make_petition()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(8):
            signature_sign(petition=petition, data=signer(1), ip=None)
    assert len(mail.outbox) == 5  # the confirmation, then 4 reminders (email_count reaches 5)
    assert Signature.objects.get().email_count == 5


def test_rate_limited_signer_is_held_not_counted_until_released(django_capture_on_commit_callbacks):
    from carefund.petitions.abuse import signatures_release
    from carefund.petitions.tests.factories import moderator

    petition = make_petition()
    a = sign_and_confirm(petition, 1, ip="198.51.100.7")
    b = sign_and_confirm(petition, 2, ip="198.51.100.7")  # a second from the IP within 60 s: a burst
    assert (a.state, b.state) == (SignatureState.VALIDATED, SignatureState.HELD)
    petition_count_refresh(petition_id=petition.pk)
    assert Petition.objects.get(pk=petition.pk).signature_count == 1
    released = signatures_release(actor=moderator(), petition_id=petition.pk)
    assert released == 1
    petition_count_refresh(petition_id=petition.pk)
    assert Petition.objects.get(pk=petition.pk).signature_count == 2


def test_burst_limit_counts_signatures_from_the_ip_in_the_last_60_seconds():
    petition = make_petition()
    start = clock.now()
    states = []
    for n, seconds in enumerate((0, 61, 120)):  # 61 s apart: fine; then 59 s after the last: a burst
        with clock.frozen_at(start + dt.timedelta(seconds=seconds)):
            states.append(sign_and_confirm(petition, n, ip="203.0.113.9").state)
    assert states == [SignatureState.VALIDATED, SignatureState.VALIDATED, SignatureState.HELD]


def test_unknown_domain_over_its_hourly_limit_is_held(settings):
    petition = make_petition()
    settings.PETITION_ALLOWED_EMAIL_DOMAINS = []
    from carefund.petitions import signing

    for n in range(100):
        Signature.objects.create(
            petition=petition,
            name=f"Bot {n}",
            email=f"b{n}@spam.example",
            canonical_email=f"b{n}@spam.example",
            email_domain="spam.example",
            uk_citizen_or_resident=True,
            token=f"t{n}",
            created_at=clock.now(),
        )
    result = signing.signature_sign(petition=petition, data=signer(1, email="last@spam.example"), ip=None)
    assert Signature.objects.get(pk=result.signature_id).suspect is True
    ok = signing.signature_sign(petition=petition, data=signer(2, email="x@other.example"), ip=None)
    assert Signature.objects.get(pk=ok.signature_id).suspect is False


def test_rate_limits_can_be_turned_off(settings):
    settings.PETITION_RATE_LIMITS = False
    petition = make_petition()
    assert sign_and_confirm(petition, 1).state == SignatureState.VALIDATED
    assert sign_and_confirm(petition, 2).state == SignatureState.VALIDATED


def test_thresholds_are_stamped_when_reached():
    petition = make_petition(response_threshold=2, debate_threshold=3)
    sign_and_confirm(petition, 1, ip=None)
    petition_count_refresh(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.response_threshold_reached_at is None
    sign_and_confirm(petition, 2, ip=None)
    petition_count_refresh(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.response_threshold_reached_at is not None
    assert petition.debate_threshold_reached_at is None


def test_signing_a_closed_petition_is_refused_and_confirming_after_close_too():
    petition = make_petition()
    pending = signature_sign(petition=petition, data=signer(1), ip=None)
    Petition.objects.filter(pk=petition.pk).update(state=PetitionState.CLOSED)
    petition.refresh_from_db()
    with pytest.raises(StateTransitionError):
        signature_sign(petition=petition, data=signer(2), ip=None)
    with pytest.raises(StateTransitionError):
        signature_confirm(token=Signature.objects.get(pk=pending.signature_id).token)
    assert Signature.objects.get(pk=pending.signature_id).state == SignatureState.PENDING


def test_recount_repairs_drift():
    petition = make_petition()
    for n in range(3):
        sign_and_confirm(petition, n, ip=None)
    petition_count_refresh(petition_id=petition.pk)
    Petition.objects.filter(pk=petition.pk).update(signature_count=99)
    AreaCount.objects.filter(petition=petition).update(signature_count=42)
    assert petition_recount(petition_id=petition.pk) == 3
    petition.refresh_from_db()
    assert petition.signature_count == 3
    assert AreaCount.objects.get(petition=petition, kind="country").signature_count == 3


def test_a_burst_of_confirmations_schedules_one_refresh_for_the_end_of_the_interval(
    settings, django_capture_on_commit_callbacks
):
    from django_tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # keeps what is queued
    settings.PETITION_COUNT_INTERVAL_SECONDS = 5
    petition = make_petition()
    tokens = [
        Signature.objects.get(pk=signature_sign(petition=petition, data=signer(n), ip=None).signature_id).token
        for n in range(4)
    ]
    moment = dt.datetime(2026, 12, 7, 12, 0, 1, tzinfo=dt.UTC)
    with clock.frozen_at(moment):
        for token in tokens:
            with django_capture_on_commit_callbacks(execute=True):
                signature_confirm(token=token)
    refreshes = [r for r in default_task_backend.results if r.task.name == "petition_count_refresh_task"]
    assert len(refreshes) == 1
    assert refreshes[0].task.run_after == dt.datetime(2026, 12, 7, 12, 0, 5, tzinfo=dt.UTC)
    assert refreshes[0].args == [] and refreshes[0].kwargs == {"petition_id": petition.pk}
    # the next interval schedules the next refresh
    with clock.frozen_at(moment + dt.timedelta(seconds=5)), django_capture_on_commit_callbacks(execute=True):
        signature_confirm(
            token=Signature.objects.get(
                pk=signature_sign(petition=petition, data=signer(9), ip=None).signature_id
            ).token
        )
    assert len([r for r in default_task_backend.results if r.task.name == "petition_count_refresh_task"]) == 2


def test_confirmation_emails_go_out_in_batches_one_task_per_interval(settings, django_capture_on_commit_callbacks):
    from django_tasks import default_task_backend

    from carefund.petitions.tasks import signature_confirmations_send

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # keeps what is queued
    settings.PETITION_EMAIL_INTERVAL_SECONDS = 1
    petition = make_petition()
    moment = dt.datetime(2026, 12, 7, 12, 0, 1, 200_000, tzinfo=dt.UTC)
    with clock.frozen_at(moment):
        ids = []
        for n in range(5):
            with django_capture_on_commit_callbacks(execute=True):
                ids.append(signature_sign(petition=petition, data=signer(n), ip=None).signature_id)
    batches = [r for r in default_task_backend.results if r.task.name == "signature_confirmations_send"]
    assert len(batches) == 1  # five signers in one second: one task
    assert batches[0].task.run_after == dt.datetime(2026, 12, 7, 12, 0, 2, tzinfo=dt.UTC)
    assert not mail.outbox
    first = Signature.objects.get(pk=ids[0])
    signature_confirm(token=first.token)  # confirmed before its email went (the benchmark does this): no email
    assert signature_confirmations_send.call() == 4
    assert sorted(m.to[0] for m in mail.outbox) == [f"signer{n}@example.org" for n in range(1, 5)]
    assert all(Signature.objects.get(pk=i).token in m.body for i, m in zip(sorted(ids[1:]), mail.outbox, strict=True))
    assert signature_confirmations_send.call() == 0  # each email once
    assert len(mail.outbox) == 4


def test_send_confirmations_command_sends_what_a_lost_batch_left(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # the batch never runs
    petition = make_petition()
    signature_sign(petition=petition, data=signer(1), ip=None)
    assert not mail.outbox
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    out = StringIO()
    call_command("petitions", "send-confirmations", stdout=out)
    assert "1 signatures wait" in out.getvalue()
    assert [m.to for m in mail.outbox] == [["signer1@example.org"]]
    out = StringIO()
    call_command("petitions", "send-confirmations", stdout=out)
    assert "0 signatures wait" in out.getvalue() and len(mail.outbox) == 1
