"""Data protection for a child (UK GDPR articles 15 and 17): a subject-access export of everything carefund holds about
a child, and erasure on request (docs/operations.md, "Data protection requests and retention").

Who may: a guardian exports their own child's data; a caseworker any child's (`care.export_child_data` and the child
visible to them, `core.permissions`). Erasure needs `care.erase_child_data` (no role has it: the charity's data
protection lead, an administrator, or a person they grant it to). A child someone may not see is answered as one that
does not exist. Every export and erasure is audited, naming the child by reference only.

Each app answers for its own records through `core.privacy.child_export` and `child_erase`; this module is care's
part too: the child's record (pseudonymised: the row stays for the books), their assessments and care plans. Care
plans and their items back invoices and payments in the books, so they are kept; they name no one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from carefund.care.models import CarePlan, Child, SdrAssessment
from carefund.core import clock
from carefund.core.errors import ConflictError, NotFoundError
from carefund.core.people import person_ref
from carefund.core.permissions import require_child_visible, require_perm
from carefund.core.privacy import (
    ACCOUNTS_KEPT,
    ErasureReport,
    child_erase,
    child_export,
    collect_erasure,
    collect_export,
    scrub_names,
)
from carefund.core.services import audit_record

ERASED = "erased"  # a child's first name must not be empty (a database check): this names no one


def _child_for(*, actor: Any, child_id: int, perm: str, what: str, lock: bool = False) -> Child:
    try:
        pk = int(child_id)
    except (TypeError, ValueError):
        raise NotFoundError("No such child.") from None
    query = Child.objects.select_for_update() if lock else Child.objects
    child = query.filter(pk=pk).first()
    if child is None:
        raise NotFoundError("No such child.")
    require_child_visible(actor, child)
    require_perm(actor, perm, what)
    return child


def child_data_export(*, child_id: int, actor: Any = None) -> dict[str, Any]:
    """Everything held about one child, by app, for their guardian or a caseworker (`actor=None`: the operator's
    command). Audited."""
    child = _child_for(actor=actor, child_id=child_id, perm="care.export_child_data", what="export a child's data")
    sections = collect_export(child_export, child_id=child.pk)
    count = sum(len(r) for r in sections.values())
    audit_record(
        actor=actor,
        action="privacy.child_export",
        target=child,
        summary=f"subject-access export of {person_ref('child', child.pk)} ({count} records)",
        details={"sections": {name: len(records) for name, records in sections.items()}},
    )
    return {"subject": {"child": child.pk}, "exported_at": clock.now().isoformat(), "records": sections}


@transaction.atomic
def child_data_erase(*, child_id: int, actor: Any = None) -> ErasureReport:
    """Erase or pseudonymise a child's personal data in every app; the books' amounts and dates, the restricted fund
    and its history stay (they name the child by id only). Audited; refused for a child already erased."""
    child = _child_for(
        actor=actor, child_id=child_id, perm="care.erase_child_data", what="erase a child's data", lock=True
    )
    if child.erased_at is not None:
        raise ConflictError(f"This child's data was erased already, on {child.erased_at:%d %B %Y}.")
    # the names as they were, so that each app can take them out of free text written about the child
    names = sorted({n for n in (child.full_name, child.public_name, child.first_name) if n}, key=len, reverse=True)
    report = collect_erasure(child_erase, child_id=child.pk, names=names, now=clock.now())
    audit_record(
        actor=actor,
        action="privacy.child_erase",
        target=child,
        summary=f"erasure of {person_ref('child', child.pk)}'s data: {sum(report.erased.values())} records erased, "
        f"{len(report.kept)} kinds kept",
        details={"erased": report.erased, "kept": report.kept},
    )
    return report


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def care_export(*, child_id: int, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    child = Child.objects.prefetch_related("guardians").get(pk=child_id)
    records: list[dict[str, Any]] = [
        {
            "record": "child",
            "child": child.pk,
            "first_name": child.first_name,
            "last_name": child.last_name,
            "date_of_birth": _date(child.date_of_birth),
            "home_postcode": child.home_postcode,
            # the full number is shown, audited, on the child's page to those who may see it; its last digits here
            "nhs_number": child.nhs_number_masked,
            "diagnosis": child.diagnosis,
            "gmfcs_level": child.gmfcs_level,
            "publicity_consent": child.publicity_consent,
            "guardians": [g.get_username() for g in child.guardians.all()],
            "registered_at": child.created_at.isoformat(),
        }
    ]
    for a in SdrAssessment.objects.filter(child=child).select_related("provider").order_by("assessed_on", "pk"):
        records.append(
            {
                "record": "sdr_assessment",
                "assessment": a.pk,
                "assessed_on": _date(a.assessed_on),
                "provider": a.provider.name,
                "gmfcs_level": a.gmfcs_level,
                "spastic_diplegia": a.spastic_diplegia,
                "spasticity_affects_function": a.spasticity_affects_function,
                "dystonia": a.dystonia,
                "mri_typical_pvl": a.mri_typical_pvl,
                "mri_basal_ganglia_or_cerebellar_lesion": a.mri_basal_ganglia_or_cerebellar_lesion,
                "genetic_or_progressive_condition": a.genetic_or_progressive_condition,
                "antigravity_strength": a.antigravity_strength,
                "reimers_index_percent": a.reimers_index_percent,
                "significant_scoliosis": a.significant_scoliosis,
                "notes": a.notes,
            }
        )
    plans = CarePlan.objects.filter(child=child).select_related("provider").prefetch_related("items")
    for plan in plans.order_by("start_date", "pk"):
        records.append(
            {
                "record": "care_plan",
                "care_plan": plan.pk,
                "title": plan.title,
                "provider": plan.provider.name,
                "start_date": _date(plan.start_date),
                "end_date": _date(plan.end_date),
                "status": plan.status,
                "items": [
                    {
                        "category": i.category,
                        "description": i.description,
                        "planned_date": _date(i.planned_date),
                        "cost_pence": i.cost_pence,
                        "state": i.state,
                    }
                    for i in plan.items.all()
                ],
            }
        )
    return "care", records


def care_erase(*, child_id: int, names: list[str], now: dt.datetime, **kwargs: Any) -> tuple[str, int, list[str]]:
    """The child's row stays (the books and the fund name it by id): names, postcode, NHS number and diagnosis go,
    the date of birth keeps its year only, guardians are unlinked. Assessments are deleted (health data the books do
    not need); care plans stay (they back invoices and payments), the child's name taken out of their titles."""
    child = Child.objects.get(pk=child_id)
    Child.objects.filter(pk=child.pk).update(
        first_name=ERASED,
        last_name="",
        date_of_birth=dt.date(child.date_of_birth.year, 7, 1),
        home_postcode="",
        nhs_number_encrypted="",
        nhs_number_hash=f"{ERASED}-{child.pk}",  # unique, as the column must be; no number hashes to it
        nhs_number_last3="",
        diagnosis=ERASED,
        publicity_consent=False,
        erased_at=now,
    )
    child.guardians.clear()
    assessments, _ = SdrAssessment.objects.filter(child=child).delete()
    plans = 0
    for plan in CarePlan.objects.filter(child=child):  # titles are typed: one may name the child
        plans += 1
        title = scrub_names(plan.title, names, f"child #{child.pk}")
        if title != plan.title:
            CarePlan.objects.filter(pk=plan.pk).update(title=title)
    kept = [f"{plans} care plan(s): their treatments, dates and costs back payments in the books, {ACCOUNTS_KEPT}"]
    return "care", 1 + assessments, kept if plans else []


def child_names(ids: set[int]) -> dict[int, str]:
    """Names for the audit log (core.people): the public name of each child not erased."""
    return {c.pk: c.public_name for c in Child.objects.filter(pk__in=ids, erased_at__isnull=True)}
