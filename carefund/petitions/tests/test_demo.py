"""The demo petitions: James's mother's, open with more than 1,800 confirmed signatures spread over real-shaped
areas and linked from his campaign, and a closed one with a response."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from carefund.campaigns.tests.factories import make_campaign
from carefund.petitions.demo import SIGNATURES, seed_petitions
from carefund.petitions.models import AreaCount, Petition, PetitionState, Signature

pytestmark = pytest.mark.django_db


def test_demo_petitions_are_counted_spread_and_linked(client: Client):
    campaign = make_campaign()
    demo = seed_petitions(campaign=campaign)
    mother = Petition.objects.get(pk=demo.open_petition.pk)
    assert mother.state == PetitionState.OPEN
    assert mother.signature_count == SIGNATURES >= 1_800
    constituencies = AreaCount.objects.filter(petition=mother, kind="constituency").exclude(code="")
    assert constituencies.count() >= 15
    top = constituencies.order_by("-signature_count").first()
    assert top.code == "E14001237"  # Folkestone and Hythe: James's home
    assert AreaCount.objects.filter(petition=mother, kind="icb").exclude(code="").count() >= 10
    closed = demo.closed_petition
    assert closed.state == PetitionState.CLOSED and closed.responded_by == "NHS England"

    again = seed_petitions(campaign=campaign)  # idempotent
    assert again.open_petition.pk == mother.pk
    assert Signature.objects.filter(petition=mother).count() == SIGNATURES

    page = client.get(reverse("campaigns:page", kwargs={"slug": campaign.slug})).content.decode()
    assert reverse("petitions:page", kwargs={"slug": mother.slug}) in page
    closed_page = client.get(reverse("petitions:page", kwargs={"slug": closed.slug})).content.decode()
    assert "NHS England responded on" in closed_page
