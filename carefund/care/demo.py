"""Demo data for the care domain: the SDR centres, the SDR pathway template, James and four other children,
their SDR assessments and care plans, and one account per role. Idempotent: running it again changes nothing.

Real facts name their primary source (docs/sources.md, "Care pathways, NHS programmes and providers"); the
children, their postcodes and NHS numbers (from the 999 test range) and the demo staff are fictional."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from carefund.care import pathways, rules, services
from carefund.care.models import CarePlan, Child, PathwayTemplate, Provider, ProviderKind
from carefund.core import clock
from carefund.core.roles import Role

SDR_CENTRES_SOURCE = "NHS England, 17 July 2014, https://www.england.nhs.uk/2014/07/cte-specialist-surgery/"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    description: str


@dataclass
class DemoCare:
    children: dict[str, Child] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    templates: dict[str, PathwayTemplate] = field(default_factory=dict)
    plans: dict[str, CarePlan] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    logins: tuple[DemoLogin, ...] = ()


# (slug, name, kind, city, is_sdr_centre, parent slug, source)
PROVIDERS: tuple[tuple[str, str, str, str, bool, str, str], ...] = (
    # The five CtE / 2018 SDR centres (trusts): sources.md: CtE 2014 and Leeds SDR service.
    (
        "alder-hey",
        "Alder Hey Children's NHS Foundation Trust",
        ProviderKind.NHS_TRUST,
        "Liverpool",
        True,
        "",
        SDR_CENTRES_SOURCE,
    ),
    (
        "gosh",
        "Great Ormond Street Hospital for Children NHS Foundation Trust",
        ProviderKind.NHS_TRUST,
        "London",
        True,
        "",
        SDR_CENTRES_SOURCE,
    ),
    (
        "leeds-teaching",
        "Leeds Teaching Hospitals NHS Trust",
        ProviderKind.NHS_TRUST,
        "Leeds",
        True,
        "",
        SDR_CENTRES_SOURCE,
    ),
    (
        "nottingham-university",
        "Nottingham University Hospitals NHS Trust",
        ProviderKind.NHS_TRUST,
        "Nottingham",
        True,
        "",
        SDR_CENTRES_SOURCE + " (its hospital's name, Queen's Medical Centre, is not confirmed, so not seeded)",
    ),
    (
        "bristol-university",
        "University Hospitals Bristol NHS Foundation Trust",
        ProviderKind.NHS_TRUST,
        "Bristol",
        True,
        "",
        SDR_CENTRES_SOURCE,
    ),
    # Their hospitals (sources.md: SDR hospitals).
    (
        "alder-hey-hospital",
        "Alder Hey Children's Hospital",
        ProviderKind.NHS_HOSPITAL,
        "Liverpool",
        False,
        "alder-hey",
        "https://alderhey.nhs.uk/services/selective-dorsal-rhizotomy",
    ),
    (
        "gosh-hospital",
        "Great Ormond Street Hospital",
        ProviderKind.NHS_HOSPITAL,
        "London",
        False,
        "gosh",
        "http://jss.amegroups.com/article/view/3610/html",
    ),
    (
        "leeds-childrens",
        "Leeds Children's Hospital (Leeds General Infirmary)",
        ProviderKind.NHS_HOSPITAL,
        "Leeds",
        False,
        "leeds-teaching",
        "http://leedsneurosurgery.com/patients/dorsal_rhizotomy/",
    ),
    (
        "bristol-childrens",
        "Bristol Royal Hospital for Children",
        ProviderKind.NHS_HOSPITAL,
        "Bristol",
        False,
        "bristol-university",
        "https://uhbristol.nhs.uk/patients-and-visitors/your-hospitals/bristol-royal-hospital-for-children/",
    ),
    (
        "glasgow-rhc",
        "Royal Hospital for Children, Glasgow (NHS Greater Glasgow and Clyde)",
        ProviderKind.NHS_HOSPITAL,
        "Glasgow",
        True,
        "",
        "https://www.rightdecisions.scot.nhs.uk/selective-dorsal-rhizotomy-sdr/",
    ),
    (
        "portland",
        "The Portland Hospital (HCA UK)",
        ProviderKind.PRIVATE_HOSPITAL,
        "London",
        False,
        "",
        "http://www.theportlandhospital.com/children/specialties/selective-dorsal-rhizotomy-sdr/",
    ),
    # Fictional local services for the demo.
    (
        "hythe-physio",
        "Hythe Children's Physiotherapy (demo)",
        ProviderKind.PRIVATE_THERAPY,
        "Hythe",
        False,
        "",
        "fictional demo provider",
    ),
    (
        "kent-orthotics",
        "Kent Orthotics (demo)",
        ProviderKind.ORTHOTICS,
        "Folkestone",
        False,
        "",
        "fictional demo provider",
    ),
)


@dataclass(frozen=True)
class _DemoChild:
    key: str
    first_name: str
    last_name: str
    age_days: int  # age on the first seeding day, so the story's ages hold
    postcode: str
    nhs_first_nine: str
    diagnosis: str
    gmfcs_level: int
    centre: str
    publicity_consent: bool
    plan_starts_in_days: int
    findings: dict[str, Any]


_TYPICAL = {
    "spastic_diplegia": True,
    "spasticity_affects_function": True,
    "dystonia": False,
    "mri_typical_pvl": True,
    "mri_basal_ganglia_or_cerebellar_lesion": False,
    "genetic_or_progressive_condition": False,
    "antigravity_strength": True,
    "significant_scoliosis": False,
}

CHILDREN: tuple[_DemoChild, ...] = (
    # The story: James, 3, of Hythe, spastic diplegia, not yet walking unaided (GMFCS III), SDR recommended at
    # the Nottingham centre.
    _DemoChild(
        "james",
        "James",
        "Hartley",
        3 * 365 + 120,
        "CT21 5AB",
        "999000001",
        "Cerebral palsy: spastic diplegia; not yet walking unaided",
        3,
        "nottingham-university",
        True,
        21,
        {**_TYPICAL, "gmfcs_level": 3, "reimers_index_percent": 18},
    ),
    # Close to the NHS England 2018 age limit (3-9 inclusive; sources.md: Bristol SDR funding page): 9 y 11 m.
    _DemoChild(
        "oliver",
        "Oliver",
        "Shaw",
        9 * 365 + 335,
        "LS6 2QB",
        "999000002",
        "Cerebral palsy: spastic diplegia",
        2,
        "leeds-teaching",
        True,
        30,
        {**_TYPICAL, "gmfcs_level": 2, "reimers_index_percent": 12},
    ),
    # Hip migration too far for the policy (Reimers index >= 40%; sources.md: Bristol SDR funding page).
    _DemoChild(
        "amelia",
        "Amelia",
        "Price",
        7 * 365 + 40,
        "BS7 8AT",
        "999000003",
        "Cerebral palsy: spastic diplegia with hip migration",
        3,
        "bristol-university",
        True,
        45,
        {**_TYPICAL, "gmfcs_level": 3, "reimers_index_percent": 44},
    ),
    # GMFCS IV: outside the 2018 policy (II or III); SDR at GMFCS IV-V is studied (sources.md: SDR at GMFCS IV and V).
    _DemoChild(
        "sophie",
        "Sophie",
        "Nolan",
        5 * 365 + 200,
        "L15 3HT",
        "999000004",
        "Cerebral palsy: spastic quadriplegia",
        4,
        "alder-hey",
        False,
        60,
        {**_TYPICAL, "gmfcs_level": 4, "antigravity_strength": False, "reimers_index_percent": 30},
    ),
    _DemoChild(
        "noah",
        "Noah",
        "Bennett",
        6 * 365 + 90,
        "N7 6PA",
        "999000006",
        "Cerebral palsy: spastic diplegia",
        2,
        "gosh",
        True,
        90,
        {**_TYPICAL, "gmfcs_level": 2, "reimers_index_percent": 10},
    ),
)

# (username, role, description, staff, guardian of, clinician at)
ACCOUNTS: tuple[tuple[str, Role, str, bool, str, str], ...] = (
    ("guardian", Role.GUARDIAN, "James's mother (guardian)", False, "james", ""),
    ("guardian2", Role.GUARDIAN, "Amelia's father (guardian)", False, "amelia", ""),
    (
        "clinician",
        Role.CLINICIAN,
        "Physiotherapist at Nottingham University Hospitals",
        True,
        "",
        "nottingham-university",
    ),
    ("caseworker", Role.CASEWORKER, "Caseworker", True, "", ""),
    ("finance1", Role.FINANCE_OFFICER, "Finance officer (enters)", True, "", ""),
    ("finance2", Role.FINANCE_OFFICER, "Finance officer (approves: four eyes)", True, "", ""),
    ("commissioner", Role.COMMISSIONER, "NHS commissioner", True, "", ""),
    ("economist", Role.HEALTH_ECONOMIST, "Health economist", False, "", ""),
    ("trustee", Role.TRUSTEE, "Trustee", True, "", ""),
)


def demo_password(username: str) -> str:
    return f"demo-{username}-carefund"


def _nhs_number(first_nine: str) -> str:
    number = rules.nhs_number_with_check_digit(first_nine)
    if number is None:  # pragma: no cover - the table above uses prefixes that have a check digit
        raise ValueError(f"{first_nine} has no valid NHS check digit")
    return number


@transaction.atomic
def seed_care(*, allow_accounts: bool) -> DemoCare:
    """Seed the care demo. Accounts (with known passwords) are made only when `allow_accounts` is true: the
    `carefund demo` command passes it only with DEBUG on or an explicit flag."""
    demo = DemoCare()
    for slug, name, kind, city, is_centre, parent, source in PROVIDERS:
        demo.providers[slug] = services.provider_upsert(
            slug=slug,
            name=name,
            kind=kind,
            city=city,
            is_sdr_centre=is_centre,
            parent=demo.providers.get(parent) if parent else None,
            source=source,
            actor=None,
        )
    demo.templates[pathways.SDR_TEMPLATE_SLUG] = services.pathway_template_upsert(
        slug=pathways.SDR_TEMPLATE_SLUG,
        name=pathways.SDR_TEMPLATE_NAME,
        duration_days=pathways.SDR_DURATION_DAYS,
        items=pathways.sdr_template_items(),
        description="The SDR pathway with default costs; every cost names its source or says it "
        "is a configurable assumption.",
        actor=None,
    )
    template = demo.templates[pathways.SDR_TEMPLATE_SLUG]
    today = clock.today()

    for spec in CHILDREN:
        nhs_number = _nhs_number(spec.nhs_first_nine)
        child = services.child_find_by_nhs_number(nhs_number=nhs_number)
        if child is None:
            child = services.child_register(
                first_name=spec.first_name,
                last_name=spec.last_name,
                date_of_birth=today - dt.timedelta(days=spec.age_days),
                home_postcode=spec.postcode,
                nhs_number=nhs_number,
                diagnosis=spec.diagnosis,
                gmfcs_level=spec.gmfcs_level,
                publicity_consent=spec.publicity_consent,
                actor=None,
            )
        demo.children[spec.key] = child
        centre = demo.providers[spec.centre]
        plan = child.care_plans.filter(provider=centre, template=template).first()
        if plan is None:
            plan = services.care_plan_create_from_template(
                child=child,
                provider=centre,
                template=template,
                start_date=today + dt.timedelta(days=spec.plan_starts_in_days),
                actor=None,
                title=f"SDR pathway at {centre.name}",
            )
        demo.plans[spec.key] = plan
        if not child.sdr_assessments.exists():
            findings = dict(spec.findings)
            services.sdr_assessment_record(
                child=child,
                provider=centre,
                assessed_on=today - dt.timedelta(days=14),
                notes="Demo assessment.",
                actor=None,
                **findings,
            )

    if allow_accounts:
        demo.users, demo.logins = _seed_accounts(demo)
    return demo


def _seed_accounts(demo: DemoCare) -> tuple[dict[str, Any], tuple[DemoLogin, ...]]:
    user_model = get_user_model()
    users: dict[str, Any] = {}
    logins = []
    for username, role, description, staff, guardian_of, clinician_at in ACCOUNTS:
        user, _ = user_model.objects.get_or_create(username=username)
        password = demo_password(username)
        if not user.check_password(password) or user.is_staff != staff:
            user.set_password(password)
            user.is_staff = staff
            user.email = f"{username}@carefund.invalid"
            user.save()
        group, _ = Group.objects.get_or_create(name=role.value)
        user.groups.add(group)
        if guardian_of:
            demo.children[guardian_of].guardians.add(user)
        if clinician_at:
            demo.providers[clinician_at].clinicians.add(user)
        users[username] = user
        logins.append(DemoLogin(username, password, role.value, description))
    return users, tuple(logins)
