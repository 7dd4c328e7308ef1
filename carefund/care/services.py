"""Writes of the care domain: load, decide (rules.py), write, audit. Keyword-only, typed, atomic.

A service given an `actor` checks that the actor holds the model permission for the change and may see the
child (object-level access, `carefund.core.permissions`); `actor=None` is the system (demo data, the funding
engine) and is trusted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from carefund.care import rules
from carefund.care.models import (
    CarePlan,
    CarePlanItem,
    CarePlanStatus,
    Child,
    ItemCategory,
    PathwayTemplate,
    PathwayTemplateItem,
    Provider,
    SdrAssessment,
)
from carefund.core import clock
from carefund.core.crypto import decrypt_identifier, encrypt_identifier, identifier_hash
from carefund.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from carefund.core.people import person_ref
from carefund.core.permissions import restrict_children
from carefund.core.services import audit_record


def _require_perm(actor: Any, perm: str, what: str) -> None:
    if actor is None:
        return
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}; it needs the permission {perm}.")


def _require_child_access(actor: Any, child: Child) -> None:
    if actor is None:
        return
    if not restrict_children(Child.objects.filter(pk=child.pk), actor).exists():
        # Same answer as for a child that does not exist: never confirm a record the actor may not see.
        raise NotFoundError("No such child.")


def _refuse_if_erased(child: Child) -> None:
    if child.erased_at is not None:
        raise ConflictError(
            "This child's personal data was erased on request; if the family comes back, register the child again."
        )


# ---------------------------------------------------------------------------------------------------------------
# Providers and templates (reference data)


@transaction.atomic
def provider_upsert(
    *,
    slug: str,
    name: str,
    kind: str,
    city: str = "",
    is_sdr_centre: bool = False,
    parent: Provider | None = None,
    source: str = "",
    actor: Any = None,
) -> Provider:
    """Create or update the provider with this slug (idempotent)."""
    _require_perm(actor, "care.change_provider", "change providers")
    provider, created = Provider.objects.update_or_create(
        slug=slug,
        defaults={
            "name": name,
            "kind": kind,
            "city": city,
            "is_sdr_centre": is_sdr_centre,
            "parent": parent,
            "source": source,
        },
    )
    if created:
        audit_record(actor=actor, action="provider.created", target=provider, summary=name)
    return provider


@transaction.atomic
def pathway_template_upsert(
    *,
    slug: str,
    name: str,
    duration_days: int,
    items: Iterable[rules.TemplateItemSpec],
    description: str = "",
    treatment: str = "sdr",
    actor: Any = None,
) -> PathwayTemplate:
    """Create a pathway template, or replace the items of the one with this slug (plans already made from it
    keep their own copies of the items)."""
    _require_perm(actor, "care.change_pathwaytemplate", "change pathway templates")
    specs = tuple(items)
    for spec in specs:
        rules.check_cost_pence(spec.cost_pence)
        if spec.offset_days > duration_days:
            raise ValidationError(
                f"offset_days: item {spec.position} falls on day {spec.offset_days}, after the template's "
                f"{duration_days} days.",
                field="offset_days",
            )
    template, created = PathwayTemplate.objects.update_or_create(
        slug=slug,
        defaults={"name": name, "duration_days": duration_days, "description": description, "treatment": treatment},
    )
    existing = [
        (i.position, i.category, i.description, i.offset_days, i.cost_pence, i.cost_source)
        for i in template.items.order_by("position")
    ]
    wanted = [(s.position, s.category, s.description, s.offset_days, s.cost_pence, s.cost_source) for s in specs]
    if existing != wanted:
        template.items.all().delete()
        PathwayTemplateItem.objects.bulk_create(
            PathwayTemplateItem(
                template=template,
                position=s.position,
                category=s.category,
                description=s.description,
                offset_days=s.offset_days,
                cost_pence=s.cost_pence,
                cost_source=s.cost_source,
            )
            for s in specs
        )
        audit_record(
            actor=actor,
            action="pathway_template.created" if created else "pathway_template.changed",
            target=template,
            summary=name,
            details={"items": len(specs), "total_pence": sum(s.cost_pence for s in specs)},
        )
    return template


# ---------------------------------------------------------------------------------------------------------------
# Children


def _child_details(
    *, first_name: str, last_name: str, date_of_birth: dt.date, home_postcode: str, diagnosis: str, gmfcs_level: int
) -> dict[str, Any]:
    """A child's details checked and normalised (registration and correction), in the order of the form."""
    first_name, last_name, diagnosis = first_name.strip(), last_name.strip(), diagnosis.strip()
    if not first_name:
        raise ValidationError("first_name: enter the child's first name.", field="first_name")
    if not last_name:
        raise ValidationError("last_name: enter the child's last name.", field="last_name")
    rules.check_date_of_birth(date_of_birth, today=clock.today())
    postcode = rules.normalise_postcode(home_postcode)
    if not diagnosis:
        raise ValidationError("diagnosis: enter the diagnosis, for example 'spastic diplegia'.", field="diagnosis")
    return {
        "first_name": first_name,
        "last_name": last_name,
        "date_of_birth": date_of_birth,
        "home_postcode": postcode,
        "diagnosis": diagnosis,
        "gmfcs_level": rules.check_gmfcs_level(gmfcs_level),
    }


