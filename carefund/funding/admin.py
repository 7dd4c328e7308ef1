"""Back office for funding: reference data (commissioners, programmes) is editable; everything with money or a
decision in it is read-only here, because it changes only through the services (audited, four eyes)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from carefund.funding.models import (
    Allocation,
    AllocationChange,
    Commissioner,
    FundingRequest,
    Invoice,
    Programme,
    SurplusPolicy,
    SurplusTransfer,
    WaterfallRun,
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Commissioner)
class CommissionerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "slug"]


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "commissioner", "starts_on", "ends_on", "eligibility_policy"]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["programme", "centre", "procedures", "budget_pence"]
    list_filter = ["programme"]


@admin.register(AllocationChange)
class AllocationChangeAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "allocation", "kind", "procedures_delta", "budget_delta_pence", "actor", "reason"]


@admin.register(FundingRequest)
class FundingRequestAdmin(ReadOnlyAdmin):
    list_display = ["pk", "programme", "allocation", "status", "requested_on", "decided_at", "decided_by"]
    list_filter = ["programme", "status"]


@admin.register(WaterfallRun)
class WaterfallRunAdmin(ReadOnlyAdmin):
    list_display = ["computed_at", "care_plan", "reason", "nhs_pence", "unfunded_pence", "surplus_pence"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "provider", "care_plan", "state", "entered_by", "paid_at"]
    list_filter = ["state"]


@admin.register(SurplusPolicy)
class SurplusPolicyAdmin(ReadOnlyAdmin):
    list_display = ["version", "published_at", "contingency_basis_points", "eligibility_policy"]


@admin.register(SurplusTransfer)
class SurplusTransferAdmin(ReadOnlyAdmin):
    list_display = ["pk", "source_child", "state", "proposed_by", "proposed_at", "posted_at"]
