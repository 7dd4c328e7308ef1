"""The back office for care records: restricted by role (model permissions) and by object-level access
(`core.permissions.restrict_children`), read-only where records must change only through services
(children's identifiers, care-plan items' states and costs, SDR assessments). NHS numbers never appear in full."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from carefund.care.models import (
    CarePlan,
    CarePlanItem,
    Child,
    PathwayTemplate,
    PathwayTemplateItem,
    Provider,
    SdrAssessment,
)
from carefund.core.money import format_pence
from carefund.core.permissions import restrict_children
from carefund.core.services import audit_record


class _NoDeleteAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """No deletions (records are referenced by plans, the ledger and the audit trail); every hand edit in the back
    office is written to the audit trail with the acting user, as well as to the admin's own log."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        audit_record(
            actor=request.user,
            action=f"{obj._meta.model_name}.added_in_back_office",
            target=obj,
            summary=str(obj),
            details={"change": message},
        )
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        audit_record(
            actor=request.user,
            action=f"{obj._meta.model_name}.changed_in_back_office",
            target=obj,
            summary=str(obj)[:300],
            details={"change": message},
        )
        return super().log_change(request, obj, message)


@admin.register(Provider)
class ProviderAdmin(_NoDeleteAdmin):
    list_display = ("name", "kind", "city", "is_sdr_centre", "parent")
    list_filter = ("kind", "is_sdr_centre")
    search_fields = ("name", "city")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("clinicians",)


class PathwayTemplateItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PathwayTemplateItem
    extra = 0
    fields = ("position", "category", "description", "offset_days", "cost_pence", "cost_source")


@admin.register(PathwayTemplate)
class PathwayTemplateAdmin(_NoDeleteAdmin):
    list_display = ("name", "treatment", "duration_days", "total")
    inlines = [PathwayTemplateItemInline]

    @admin.display(description="Total")
    def total(self, obj: PathwayTemplate) -> str:
        return format_pence(obj.total_pence)


class _ChildScopedAdmin(_NoDeleteAdmin):
    child_prefix = ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return restrict_children(super().get_queryset(request), request.user, prefix=self.child_prefix)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Opening a child's record in the back office is an access to health data: audit it, as the pages do."""
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            obj = self.get_object(request, object_id)
            if obj is not None:
                audit_record(
                    actor=request.user,
                    action=f"{obj._meta.model_name}.viewed_in_back_office",
                    target=obj,
                    summary=str(obj)[:300],
                )
        return response


@admin.register(Child)
class ChildAdmin(_ChildScopedAdmin):
    list_display = (
        "full_name",
        "date_of_birth",
        "home_postcode",
        "nhs_number_masked",
        "gmfcs_level",
        "publicity_consent",
    )
    list_filter = ("gmfcs_level", "publicity_consent")
    search_fields = ("first_name", "last_name", "home_postcode")
    # Register children through the caseworker page (validation, encryption, audit); here only consent and
    # guardians may be changed by hand.
    fields = (
        "first_name",
        "last_name",
        "date_of_birth",
        "home_postcode",
        "nhs_number_masked",
        "diagnosis",
        "gmfcs_level",
        "guardians",
        "publicity_consent",
    )
    readonly_fields = (
        "first_name",
        "last_name",
        "date_of_birth",
        "home_postcode",
        "nhs_number_masked",
        "diagnosis",
        "gmfcs_level",
    )
    filter_horizontal = ("guardians",)

    @admin.display(description="NHS number")
    def nhs_number_masked(self, obj: Child) -> str:
        return obj.nhs_number_masked

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class CarePlanItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CarePlanItem
    extra = 0
    fields = ("planned_date", "category", "description", "provider", "cost", "state")
    readonly_fields = fields
    can_delete = False

    @admin.display(description="Cost")
    def cost(self, obj: CarePlanItem) -> str:
        return format_pence(obj.cost_pence)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CarePlan)
class CarePlanAdmin(_ChildScopedAdmin):
    child_prefix = "child__"
    list_display = ("title", "child", "provider", "start_date", "end_date", "status", "total")
    list_filter = ("status", "provider")
    readonly_fields = ("child", "provider", "template", "start_date", "end_date", "created_by", "created_at")
    fields = ("title", "status", *readonly_fields)
    inlines = [CarePlanItemInline]
    list_select_related = ("child", "provider")

    @admin.display(description="Total")
    def total(self, obj: CarePlan) -> str:
        return format_pence(obj.total_pence)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SdrAssessment)
class SdrAssessmentAdmin(_ChildScopedAdmin):
    child_prefix = "child__"
    list_display = ("child", "provider", "assessed_on", "gmfcs_level", "reimers_index_percent", "clinician")
    list_select_related = ("child", "provider", "clinician")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
