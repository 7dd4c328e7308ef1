"""Factories for care records (factory_boy). Children get valid NHS numbers from the 999 test range."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from carefund.care import rules
from carefund.care.models import CarePlan, CarePlanItem, Child, Provider, ProviderKind
from carefund.core.crypto import encrypt_identifier, identifier_hash
from carefund.core.roles import Role

_nine = (f"999{n:06d}" for n in itertools.count(100))


def valid_nhs_number() -> str:
    while True:
        number = rules.nhs_number_with_check_digit(next(_nine))
        if number is not None:
            return number


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")


def user_with_role(role: Role | None, username: str | None = None, **kwargs: Any) -> Any:
    user = UserFactory(**({"username": username} if username else {}), **kwargs)
    if role is not None:
        user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    return user


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"Provider {n}")
    slug = factory.Sequence(lambda n: f"provider-{n}")
    kind = ProviderKind.NHS_TRUST
    city = "Nottingham"
    is_sdr_centre = True


class ChildFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Child

    class Params:
        nhs_number = factory.LazyFunction(valid_nhs_number)

    first_name = factory.Sequence(lambda n: f"Child{n}")
    last_name = "Test"
    date_of_birth = dt.date(2020, 3, 1)
    home_postcode = "CT21 5AB"
    nhs_number_encrypted = factory.LazyAttribute(lambda o: encrypt_identifier(o.nhs_number))
    nhs_number_hash = factory.LazyAttribute(lambda o: identifier_hash(o.nhs_number))
    nhs_number_last3 = factory.LazyAttribute(lambda o: o.nhs_number[-3:])
    diagnosis = "Cerebral palsy: spastic diplegia"
    gmfcs_level = 3


class CarePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CarePlan

    child = factory.SubFactory(ChildFactory)
    provider = factory.SubFactory(ProviderFactory)
    title = "SDR pathway"
    start_date = dt.date(2026, 1, 1)
    end_date = dt.date(2027, 12, 31)


class CarePlanItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CarePlanItem

    plan = factory.SubFactory(CarePlanFactory)
    category = "surgery"
    description = "Selective dorsal rhizotomy"
    planned_date = dt.date(2026, 2, 1)
    cost_pence = 1_000_000
