"""Test data for Gift Aid: gifts made through the campaigns models (the only place that knows their shape)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

_counter = itertools.count(1)


def make_user(username: str = "", *, perms: tuple[str, ...] = ()) -> Any:
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username=username or f"user{next(_counter)}", password="x")
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def make_campaign() -> Any:
    from carefund.campaigns.models import Campaign, CampaignState
    from carefund.care.models import Child

    n = next(_counter)
    child = Child.objects.create(
        first_name="James",
        last_name=f"H{n}",
        date_of_birth=dt.date(2020, 3, 1),
        home_postcode="S19 2BD",
        nhs_number_encrypted="x",
        nhs_number_hash=f"hash-{n}",
        nhs_number_last3="123",
        diagnosis="spastic diplegia",
        gmfcs_level=2,
        publicity_consent=True,
    )
    return Campaign.objects.create(
        child=child,
        slug=f"campaign-{n}",
        title=f"Campaign {n}",
        state=CampaignState.PUBLISHED,
        created_at=timezone.now(),
    )


def make_donation(
    *,
    campaign: Any = None,
    amount_pence: int = 1000,
    email: str = "ann@example.org",
    on: dt.date = dt.date(2026, 6, 15),
    status: str = "succeeded",
    kind: str = "card",
    name: str = "Ann Smith",
    anonymous: bool = False,
) -> Any:
    """A gift as the campaigns services leave it: online gifts carry `succeeded_at` and `received_on`, both the
    day the provider confirmed them. (Test data only; real gifts are made through the campaigns services.)"""
    from carefund.campaigns.models import Donation

    succeeded = status != "pending"
    return Donation.objects.create(
        campaign=campaign or make_campaign(),
        amount_pence=amount_pence,
        status=status,
        kind=kind,
        gateway="test" if kind == "card" else "",
        donor_name=name,
        is_anonymous=anonymous,
        donor_email=email,
        receipt_token=f"token-{next(_counter)}",
        created_at=aware(on),
        succeeded_at=aware(on) if succeeded else None,
        received_on=on if succeeded else None,
    )


def aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, 12, 0))


# Ann Smith of 12 Acacia Avenue (her last name varies by test)
ANN = {"title": "", "first_name": "Ann", "house_name_or_number": "12", "address": "Acacia Avenue, Sheffield"}


def declare(donation: Any, scope: Any, declared_on: dt.date = dt.date(2026, 6, 15), last_name: str = "Smith") -> Any:
    """A declaration by Ann Smith of 12 Acacia Avenue, made with `donation` (a campaigns gift)."""
    from carefund.giftaid.services import declaration_record

    return declaration_record(
        donation=donation, last_name=last_name, postcode="S19 2BD", scope=scope, declared_on=declared_on, **ANN
    )


def declare_row(
    donation: Any, scope: Any, declared_on: dt.date = dt.date(2026, 6, 15), last_name: str = "Smith"
) -> Any:
    """The same declaration as `declare`, written straight to the table without the service's checks: a row the
    service would now refuse (made with a collection's takings, or more than four years after its gift) may be there
    from before the check, and the selectors must still treat it right."""
    from carefund.core import clock
    from carefund.giftaid import rules
    from carefund.giftaid.models import Declaration, donor_key_for

    scope = rules.Scope(scope)
    return Declaration.objects.create(
        **ANN,
        last_name=last_name,
        postcode="S19 2BD",
        email=(donation.donor_email or "").strip(),
        donor_key=donor_key_for(donation.donor_email or ""),
        scope=scope.value,
        declared_on=declared_on,
        covers_from=None
        if scope is rules.Scope.THIS_GIFT
        else rules.earliest_covered_date(
            rules.DeclarationTerms(scope=scope, declared_on=declared_on, donation_id=donation.pk)
        ),
        donation=donation,
        created_at=clock.now(),
    )
