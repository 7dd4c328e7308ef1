"""Creating, sponsoring, moderating, invalidating, paper signatures, responses and anonymisation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from carefund.core import clock
from carefund.core.errors import ConflictError, PermissionDeniedError, StateTransitionError
from carefund.core.errors import ValidationError as DomainValidationError
from carefund.core.models import AuditEvent
from carefund.petitions import abuse, services
from carefund.petitions.counting import petition_count_refresh
from carefund.petitions.models import (
    AreaCount,
    Invalidation,
    PaperSignatureBatch,
    Petition,
    PetitionState,
    Signature,
    SignatureState,
)
from carefund.petitions.retention import petitions_anonymise_due
from carefund.petitions.signing import signature_confirm, signature_sign
from carefund.petitions.tasks import RESPONSE_BATCH
from carefund.petitions.tests.factories import make_petition, moderator, postcodes, signer

pytestmark = pytest.mark.django_db


def _input(**kwargs):
    data = {
        "action": "Fund SDR on the NHS for every child who needs it",
        "background": "SDR helps children with cerebral palsy walk; the NHS funds it only for some.",
        "additional_details": "",
        "target": "nhs_england",
        "target_name": "",
        "creator": signer(0, name="Sarah Hartley", email="sarah@example.org"),
    }
    data.update(kwargs)
    return services.PetitionInput(**data)


def _confirm(signature_id):
    return signature_confirm(token=Signature.objects.get(pk=signature_id).token)


def test_create_sponsor_moderate_open(django_capture_on_commit_callbacks, settings):
    settings.PETITION_SPONSORS_REQUIRED = 2
    with django_capture_on_commit_callbacks(execute=True):
        petition = services.petition_create(data=_input(), actor=None, ip="192.0.2.10")
    assert petition.state == PetitionState.PENDING
    assert petition.sponsors_required == 2
    assert (petition.response_threshold, petition.debate_threshold) == (10_000, 100_000)
    creator_sig = Signature.objects.get(petition=petition, is_creator=True)
    assert petition.sponsor_token in mail.outbox[0].body and petition.creator_token in mail.outbox[0].body

    _confirm(creator_sig.pk)
    petition.refresh_from_db()
    assert petition.state == PetitionState.VALIDATED
    for n in (1, 2):
        result = signature_sign(petition=petition, data=signer(n), ip=None, is_sponsor=True)
        _confirm(result.signature_id)
    petition.refresh_from_db()
    assert petition.state == PetitionState.SPONSORED

    mod = moderator()
    opened = services.petition_approve(actor=mod, petition_id=petition.pk)
    assert opened.state == PetitionState.OPEN
    assert opened.closes_at == opened.opened_at + dt.timedelta(days=182)
    # creator and sponsors count, as on e-petitions
    petition_count_refresh(petition_id=petition.pk)
    assert Petition.objects.get(pk=petition.pk).signature_count == 3
    assert AuditEvent.objects.filter(action="petition.opened", actor=mod).count() == 1


def test_sponsors_held_for_review_count_only_once_a_moderator_releases_them(settings):
    settings.PETITION_SPONSORS_REQUIRED = 2
    petition = services.petition_create(data=_input(), actor=None, ip="192.0.2.20")
    _confirm(Signature.objects.get(petition=petition, is_creator=True).pk)
    # two sponsors from one address within a minute: the second is a burst, held (its signer sees success)
    first, second = (
        signature_sign(petition=petition, data=signer(n), ip="198.51.100.30", is_sponsor=True) for n in (1, 2)
    )
    assert [_confirm(s.signature_id).state for s in (first, second)] == [SignatureState.VALIDATED, SignatureState.HELD]
    assert Petition.objects.get(pk=petition.pk).state == PetitionState.VALIDATED  # one sponsor counts, not two

    assert abuse.signatures_release(actor=moderator(), petition_id=petition.pk) == 1
    assert Petition.objects.get(pk=petition.pk).state == PetitionState.SPONSORED


def test_create_refuses_bad_text_and_writes_nothing():
    with pytest.raises(DomainValidationError) as info:
        services.petition_create(data=_input(action="x" * 81), actor=None, ip=None)
    assert info.value.field == "action"
    with pytest.raises(DomainValidationError) as info:
        services.petition_create(data=_input(target="icb"), actor=None, ip=None)
    assert info.value.field == "target_name"
    with pytest.raises(DomainValidationError) as info:
        services.petition_create(data=_input(creator=signer(0, name="http://spam")), actor=None, ip=None)
    assert info.value.field == "name"
    assert not Petition.objects.exists() and not Signature.objects.exists()


def test_creator_rate_limit_two_per_ip_per_five_minutes():
    services.petition_create(data=_input(action="One"), actor=None, ip="192.0.2.50")
    services.petition_create(data=_input(action="Two", creator=signer(9)), actor=None, ip="192.0.2.50")
    with pytest.raises(ConflictError):
        services.petition_create(data=_input(action="Three", creator=signer(8)), actor=None, ip="192.0.2.50")
    assert Petition.objects.count() == 2
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=6)):
        services.petition_create(data=_input(action="Three", creator=signer(8)), actor=None, ip="192.0.2.50")
    assert Petition.objects.count() == 3


def test_creator_rate_limit_two_per_email_domain_per_five_minutes(settings):
    settings.PETITION_ALLOWED_EMAIL_DOMAINS = ["gmail.com"]

    def create(n, email, ip):
        return services.petition_create(
            data=_input(action=f"Petition {n}", creator=signer(n, email=email)), actor=None, ip=ip
        )

    create(1, "a@spam.example", "192.0.2.61")
    create(2, "b@SPAM.example", "192.0.2.62")
    with pytest.raises(ConflictError) as info:
        create(3, "c@spam.example", "192.0.2.63")  # another address, another IP, the same domain
    assert "spam.example" in info.value.message
    for n in (4, 5, 6):  # a big webmail provider's users are not limited by their domain
        create(n, f"person{n}@gmail.com", f"192.0.2.{70 + n}")
    create(7, "d@other.example", "192.0.2.80")
    assert Petition.objects.count() == 6
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=6)):
        create(3, "c@spam.example", "192.0.2.63")
    assert Petition.objects.count() == 7


def test_only_moderators_moderate():
    from carefund.care.tests.factories import UserFactory

    petition = make_petition(state=PetitionState.SPONSORED)
    with pytest.raises(PermissionDeniedError):
        services.petition_approve(actor=UserFactory(), petition_id=petition.pk)
    assert Petition.objects.get(pk=petition.pk).state == PetitionState.SPONSORED


def test_edit_lock_stops_a_second_moderator():
    petition = make_petition(state=PetitionState.SPONSORED)
    first, second = moderator("mod1"), moderator("mod2")
    services.petition_lock(actor=first, petition_id=petition.pk)
    with pytest.raises(ConflictError, match="mod1"):
        services.petition_approve(actor=second, petition_id=petition.pk)
    assert Petition.objects.get(pk=petition.pk).state == PetitionState.SPONSORED
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=16)):  # the lock lapses
        services.petition_approve(actor=second, petition_id=petition.pk)
    assert Petition.objects.get(pk=petition.pk).locked_by is None


def test_reject_published_or_hidden_and_duplicate():
    mod = moderator()
    a = make_petition(state=PetitionState.SPONSORED)
    services.petition_reject(actor=mod, petition_id=a.pk, code="no-action", details="Say what should happen.")
    assert Petition.objects.get(pk=a.pk).state == PetitionState.REJECTED
    b = make_petition(state=PetitionState.SPONSORED)
    assert services.petition_reject(actor=mod, petition_id=b.pk, code="offensive").state == PetitionState.HIDDEN
    c = make_petition(state=PetitionState.SPONSORED)
    with pytest.raises(DomainValidationError):
        services.petition_reject(actor=mod, petition_id=c.pk, code="duplicate", duplicate_of_slug="missing")
    dup = services.petition_reject(actor=mod, petition_id=c.pk, code="duplicate", duplicate_of_slug=a.slug)
    assert dup.duplicate_of_id == a.pk
    with pytest.raises(StateTransitionError):
        services.petition_reject(actor=mod, petition_id=make_petition().pk, code="advert")


def test_bulk_invalidation_dry_run_then_run_follows_counts_and_thresholds():
    mod = moderator()
    petition = make_petition(response_threshold=3, debate_threshold=5)
    for n in range(3):
        r = signature_sign(petition=petition, data=signer(n, email=f"b{n}@bots.example"), ip=None)
        _confirm(r.signature_id)
    ok = signature_sign(petition=petition, data=signer(9, email="real@example.org"), ip=None)
    _confirm(ok.signature_id)
    pending = signature_sign(petition=petition, data=signer(8, email="p@bots.example"), ip=None)
    petition_count_refresh(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.signature_count == 4 and petition.response_threshold_reached_at is not None

    rule = abuse.InvalidationRule(petition_id=petition.pk, email_domain="bots.example")
    dry = abuse.signatures_invalidate(actor=mod, rule=rule, reason="", dry_run=True)
    assert (dry.matched, dry.uncounted, dry.petitions, dry.invalidation_id) == (4, 3, 1, None)
    assert not Invalidation.objects.exists()
    assert Signature.objects.filter(state=SignatureState.INVALIDATED).count() == 0

    done = abuse.signatures_invalidate(actor=mod, rule=rule, reason="bot burst", dry_run=False)
    assert (done.matched, done.uncounted) == (4, 3)
    petition.refresh_from_db()
    assert petition.signature_count == 1
    assert petition.response_threshold_reached_at is None  # cleared: back below 3
    assert Signature.objects.get(pk=pending.signature_id).state == SignatureState.INVALIDATED
    assert AreaCount.objects.get(petition=petition, kind="country", code="GB").signature_count == 1
    assert AuditEvent.objects.filter(action="signatures.invalidated", actor=mod).count() == 1
    # the count never goes back up for them: a refresh adds nothing
    assert petition_count_refresh(petition_id=petition.pk) == 0


def test_invalidation_needs_a_rule_and_a_reason():
    mod = moderator()
    with pytest.raises(DomainValidationError):
        abuse.signatures_invalidate(actor=mod, rule=abuse.InvalidationRule(), reason="x", dry_run=True)
    with pytest.raises(DomainValidationError):
        abuse.signatures_invalidate(
            actor=mod, rule=abuse.InvalidationRule(ip_address="192.0.2.1"), reason=" ", dry_run=False
        )
    assert not Invalidation.objects.exists()


def test_paper_signatures_are_apart_from_online_counts():
    from carefund.care.tests.factories import UserFactory

    petition = make_petition()
    mod = moderator()
    services.paper_signatures_record(
        actor=mod,
        petition_id=petition.pk,
        signature_count=240,
        collected_on=clock.today(),
        place="Hythe Saturday market",
        held_by="Sarah Hartley",
    )
    petition.refresh_from_db()
    assert petition.signature_count == 0
    assert not AreaCount.objects.filter(petition=petition).exists()
    with pytest.raises(DomainValidationError) as info:
        services.paper_signatures_record(
            actor=mod, petition_id=petition.pk, signature_count=0, collected_on=clock.today(), place="x", held_by="y"
        )
    assert info.value.field == "signature_count"
    with pytest.raises(DomainValidationError):
        services.paper_signatures_record(
            actor=mod,
            petition_id=petition.pk,
            signature_count=5,
            collected_on=clock.today() + dt.timedelta(days=1),
            place="x",
            held_by="y",
        )
    with pytest.raises(PermissionDeniedError):
        services.paper_signatures_record(
            actor=UserFactory(),
            petition_id=petition.pk,
            signature_count=5,
            collected_on=clock.today(),
            place="x",
            held_by="y",
        )
    assert PaperSignatureBatch.objects.count() == 1


def test_response_emails_each_opted_in_signer_once_in_batches(django_capture_on_commit_callbacks, monkeypatch):
    from carefund.petitions import tasks

    monkeypatch.setattr(tasks, "RESPONSE_BATCH", 2)
    petition = make_petition()
    for n in range(5):
        r = signature_sign(petition=petition, data=signer(n, notify_by_email=n != 4), ip=None)
        _confirm(r.signature_id)
    mail.outbox.clear()
    mod = moderator()
    with django_capture_on_commit_callbacks(execute=True):
        services.petition_response_record(
            actor=mod, petition_id=petition.pk, responded_by="NHS England", summary="We will review SDR.", details=""
        )
    assert sorted(m.to[0] for m in mail.outbox) == [f"signer{n}@example.org" for n in range(4)]
    assert tasks.petition_response_email_batch.call(petition_id=petition.pk) == 0  # nobody twice
    with pytest.raises(ConflictError):
        services.petition_response_record(
            actor=mod, petition_id=petition.pk, responded_by="NHS England", summary="Again", details=""
        )
    assert RESPONSE_BATCH == 500


def test_close_expired_then_anonymise_after_retention():
    postcodes()
    petition = make_petition()
    r = signature_sign(petition=petition, data=signer(1, postcode="CT21 5AB"), ip="192.0.2.3")
    _confirm(r.signature_id)
    petition_count_refresh(petition_id=petition.pk)
    Petition.objects.filter(pk=petition.pk).update(closes_at=clock.now() - dt.timedelta(seconds=1))
    assert services.petitions_close_expired() == 1
    petition.refresh_from_db()
    assert petition.state == PetitionState.CLOSED
    assert petitions_anonymise_due() == 0  # not yet: 6 months after closing
    with clock.frozen_at(petition.closed_at + dt.timedelta(days=182)):
        assert petitions_anonymise_due() == 1
        assert petitions_anonymise_due() == 0
    sig = Signature.objects.get(pk=r.signature_id)
    assert (sig.name, sig.email, sig.canonical_email, sig.postcode, sig.ip_address) == ("", "", "", "", None)
    assert sig.constituency_code == "E14001237"  # area codes are kept
    assert AreaCount.objects.get(petition=petition, kind="country").signature_count == 1
    petition.refresh_from_db()
    assert (petition.creator_name, petition.creator_email, petition.signature_count) == ("", "", 1)