@transaction.atomic
def child_register(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: dt.date,
    home_postcode: str,
    nhs_number: str,
    diagnosis: str,
    gmfcs_level: int,
    guardians: Iterable[Any] = (),
    publicity_consent: bool = False,
    actor: Any,
) -> Child:
    """Register a child. Validates every field first, so a refusal writes nothing."""
    _require_perm(actor, "care.add_child", "register children")
    details = _child_details(
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        home_postcode=home_postcode,
        diagnosis=diagnosis,
        gmfcs_level=gmfcs_level,
    )
    digits = rules.normalise_nhs_number(nhs_number)
    lookup = identifier_hash(digits)
    if Child.objects.filter(nhs_number_hash=lookup).exists():
        raise ConflictError(
            "nhs_number: a child with this NHS number is already registered; open their record instead.",
            field="nhs_number",
        )
    child = Child.objects.create(
        **details,
        nhs_number_encrypted=encrypt_identifier(digits),
        nhs_number_hash=lookup,
        nhs_number_last3=digits[-3:],
        publicity_consent=publicity_consent,
    )
    guardian_list = list(guardians)
    if guardian_list:
        child.guardians.set(guardian_list)
    audit_record(
        actor=actor,
        action="child.registered",
        target=child,
        summary=f"Registered {person_ref('child', child.pk)}",
        details={"guardians": [g.pk for g in guardian_list], "publicity_consent": publicity_consent},
    )
    return child


@transaction.atomic
def child_update(
    *,
    child: Child,
    first_name: str,
    last_name: str,
    date_of_birth: dt.date,
    home_postcode: str,
    diagnosis: str,
    gmfcs_level: int,
    nhs_number: str = "",
    actor: Any,
) -> list[str]:
    """Correct a child's details (a caseworker or trustee). Validates every field as registration does, so a
    refusal writes nothing. An empty `nhs_number` keeps the one on record; another is checked, encrypted and must not
    belong to another child. Returns the names of the fields that changed; the audit records those names, not the
    values (health data is not copied into the audit log)."""
    _require_perm(actor, "care.change_child", "change a child's details")
    locked = Child.objects.select_for_update().get(pk=child.pk)
    _require_child_access(actor, locked)
    _refuse_if_erased(locked)
    new = _child_details(
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        home_postcode=home_postcode,
        diagnosis=diagnosis,
        gmfcs_level=gmfcs_level,
    )
    changed = [name for name, value in new.items() if getattr(locked, name) != value]
    for name in changed:
        setattr(locked, name, new[name])
    if nhs_number.strip():
        digits = rules.normalise_nhs_number(nhs_number)
        lookup = identifier_hash(digits)
        if lookup != locked.nhs_number_hash:
            if Child.objects.filter(nhs_number_hash=lookup).exclude(pk=locked.pk).exists():
                raise ConflictError(
                    "nhs_number: another child is registered with this NHS number; check the number.",
                    field="nhs_number",
                )
            locked.nhs_number_encrypted = encrypt_identifier(digits)
            locked.nhs_number_hash = lookup
            locked.nhs_number_last3 = digits[-3:]
            changed.append("nhs_number")
    if not changed:
        return []
    locked.save()
    audit_record(
        actor=actor,
        action="child.updated",
        target=locked,
        summary=f"Changed {', '.join(changed)} of {person_ref('child', locked.pk)}",
        details={"fields": changed},
    )
    return changed


def child_find_by_nhs_number(*, nhs_number: str) -> Child | None:
    """Look a child up by NHS number through the keyed hash (no decryption)."""
    digits = rules.normalise_nhs_number(nhs_number)
    return Child.objects.filter(nhs_number_hash=identifier_hash(digits)).first()


