"""Demo petitions: James's mother's "Fund SDR on the NHS for every child who needs it" (open, more than 1,800
confirmed signatures spread over the shipped postcode extract, linked from James's campaign) and a closed
petition with NHS England's response. Dated relative to today; the signers are fictional (example.org addresses).
Idempotent: a petition already there is left as it is."""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from carefund.core import clock
from carefund.petitions import conf, rules
from carefund.petitions.counting import petition_count_refresh
from carefund.petitions.models import Petition, PetitionState, PetitionTarget, Postcode, Signature, SignatureState
from carefund.petitions.postcodes import load_shipped

MOTHER_SLUG = "fund-sdr-on-the-nhs-for-every-child-who-needs-it"
CLOSED_SLUG = "publish-the-sdr-commissioning-through-evaluation-results"
SIGNATURES = 1_850  # the story's paper reported 1,800
# Where the signers live, by postcode district: most near James's home in Hythe (Kent), then the cities where
# families travel for SDR (Nottingham, Bristol, London, Liverpool, Leeds), then the rest of the UK.
WEIGHTS = {"CT21": 30, "CT20": 10, "CT19": 8, "CT1": 5, "CT2": 4, "CT16": 4, "CT14": 3, "TN23": 5, "TN24": 4, "ME14": 3}
DEFAULT_WEIGHT = 1
FIRST = ("Sarah", "Tom", "Amy", "Raj", "Chloe", "Ben", "Priya", "Liam", "Grace", "Owen", "Fatima", "Jack", "Ella")
LAST = ("Smith", "Jones", "Patel", "Brown", "Taylor", "Wilson", "Khan", "Evans", "Walker", "Wright", "Hughes")


@dataclass(frozen=True)
class DemoPetitions:
    open_petition: Petition
    closed_petition: Petition


def _petition(slug: str, **fields: Any) -> Petition:
    existing = Petition.objects.filter(slug=slug).first()
    if existing is not None:
        return existing
    response, debate = conf.thresholds_for(fields.get("target", PetitionTarget.NHS_ENGLAND))
    return Petition.objects.create(
        slug=slug,
        creator_token=secrets.token_urlsafe(32),
        sponsor_token=secrets.token_urlsafe(16),
        sponsors_required=conf.sponsors_required(),
        duration_days=conf.duration_days(),
        response_threshold=response,
        debate_threshold=debate,
        **fields,
    )


def _signatures(petition: Petition, *, count: int, start: dt.datetime, end: dt.datetime, seed: int) -> None:
    rng = random.Random(seed)
    postcodes = list(Postcode.objects.values_list("postcode", "constituency_code", "icb_code", "region_code"))
    weights = [WEIGHTS.get(rules.format_postcode(p[0]).split()[0], DEFAULT_WEIGHT) for p in postcodes]
    span = (end - start).total_seconds()
    rows = []
    for n in range(count):
        abroad = n % 50 == 49  # about 2% sign from abroad (Britons living in Spain, France, Ireland)
        postcode, constituency, icb, region = ("", "", "", "") if abroad else rng.choices(postcodes, weights)[0]
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"signer{seed}-{n}@example.org"
        signed = start + dt.timedelta(seconds=span * (n / count) ** 1.5)  # slow start, then the paper's story
        rows.append(
            Signature(
                petition=petition,
                name=name,
                email=email,
                canonical_email=email,
                email_domain="example.org",
                postcode=postcode,
                location_code=("ES", "FR", "IE")[n % 3] if abroad else "GB",
                uk_citizen_or_resident=True,
                notify_by_email=n % 3 == 0,
                state=SignatureState.VALIDATED,
                token=secrets.token_urlsafe(32),
                created_at=signed,
                validated_at=signed + dt.timedelta(minutes=3),
                constituency_code=constituency,
                icb_code=icb,
                region_code=region,
                is_creator=n == 0,
            )
        )
    Signature.objects.bulk_create(rows, batch_size=1000)
    petition_count_refresh(petition_id=petition.pk)


@transaction.atomic
def seed_petitions(*, campaign: Any = None, creator: Any = None) -> DemoPetitions:
    """The two demo petitions (the shipped postcode extract is loaded first)."""
    if not Postcode.objects.exists():
        load_shipped()
    now = clock.now()
    opened = now - dt.timedelta(days=40)
    mother = _petition(
        MOTHER_SLUG,
        action="Fund SDR on the NHS for every child who needs it",
        background=(
            "Selective dorsal rhizotomy (SDR) can help children with cerebral palsy walk. The NHS funds it only for "
            "some children, so families like ours must raise the money themselves."
        ),
        additional_details=(
            "My son James is 3 and has spastic diplegia. His surgeons recommend SDR, but we have had to ask the "
            "public to help pay for it and for the two years of physiotherapy after it.\n\nWe ask NHS England to "
            "fund SDR, and the physiotherapy that follows, for every child whose clinicians recommend it."
        ),
        target=PetitionTarget.NHS_ENGLAND,
        campaign=campaign,
        state=PetitionState.OPEN,
        created_at=opened - dt.timedelta(days=12),
        creator=creator,
        creator_name="James's mother",
        creator_email="guardian@carefund.invalid",
        opened_at=opened,
        closes_at=rules.closes_at(opened_at=opened, duration_days=conf.duration_days()),
    )
    if not mother.signatures.exists():
        _signatures(mother, count=SIGNATURES, start=opened, end=now - dt.timedelta(minutes=5), seed=18)
    closed_opened = now - dt.timedelta(days=300)
    closed = _petition(
        CLOSED_SLUG,
        action="Publish the SDR Commissioning through Evaluation results",
        background=(
            "NHS England paid for SDR at five centres to evaluate it. Families want the results published so the "
            "decision on routine funding can be seen and challenged."
        ),
        target=PetitionTarget.NHS_ENGLAND,
        state=PetitionState.CLOSED,
        created_at=closed_opened - dt.timedelta(days=10),
        creator_name="A parent in Bristol",
        creator_email="parent@example.org",
        opened_at=closed_opened,
        closes_at=closed_opened + dt.timedelta(days=conf.duration_days()),
        closed_at=closed_opened + dt.timedelta(days=conf.duration_days()),
        responded_by="NHS England",
        responded_at=closed_opened + dt.timedelta(days=120),
        response_summary=(
            "The final Commissioning through Evaluation report on SDR (28 September 2018) is published, and since "
            "July 2018 NHS England funds SDR routinely for children aged 3 to 9 with cerebral palsy (GMFCS II or "
            "III) who meet its clinical criteria."
        ),
        response_details=(
            "Illustrative demo response, written from the public record: NHS England's clinical commissioning "
            "policy 1769 (Selective dorsal rhizotomy, July 2018) and KiTEC's final report of 28 September 2018."
        ),
    )
    if not closed.signatures.exists():
        _signatures(
            closed,
            count=640,
            start=closed_opened,
            end=closed_opened + dt.timedelta(days=150),
            seed=17,
        )
        Signature.objects.filter(petition=closed, notify_by_email=True).update(response_emailed_at=closed.responded_at)
    return DemoPetitions(open_petition=mother, closed_petition=closed)
