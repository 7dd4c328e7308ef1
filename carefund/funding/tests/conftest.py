"""Fixtures for funding: the care demo seeded in 2015, the NHS programmes, one user per role, gifts via the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from carefund.care.demo import DemoCare, seed_care
from carefund.care.models import Child
from carefund.core import clock
from carefund.core.clock import frozen_at
from carefund.core.roles import Role
from carefund.funding import surplus
from carefund.funding.demo import DemoFunding, seed_programmes

START = dt.datetime(2015, 4, 1, 10, 0)


@dataclass
class World:
    care: DemoCare
    funding: DemoFunding
    user: Callable[..., Any]


def make_user(username: str, *roles: Role) -> Any:
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
    for role in roles:
        user.groups.add(Group.objects.get(name=role.value))
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


def give(child: Child, amount_pence: int, key: str, on_date: dt.date | None = None) -> None:
    """A gift recorded by staff straight into the ledger (the campaigns app records real ones)."""
    from carefund.ledger import chart
    from carefund.ledger.rules import PostingSpec
    from carefund.ledger.services import ledger_post

    ledger_post(
        kind="donation",
        postings=[
            PostingSpec(account=chart.BANK, amount_pence=amount_pence),
            PostingSpec(account=chart.child_fund(child.pk), amount_pence=-amount_pence),
        ],
        memo=f"Gift for child #{child.pk}",
        on_date=on_date or clock.today(),
        idempotency_key=key,
    )


def sync_groups() -> None:
    """The role groups with the permissions every app declares."""
    from carefund.core.roles import roles_sync

    roles_sync()


@pytest.fixture
def clock_2015() -> Iterator[None]:
    with frozen_at(START):
        yield


@pytest.fixture
def world(db: Any, clock_2015: None) -> World:
    sync_groups()
    care = seed_care(allow_accounts=False)
    funding = seed_programmes()
    trustee = make_user("policy-trustee", Role.TRUSTEE)
    surplus.surplus_policy_publish(
        wording="Money over what the plan needs goes to other children in urgent need, by a published ranking.",
        contingency_basis_points=1000,
        actor=trustee,
    )
    return World(care=care, funding=funding, user=make_user)