@transaction.atomic
def child_reveal_nhs_number(*, child: Child, actor: Any) -> str:
    """The full NHS number, for a user who may see it; every reveal is audited."""
    if actor is None:
        raise PermissionDeniedError("nhs_number: revealing an NHS number needs a signed-in user with the right.")
    _require_child_access(actor, child)
    _require_perm(actor, "care.view_nhs_number", "see full NHS numbers")
    digits = decrypt_identifier(child.nhs_number_encrypted)
    audit_record(actor=actor, action="child.nhs_number_revealed", target=child, summary=person_ref("child", child.pk))
    return rules.format_nhs_number(digits)


@transaction.atomic
def child_set_publicity_consent(*, child: Child, consent: bool, actor: Any) -> Child:
    _require_child_access(actor, child)
    if actor is not None and not (child.guardians.filter(pk=actor.pk).exists() or actor.has_perm("care.change_child")):
        raise PermissionDeniedError("publicity_consent: only the child's guardian or a caseworker may change it.")
    if consent:
        _refuse_if_erased(child)
    child.publicity_consent = consent
    child.save(update_fields=["publicity_consent"])
    audit_record(
        actor=actor,
        action="child.publicity_consent_given" if consent else "child.publicity_consent_withdrawn",
        target=child,
        summary=person_ref("child", child.pk),
    )
    return child


# ---------------------------------------------------------------------------------------------------------------
# Care plans


