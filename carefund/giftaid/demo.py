"""Demo data for Gift Aid: declarations made by three of the campaign demo's online donors when they gave
(illustrative people and addresses, not real ones), so that the campaign page shows Gift Aid to come and the staff
pages show declarations of each scope. `carefund demo` calls `seed_declarations` after the story; idempotent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model

from carefund.campaigns.models import Donation, DonationStatus
from carefund.core import clock
from carefund.core.errors import ValidationError
from carefund.giftaid.claims import claim_create
from carefund.giftaid.models import Claim, Declaration
from carefund.giftaid.rules import Scope
from carefund.giftaid.services import declaration_record

# (donor's email on the demo gift, title, first name, last name, house, address, postcode, scope); the emails are
# those of carefund.campaigns.demo.ONLINE_GIFTS.
DECLARATIONS: tuple[tuple[str, str, str, str, str, str, str, Scope], ...] = (
    ("ann.smith@example.org", "Mrs", "Ann", "Smith", "14", "High Street, Hythe", "CT21 5AT", Scope.THIS_AND_FUTURE),
    ("tom.baker@example.org", "Mr", "Tom", "Baker", "3", "Seabrook Road, Hythe", "CT21 5LX", Scope.THIS_GIFT),
    (
        "priya@example.org",
        "Dr",
        "Priya",
        "Patel",
        "Rose Cottage",
        "Church Hill, Hythe",
        "CT21 5DW",
        Scope.PAST_FOUR_YEARS_AND_FUTURE,
    ),
)


def seed_declarations(*, actor: Any = None) -> list[Declaration]:
    """Each demo donor's declaration, made with their first confirmed online gift on the day they gave; a gift that
    has one already keeps it. Donors whose gifts are not there (no demo campaign) are skipped."""
    made: list[Declaration] = []
    for email, title, first, last, house, address, postcode, scope in DECLARATIONS:
        gift = (
            Donation.objects.filter(donor_email=email, status=DonationStatus.SUCCEEDED)
            .exclude(gateway="")
            .order_by("pk")
            .first()
        )
        if gift is None or Declaration.objects.filter(donation=gift).exists():
            continue
        made.append(
            declaration_record(
                donation=gift,
                title=title,
                first_name=first,
                last_name=last,
                house_name_or_number=house,
                address=address,
                postcode=postcode,
                scope=scope,
                declared_on=gift.created_at.date(),
                actor=actor,
            )
        )
    return made


# The story's dates are relative to today (carefund.funding.story); the charity gathers the gifts into a Gift Aid
# claim the day after the last of them, well within the four years HMRC allows for Gift Aid and the two for the Small
# Donations Scheme (https://gov.uk/claim-gift-aid/how-to-claim).
DEMO_CLAIM_MAKER = ("finance1", "story-finance1")


def seed_claim() -> Claim | None:
    """The story's first Gift Aid claim, made by the first finance officer and left as a draft, so that a second
    finance officer (finance2) can download its schedule, confirm the filing with HMRC's reference and record
    HMRC's payment (docs/giftaid.md "The demo claim"). Idempotent: nothing if a claim exists, the story's finance
    officer is not there, or there is nothing to claim."""
    if Claim.objects.exists():
        return None
    maker = get_user_model().objects.filter(username__in=DEMO_CLAIM_MAKER).order_by("username").first()
    if maker is None:
        return None
    # the demo's dates are relative to today (the story ends a month ago): the claim covers every gift so far that a
    # declaration covers, made the day after the last gift
    last = (
        Donation.objects.filter(status=DonationStatus.SUCCEEDED)
        .order_by("-received_on")
        .values_list("received_on", flat=True)
        .first()
    )
    if last is None:
        return None
    made = dt.datetime.combine(min(last + dt.timedelta(days=1), clock.today()), dt.time(10, 0))
    with clock.frozen_at(made):
        try:
            return claim_create(period_end=last, actor=maker)
        except ValidationError:  # nothing to claim (no declarations in this database)
            return None
