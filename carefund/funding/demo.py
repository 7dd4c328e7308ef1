"""Reference data for funding: NHS England, its two SDR programmes and their allocations at the five centres.

Every number names its primary source (docs/sources.md, "Care pathways, NHS programmes and providers"); figures
the sources do not give are configurable assumptions and say so."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from carefund.care.models import Provider
from carefund.funding import services
from carefund.funding.models import Allocation, Commissioner, Programme

NHS_ENGLAND_SOURCE = "NHS England, 17 July 2014, https://www.england.nhs.uk/2014/07/cte-specialist-surgery/"

# The five CtE centres (sources.md: CtE 2014), also the first 2018 centres (sources.md: Leeds SDR service).
# Slugs as seeded by care.demo.
CENTRE_SLUGS = ("alder-hey", "gosh", "leeds-teaching", "nottingham-university", "bristol-university")

# CtE: "around 120 children a year" (sources.md: CtE 2014).
CTE_CHILDREN_PER_YEAR = 120
# Children per centre are not published: an assumption, an equal share of the national figure.
CTE_PROCEDURES_PER_CENTRE = CTE_CHILDREN_PER_YEAR // len(CENTRE_SLUGS)
# Announced 17 July 2014 (sources.md: CtE 2014); Leeds: CtE "ended in March 2016" (sources.md: Leeds SDR service);
# last patient 21 Mar 2016 (sources.md: Summers 2019).
CTE_STARTS_ON = dt.date(2014, 7, 17)
CTE_ENDS_ON = dt.date(2016, 3, 31)

# 2018 routine commissioning announced 5 July 2018 (sources.md: Leeds SDR service).
NHSE_2018_STARTS_ON = dt.date(2018, 7, 5)
# "up to 300 patients expected to benefit" (sources.md: ITV 2018).
NHSE_2018_CHILDREN_PER_YEAR = 300
NHSE_2018_PROCEDURES_PER_CENTRE = NHSE_2018_CHILDREN_PER_YEAR // len(CENTRE_SLUGS)  # equal share: assumption
# A fixed community rehabilitation amount "based on GMFCS level" for 2 years (sources.md: Bristol SDR funding page);
# the amounts are not published, so
# these are configurable assumptions (pence): more for GMFCS III, who need more therapy.
NHSE_2018_REHAB_BY_GMFCS = {"2": 600_000, "3": 800_000}


@dataclass
class DemoFunding:
    commissioner: Commissioner
    cte: Programme
    nhse_2018: Programme


@transaction.atomic
def seed_programmes() -> DemoFunding:
    """Create (idempotently) NHS England, the CtE and 2018 programmes and their allocations at the five centres."""
    nhse, _ = Commissioner.objects.get_or_create(
        slug="nhs-england", defaults={"name": "NHS England", "source": NHS_ENGLAND_SOURCE}
    )
    cte, _ = Programme.objects.get_or_create(
        slug="sdr-cte-2014",
        defaults={
            "commissioner": nhse,
            "name": "SDR Commissioning through Evaluation (2014-2016)",
            "eligibility_policy": "cte-2014",
            "starts_on": CTE_STARTS_ON,
            "ends_on": CTE_ENDS_ON,
            # CtE pays the surgery; whether it also paid therapy is not published (an assumption).
            "covers_categories": ["surgery"],
            "children_per_year": CTE_CHILDREN_PER_YEAR,
            "source": "NHS England, 17 July 2014, https://www.england.nhs.uk/2014/07/cte-specialist-surgery/ ; "
            "procedures per centre: equal share of 120 a year (assumption: not published)",
        },
    )
    routine, _ = Programme.objects.get_or_create(
        slug="sdr-nhse-2018",
        defaults={
            "commissioner": nhse,
            "name": "SDR routine commissioning (NHS England 2018)",
            "eligibility_policy": "nhse-2018",
            "starts_on": NHSE_2018_STARTS_ON,
            "ends_on": None,
            "covers_categories": ["surgery"],
            "capped_category": "rehabilitation",
            "capped_amounts_by_gmfcs": NHSE_2018_REHAB_BY_GMFCS,
            "capped_amounts_are_assumptions": True,
            "children_per_year": NHSE_2018_CHILDREN_PER_YEAR,
            "source": "NHS England policy 1769 (2018), https://www.england.nhs.uk/wp-content/uploads/2018/07/1769-"
            "selective-dorsal-rhizotomy.pdf ; rehabilitation amounts by GMFCS level not published: assumptions",
        },
    )
    for programme, procedures in ((cte, CTE_PROCEDURES_PER_CENTRE), (routine, NHSE_2018_PROCEDURES_PER_CENTRE)):
        for slug in CENTRE_SLUGS:
            centre = Provider.objects.filter(slug=slug).first()
            if centre is None or Allocation.objects.filter(programme=programme, centre=centre).exists():
                continue
            services.allocation_set(
                programme=programme,
                centre=centre,
                procedures=procedures,
                budget_pence=None,
                reason="Initial allocation: an equal share of the programme's national volume (assumption).",
                actor=None,
            )
    return DemoFunding(commissioner=nhse, cte=cte, nhse_2018=routine)
