"""The care domain: providers, children, pathway templates, care plans and their items, SDR assessments.

Single-row truths live here as `Meta.constraints`; decisions live in `rules.py`; writes go through
`services.py` (never `save()` logic or signals)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ProviderKind(models.TextChoices):
    NHS_TRUST = "nhs_trust", "NHS trust"
    NHS_HOSPITAL = "nhs_hospital", "NHS hospital"
    PRIVATE_HOSPITAL = "private_hospital", "Private hospital"
    COMMUNITY_THERAPY = "community_therapy", "Community therapy service"
    PRIVATE_THERAPY = "private_therapy", "Private therapist"
    ORTHOTICS = "orthotics", "Orthotics supplier"
    OTHER = "other", "Other"


class Provider(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=30, choices=ProviderKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children_providers"
    )
    city = models.CharField(max_length=100, blank=True)
    is_sdr_centre = models.BooleanField(default=False)
    clinicians = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="provider_memberships")
    source = models.CharField(max_length=300, blank=True, help_text="Where the facts about this provider come from.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ProviderKind.values), name="care_provider_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city})" if self.city else self.name


class Child(models.Model):
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    home_postcode = models.CharField(max_length=8, help_text="UK postcode, upper case with one space.")
    # The NHS number is special-category data: stored encrypted (Fernet), looked up by a keyed hash.
    nhs_number_encrypted = models.TextField()
    nhs_number_hash = models.CharField(max_length=64, unique=True)
    nhs_number_last3 = models.CharField(max_length=3)
    diagnosis = models.CharField(max_length=200)
    gmfcs_level = models.PositiveSmallIntegerField(help_text="GMFCS level, 1 (least) to 5 (most limited).")
    guardians = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="children")
    publicity_consent = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the child's personal data was erased on request (care.privacy): the row stays, pseudonymous, for the
    # books and the restricted fund's history; the audit log then names the child "erased child #<id>".
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        verbose_name_plural = "children"
        constraints = [
            models.CheckConstraint(condition=Q(gmfcs_level__gte=1, gmfcs_level__lte=5), name="care_child_gmfcs_1_5"),
            models.CheckConstraint(condition=~Q(first_name=""), name="care_child_first_name_present"),
        ]
        permissions = [
            ("view_nhs_number", "Can see a child's full NHS number"),
            ("export_child_data", "Can export everything held about a child they may see (subject access)"),
            ("erase_child_data", "Can erase the personal data of a child they may see, on request"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def public_name(self) -> str:
        """First name and last initial, e.g. "James H." (safe for campaign pages)."""
        initial = f" {self.last_name[0]}." if self.last_name else ""
        return f"{self.first_name}{initial}"

    @property
    def nhs_number_masked(self) -> str:
        return f"••• ••• •{self.nhs_number_last3[:1]}{self.nhs_number_last3[1:]}" if self.nhs_number_last3 else ""

    def age_on(self, on_date: dt.date) -> int:
        """Age in whole years on `on_date` (a child born 29 February turns a year older on 1 March)."""
        years = on_date.year - self.date_of_birth.year
        if (on_date.month, on_date.day) < (self.date_of_birth.month, self.date_of_birth.day):
            years -= 1
        return years


class ItemCategory(models.TextChoices):
    ASSESSMENT = "assessment", "Assessment"
    PRE_OP_PHYSIO = "pre_op_physio", "Pre-operative physiotherapy"
    SURGERY = "surgery", "Surgery"
    AFTERCARE = "aftercare", "Inpatient aftercare"
    REHABILITATION = "rehabilitation", "Post-operative physiotherapy"
    ORTHOTICS = "orthotics", "Orthotics and equipment"
    TRAVEL = "travel", "Travel and accommodation"
    FOLLOW_UP = "follow_up", "Follow-up assessment"


class PathwayTemplate(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    treatment = models.CharField(max_length=50, default="sdr")
    description = models.TextField(blank=True)
    duration_days = models.PositiveIntegerField(help_text="Length of a plan made from this template, in days.")

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(duration_days__gte=1), name="care_template_duration_pos")]

    def __str__(self) -> str:
        return self.name

    @property
    def total_pence(self) -> int:
        return sum(item.cost_pence for item in self.items.all())


class PathwayTemplateItem(models.Model):
    template = models.ForeignKey(PathwayTemplate, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    category = models.CharField(max_length=30, choices=ItemCategory.choices)
    description = models.CharField(max_length=300)
    offset_days = models.PositiveIntegerField(help_text="Days after the plan's start date.")
    cost_pence = models.BigIntegerField()
    cost_source = models.CharField(max_length=500, blank=True, help_text="The domain fact and source of the cost.")

    class Meta:
        ordering = ["template", "position"]
        constraints = [
            models.UniqueConstraint(fields=["template", "position"], name="care_template_item_position_unique"),
            models.CheckConstraint(condition=Q(cost_pence__gte=0), name="care_template_item_cost_nonneg"),
            models.CheckConstraint(condition=Q(category__in=ItemCategory.values), name="care_template_item_cat_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.template.slug} #{self.position}: {self.description}"


class CarePlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class CarePlan(models.Model):
    child = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="care_plans")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="care_plans")
    template = models.ForeignKey(
        PathwayTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="care_plans"
    )
    title = models.CharField(max_length=200)
    start_date = models.DateField()
    end_date = models.DateField()
    status = models.CharField(max_length=20, choices=CarePlanStatus.choices, default=CarePlanStatus.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start_date", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gt=F("start_date")), name="care_plan_end_after_start"),
            models.CheckConstraint(condition=Q(status__in=CarePlanStatus.values), name="care_plan_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.title} for {self.child}"

    @property
    def total_pence(self) -> int:
        """Cost of the items still in the plan (cancelled items excluded)."""
        return sum(i.cost_pence for i in self.items.all() if i.state != ItemState.CANCELLED)


class ItemState(models.TextChoices):
    PLANNED = "planned", "Planned"
    BOOKED = "booked", "Booked"
    DELIVERED = "delivered", "Delivered"
    INVOICED = "invoiced", "Invoiced"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"


class CarePlanItem(models.Model):
    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(default=0)
    category = models.CharField(max_length=30, choices=ItemCategory.choices)
    description = models.CharField(max_length=300)
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="care_plan_items"
    )
    planned_date = models.DateField()
    cost_pence = models.BigIntegerField()
    state = models.CharField(max_length=20, choices=ItemState.choices, default=ItemState.PLANNED)
    cost_source = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["plan", "planned_date", "position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(cost_pence__gte=0), name="care_plan_item_cost_nonneg"),
            models.CheckConstraint(condition=Q(state__in=ItemState.values), name="care_plan_item_state_valid"),
            models.CheckConstraint(condition=Q(category__in=ItemCategory.values), name="care_plan_item_cat_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.planned_date}, {self.state})"


class SdrAssessment(models.Model):
    """A clinician's SDR assessment of a child on a date: the clinical inputs to the eligibility rules."""

    child = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="sdr_assessments")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="sdr_assessments")
    assessed_on = models.DateField()
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    gmfcs_level = models.PositiveSmallIntegerField()
    spastic_diplegia = models.BooleanField(help_text="Cerebral palsy with spasticity mainly in the legs.")
    spasticity_affects_function = models.BooleanField(help_text="Dynamic lower-limb spasticity affects mobility.")
    dystonia = models.BooleanField()
    mri_typical_pvl = models.BooleanField(help_text="MRI shows typical white-matter damage of prematurity (PVL).")
    mri_basal_ganglia_or_cerebellar_lesion = models.BooleanField()
    genetic_or_progressive_condition = models.BooleanField()
    antigravity_strength = models.BooleanField(help_text="Can maintain antigravity postures (mild-moderate weakness).")
    reimers_index_percent = models.PositiveSmallIntegerField(help_text="Hip migration (Reimers index), 0-100%.")
    significant_scoliosis = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-assessed_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(gmfcs_level__gte=1, gmfcs_level__lte=5), name="care_assessment_gmfcs_1_5"
            ),
            models.CheckConstraint(condition=Q(reimers_index_percent__lte=100), name="care_assessment_reimers_0_100"),
        ]

    def __str__(self) -> str:
        return f"SDR assessment of {self.child} on {self.assessed_on}"
