"""Permission-checked reads of the care domain. Object-level access comes from `core.permissions`, so a
record the user may not see is reported as not found (a 404 at the edge), never shown."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet

from carefund.care.models import CarePlan, CarePlanItem, Child, SdrAssessment
from carefund.care.rules import EligibilityInput
from carefund.core.errors import NotFoundError
from carefund.core.people import person_ref
from carefund.core.permissions import restrict_children
from carefund.core.services import audit_record


def children_for_user(*, user: Any) -> QuerySet[Child]:
    if not _may_view(user, "care.view_child"):
        return Child.objects.none()
    return restrict_children(Child.objects.all(), user)


def _may_view(user: Any, perm: str) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_perm(perm))


def child_get_for_user(*, user: Any, pk: int, audit: bool = True) -> Child:
    """The child with this pk if `user` may see them (else NotFoundError); the access is audited."""
    child = children_for_user(user=user).filter(pk=pk).first()
    if child is None:
        raise NotFoundError("No such child.")
    if audit:
        audit_record(actor=user, action="child.viewed", target=child, summary=person_ref("child", child.pk))
    return child


def care_plans_for_user(*, user: Any) -> QuerySet[CarePlan]:
    if not _may_view(user, "care.view_careplan"):
        return CarePlan.objects.none()
    return restrict_children(CarePlan.objects.select_related("child", "provider"), user, prefix="child__")


def care_plan_get_for_user(*, user: Any, pk: int, audit: bool = True) -> CarePlan:
    items = CarePlanItem.objects.select_related("provider").order_by("planned_date", "position", "pk")
    plan = care_plans_for_user(user=user).filter(pk=pk).prefetch_related(Prefetch("items", queryset=items)).first()
    if plan is None:
        raise NotFoundError("No such care plan.")
    if audit:
        audit_record(actor=user, action="care_plan.viewed", target=plan, summary=person_ref("child", plan.child_id))
    return plan


def sdr_assessments_for_user(*, user: Any) -> QuerySet[SdrAssessment]:
    if not _may_view(user, "care.view_sdrassessment"):
        return SdrAssessment.objects.none()
    return restrict_children(SdrAssessment.objects.select_related("child", "provider"), user, prefix="child__")


def sdr_assessment_get_for_user(*, user: Any, pk: int, audit: bool = True) -> SdrAssessment:
    assessment = sdr_assessments_for_user(user=user).filter(pk=pk).first()
    if assessment is None:
        raise NotFoundError("No such SDR assessment.")
    if audit:
        audit_record(
            actor=user,
            action="sdr_assessment.viewed",
            target=assessment,
            summary=person_ref("child", assessment.child_id),
        )
    return assessment


def can_reveal_nhs_number(*, user: Any) -> bool:
    return _may_view(user, "care.view_nhs_number")


def latest_assessment_for(*, child: Child, on_date: dt.date) -> SdrAssessment | None:
    return child.sdr_assessments.filter(assessed_on__lte=on_date).order_by("-assessed_on", "-pk").first()


def eligibility_input_for(*, child: Child, on_date: dt.date) -> EligibilityInput:
    """The eligibility input for `child` on `on_date`: age on that date and the latest SDR assessment made on or
    before it (no assessment: the clinical facts are None, so those criteria are not met). The GMFCS level is the
    assessment's, else the level on the child's record."""
    age = child.age_on(on_date)
    a = latest_assessment_for(child=child, on_date=on_date)
    if a is None:
        return EligibilityInput(age_years=age, gmfcs_level=child.gmfcs_level)
    return EligibilityInput(
        age_years=age,
        gmfcs_level=a.gmfcs_level,
        spastic_diplegia=a.spastic_diplegia,
        spasticity_affects_function=a.spasticity_affects_function,
        dystonia=a.dystonia,
        mri_typical_pvl=a.mri_typical_pvl,
        mri_basal_ganglia_or_cerebellar_lesion=a.mri_basal_ganglia_or_cerebellar_lesion,
        genetic_or_progressive_condition=a.genetic_or_progressive_condition,
        antigravity_strength=a.antigravity_strength,
        reimers_index_percent=a.reimers_index_percent,
        significant_scoliosis=a.significant_scoliosis,
        assessed_on=a.assessed_on,
    )