@transaction.atomic
def care_plan_create_from_template(
    *,
    child: Child,
    provider: Provider,
    template: PathwayTemplate,
    start_date: dt.date,
    actor: Any,
    title: str = "",
) -> CarePlan:
    """A care plan for one child at one provider, with dated, costed items copied from the template."""
    _require_perm(actor, "care.add_careplan", "create care plans")
    _require_child_access(actor, child)
    _refuse_if_erased(child)
    rules.check_plan_start(start_date, date_of_birth=child.date_of_birth, today=clock.today())
    template_items = tuple(
        rules.TemplateItemSpec(i.position, i.category, i.description, i.offset_days, i.cost_pence, i.cost_source)
        for i in template.items.all()
    )
    if not template_items:
        raise ValidationError(f"template: '{template.name}' has no items; add items before using it.", field="template")
    end_date, specs = rules.plan_items_from_template(
        template_items, start_date=start_date, duration_days=template.duration_days
    )
    plan = CarePlan.objects.create(
        child=child,
        provider=provider,
        template=template,
        title=title.strip() or f"{template.name} at {provider.name}",
        start_date=start_date,
        end_date=end_date,
        status=CarePlanStatus.ACTIVE,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    CarePlanItem.objects.bulk_create(
        CarePlanItem(
            plan=plan,
            position=s.position,
            category=s.category,
            description=s.description,
            provider=provider,
            planned_date=s.planned_date,
            cost_pence=s.cost_pence,
            cost_source=s.cost_source,
        )
        for s in specs
    )
    audit_record(
        actor=actor,
        action="care_plan.created",
        target=plan,
        summary=f"care plan for {person_ref('child', child.pk)}",  # not its title: typed, it may name the child
        details={"template": template.slug, "items": len(specs), "total_pence": sum(s.cost_pence for s in specs)},
    )
    return plan


@transaction.atomic
def care_plan_item_add(
    *,
    plan: CarePlan,
    category: str,
    description: str,
    planned_date: dt.date,
    cost_pence: int,
    actor: Any,
    provider: Provider | None = None,
) -> CarePlanItem:
    _require_perm(actor, "care.add_careplanitem", "add care-plan items")
    _require_child_access(actor, plan.child)
    if category not in ItemCategory.values:
        raise ValidationError(
            f"category: '{category}' is not a category; choose one of {', '.join(ItemCategory.values)}.",
            field="category",
        )
    if not description.strip():
        raise ValidationError("description: say what the item is.", field="description")
    rules.check_cost_pence(cost_pence)
    rules.check_item_date(planned_date, start_date=plan.start_date, end_date=plan.end_date)
    position = (plan.items.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    item = CarePlanItem.objects.create(
        plan=plan,
        position=position,
        category=category,
        description=description.strip(),
        provider=provider or plan.provider,
        planned_date=planned_date,
        cost_pence=cost_pence,
    )
    audit_record(
        actor=actor,
        action="care_plan_item.added",
        target=item,
        summary=item.description,
        details={"plan": plan.pk, "cost_pence": cost_pence},
    )
    return item


@transaction.atomic
def care_plan_item_set_cost(*, item: CarePlanItem, cost_pence: int, actor: Any) -> CarePlanItem:
    """Re-cost an item (whole pence, zero or more) while it is planned, booked or delivered."""
    _require_perm(actor, "care.change_careplanitem", "change care-plan items")
    locked = CarePlanItem.objects.select_for_update().select_related("plan__child").get(pk=item.pk)
    _require_child_access(actor, locked.plan.child)
    rules.check_cost_pence(cost_pence)
    rules.check_cost_editable(locked.state)
    old = locked.cost_pence
    if old == cost_pence:
        return locked
    locked.cost_pence = cost_pence
    locked.save(update_fields=["cost_pence"])
    audit_record(
        actor=actor,
        action="care_plan_item.cost_changed",
        target=locked,
        summary=locked.description,
        details={"from_pence": old, "to_pence": cost_pence},
    )
    item.cost_pence = cost_pence
    return locked


@transaction.atomic
def care_plan_item_transition(
    *, item: CarePlanItem, to_state: str, actor: Any, by_invoice: bool = False
) -> CarePlanItem:
    """Move an item along its life cycle (planned -> booked -> delivered -> invoiced -> paid, or cancelled).

    The money states (invoiced, paid) are reached only through funding's invoice services, which pass
    `by_invoice=True`; a person asking for them directly is refused (`rules.check_manual_transition`)."""
    _require_perm(actor, "care.change_careplanitem", "change care-plan items")
    locked = CarePlanItem.objects.select_for_update().select_related("plan__child").get(pk=item.pk)
    _require_child_access(actor, locked.plan.child)
    from_state = locked.state
    rules.check_item_transition(from_state, to_state)
    if not by_invoice:
        rules.check_manual_transition(to_state)
    locked.state = to_state
    locked.save(update_fields=["state"])
    audit_record(
        actor=actor,
        action=f"care_plan_item.{to_state}",
        target=locked,
        summary=locked.description,
        details={"from": from_state, "to": to_state, "plan": locked.plan_id},
    )
    item.state = to_state
    return locked


# ---------------------------------------------------------------------------------------------------------------
# SDR assessments


@transaction.atomic
def sdr_assessment_record(
    *,
    child: Child,
    provider: Provider,
    assessed_on: dt.date,
    gmfcs_level: int,
    spastic_diplegia: bool,
    spasticity_affects_function: bool,
    dystonia: bool,
    mri_typical_pvl: bool,
    mri_basal_ganglia_or_cerebellar_lesion: bool,
    genetic_or_progressive_condition: bool,
    antigravity_strength: bool,
    reimers_index_percent: int,
    significant_scoliosis: bool = False,
    notes: str = "",
    actor: Any,
) -> SdrAssessment:
    """A clinician records the clinical findings of an SDR assessment (the inputs to the eligibility rules)."""
    _require_perm(actor, "care.add_sdrassessment", "record SDR assessments")
    _require_child_access(actor, child)
    if actor is not None and not actor.is_superuser and not provider.clinicians.filter(pk=actor.pk).exists():
        raise PermissionDeniedError(f"provider: you do not work at {provider.name}, so you cannot assess for it.")
    if assessed_on > clock.today():
        raise ValidationError(
            f"assessed_on: {assessed_on.isoformat()} is in the future; record an assessment once it has happened.",
            field="assessed_on",
        )
    if assessed_on < child.date_of_birth:
        raise ValidationError("assessed_on: the assessment cannot be before the child's birth.", field="assessed_on")
    rules.check_gmfcs_level(gmfcs_level)
    if isinstance(reimers_index_percent, bool) or not isinstance(reimers_index_percent, int):
        raise ValidationError(
            "reimers_index_percent: enter a whole percentage from 0 to 100.", field="reimers_index_percent"
        )
    if not 0 <= reimers_index_percent <= 100:
        raise ValidationError(
            f"reimers_index_percent: {reimers_index_percent} is not a percentage; enter 0 to 100.",
            field="reimers_index_percent",
        )
    assessment = SdrAssessment.objects.create(
        child=child,
        provider=provider,
        assessed_on=assessed_on,
        clinician=actor if actor is not None and actor.is_authenticated else None,
        gmfcs_level=gmfcs_level,
        spastic_diplegia=spastic_diplegia,
        spasticity_affects_function=spasticity_affects_function,
        dystonia=dystonia,
        mri_typical_pvl=mri_typical_pvl,
        mri_basal_ganglia_or_cerebellar_lesion=mri_basal_ganglia_or_cerebellar_lesion,
        genetic_or_progressive_condition=genetic_or_progressive_condition,
        antigravity_strength=antigravity_strength,
        reimers_index_percent=reimers_index_percent,
        significant_scoliosis=significant_scoliosis,
        notes=notes,
    )
    audit_record(
        actor=actor, action="sdr_assessment.recorded", target=assessment, summary=person_ref("child", child.pk)
    )
    return assessment
