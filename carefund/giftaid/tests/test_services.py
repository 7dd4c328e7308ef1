"""Recording and cancelling declarations: normalised, audited, and every refusal writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from carefund.core import clock
from carefund.core.errors import ConflictError, PermissionDeniedError, StateTransitionError, ValidationError
from carefund.core.models import AuditEvent
from carefund.giftaid import rules
from carefund.giftaid.models import Declaration
from carefund.giftaid.rules import Scope
from carefund.giftaid.services import declaration_cancel, declaration_record
from carefund.giftaid.tests.factories import aware, make_donation, make_user

CANCEL = ("giftaid.cancel_declaration",)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 7, 1)


@pytest.fixture(autouse=True)
def _clock() -> Any:
    with clock.frozen_at(aware(TODAY)):
        yield


def record(donation: Any, **change: Any) -> Declaration:
    args: dict[str, Any] = {
        "donation": donation,
        "title": "Mrs",
        "first_name": " Ann ",
        "last_name": "Smith-Jones",
        "house_name_or_number": "12",
        "address": "Acacia Avenue, Sheffield",
        "postcode": "s192bd",
        "scope": Scope.THIS_AND_FUTURE,
        "declared_on": dt.date(2026, 6, 15),
    }
    args.update(change)
    return declaration_record(**args)


def counts() -> tuple[int, int]:
    return Declaration.objects.count(), AuditEvent.objects.filter(action__startswith="giftaid.").count()


def test_record_normalises_links_by_email_and_audits(settings: Any) -> None:
    settings.CHARITY_NAME = "Test Charity"
    donation = make_donation(email="Ann@Example.ORG")
    actor = make_user("caseworker")
    declaration = record(donation, actor=actor)
    declaration.refresh_from_db()
    assert declaration.first_name == "Ann"
    assert declaration.postcode == "S19 2BD"
    assert declaration.email == "Ann@Example.ORG"
    assert declaration.donor_key == "ann@example.org"
    assert declaration.scope == "this_and_future"
    assert declaration.wording == (
        "I want to Gift Aid my donation of £10.00 and any donations I make in the future to Test Charity. "
        + rules.TAX_EXPLANATION
    )
    assert declaration.donation_id == donation.pk
    assert declaration.created_by == actor
    assert declaration.created_at == aware(TODAY)
    event = AuditEvent.objects.get(action="giftaid.declaration_record")
    assert event.actor == actor
    assert event.target_id == str(declaration.pk)
    assert event.details == {"donation_id": donation.pk, "scope": "this_and_future", "declared_on": "2026-06-15"}


def test_record_by_the_system_has_no_creator() -> None:
    declaration = record(make_donation())
    assert declaration.created_by is None
    assert AuditEvent.objects.get(action="giftaid.declaration_record").actor is None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"address": ""}, "address", "Gift Aid declaration refused: home address is required for Gift Aid."),
        (
            {"postcode": " "},
            "postcode",
            "Gift Aid declaration refused: postcode is required for Gift Aid (use X if you live outside the UK).",
        ),
        (
            {"postcode": "NOT A CODE"},
            "postcode",
            "Gift Aid declaration refused: postcode 'NOTAC ODE' is not a UK postcode such as S19 2BD (or X outside"
            " the UK).",
        ),
        (
            {"house_name_or_number": ""},
            "house_name_or_number",
            "Gift Aid declaration refused: house name or number is required for Gift Aid.",
        ),
        (
            {"last_name": "x" * 36},
            "last_name",
            "Gift Aid declaration refused: last name must be at most 35 characters, not 36.",
        ),
        (
            {"scope": "forever"},
            "scope",
            "scope must be one of this_gift, this_and_future, past_four_years_and_future, not 'forever'",
        ),
        (
            {"declared_on": dt.date(2026, 7, 2)},
            "declared_on",
            "declared_on must be today or earlier, not 2026-07-02 (a future date)",
        ),
    ],
)
def test_record_refusals_write_nothing(change: dict[str, Any], field: str, message: str) -> None:
    donation = make_donation()
    with pytest.raises(ValidationError) as info:
        record(donation, **change)
    assert info.value.field == field
    assert info.value.message == message
    assert counts() == (0, 0)


def test_record_refuses_an_unsaved_gift() -> None:
    with pytest.raises(ValidationError, match="donation must be a saved gift"):
        record(None)
    assert counts() == (0, 0)


def test_a_gift_has_one_declaration() -> None:
    donation = make_donation()
    first = record(donation)
    with pytest.raises(ConflictError) as info:
        record(donation, scope=Scope.THIS_GIFT)
    assert (
        info.value.message
        == f"gift {donation.pk} already has a Gift Aid declaration; cancel it before recording another"
    )
    assert list(Declaration.objects.values_list("pk", flat=True)) == [first.pk]
    assert counts() == (1, 1)


def test_cancel_sets_date_reason_and_audits() -> None:
    declaration = record(make_donation())
    officer = make_user("finance", perms=CANCEL)
    declaration_cancel(
        declaration=declaration, on_date=dt.date(2026, 6, 20), reason="  donor   request ", actor=officer
    )
    declaration.refresh_from_db()
    assert declaration.cancelled_on == dt.date(2026, 6, 20)
    assert declaration.cancellation_reason == "donor request"
    assert declaration.cancelled_by == officer
    event = AuditEvent.objects.get(action="giftaid.declaration_cancel")
    assert event.actor == officer
    assert event.details == {"on_date": "2026-06-20", "reason": "donor request"}


def test_cancel_may_name_a_later_date() -> None:
    declaration = record(make_donation())
    declaration_cancel(
        declaration=declaration, on_date=dt.date(2026, 8, 1), reason="from August", actor=make_user(perms=CANCEL)
    )
    declaration.refresh_from_db()
    assert declaration.cancelled_on == dt.date(2026, 8, 1)


@pytest.mark.parametrize(
    ("on_date", "reason", "error", "message"),
    [
        (
            dt.date(2026, 6, 14),
            "donor request",
            ValidationError,
            "on_date must be on or after the declaration date 2026-06-15, not 2026-06-14 (cancellation is not "
            "retrospective)",
        ),
        (
            dt.date(2026, 6, 20),
            "  ",
            ValidationError,
            "reason is required to cancel a Gift Aid declaration (e.g. donor request)",
        ),
        (dt.date(2026, 6, 20), "r" * 201, ValidationError, "reason must be at most 200 characters, not 201"),
    ],
)
def test_cancel_refusals_write_nothing(on_date: dt.date, reason: str, error: type[Exception], message: str) -> None:
    declaration = record(make_donation())
    with pytest.raises(error, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        declaration_cancel(declaration=declaration, on_date=on_date, reason=reason, actor=make_user(perms=CANCEL))
    declaration.refresh_from_db()
    assert declaration.cancelled_on is None
    assert declaration.cancellation_reason == ""
    assert counts() == (1, 1)


def test_cancel_needs_a_signed_in_actor() -> None:
    declaration = record(make_donation())
    with pytest.raises(PermissionDeniedError, match="needs a signed-in user"):
        declaration_cancel(declaration=declaration, on_date=dt.date(2026, 6, 20), reason="x", actor=None)
    declaration.refresh_from_db()
    assert declaration.cancelled_on is None
    assert counts() == (1, 1)


def test_cancel_needs_the_cancel_permission_in_the_service() -> None:
    # Regression: any signed-in user (a guardian, a donor with an account) passed the service's check; only the admin
    # action looked at the permission.
    declaration = record(make_donation())
    with pytest.raises(PermissionDeniedError, match=r"needs the permission giftaid\.cancel_declaration"):
        declaration_cancel(declaration=declaration, on_date=dt.date(2026, 6, 20), reason="x", actor=make_user())
    declaration.refresh_from_db()
    assert declaration.cancelled_on is None
    assert counts() == (1, 1)


def test_cancel_twice_is_refused_and_keeps_the_first() -> None:
    declaration = record(make_donation())
    user = make_user(perms=CANCEL)
    declaration_cancel(declaration=declaration, on_date=dt.date(2026, 6, 20), reason="first", actor=user)
    with pytest.raises(StateTransitionError, match="was already cancelled on 2026-06-20"):
        declaration_cancel(declaration=declaration, on_date=dt.date(2026, 6, 25), reason="second", actor=user)
    declaration.refresh_from_db()
    assert (declaration.cancelled_on, declaration.cancellation_reason) == (dt.date(2026, 6, 20), "first")
    assert counts() == (1, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_declarations_for_one_gift_record_one() -> None:
    import threading

    from django.db import connection

    donation = make_donation()
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        try:
            barrier.wait()
            record(donation)
            outcomes.append("recorded")
        except ConflictError:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["recorded"]
    assert counts() == (1, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_cancellations_cancel_once() -> None:
    import threading

    from django.db import connection

    declaration = record(make_donation())
    user = make_user(perms=CANCEL)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            declaration_cancel(
                declaration=Declaration.objects.get(pk=declaration.pk),
                on_date=dt.date(2026, 6, 20),
                reason=f"request {i}",
                actor=user,
            )
            outcomes.append("cancelled")
        except StateTransitionError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["cancelled"] + ["refused"] * 5
    assert counts() == (1, 2)
