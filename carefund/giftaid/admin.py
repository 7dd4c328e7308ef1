"""Gift Aid declarations in the back office: a read-only history for finance officers, with one action, cancel,
which asks for the date and reason and goes through `declaration_cancel` (audited). Nothing is edited or deleted."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from carefund.core import clock
from carefund.core.errors import DomainError
from carefund.giftaid.models import Declaration
from carefund.giftaid.services import CANCELLATION_REASON_MAX_LENGTH, declaration_cancel


class CancelForm(forms.Form):
    on_date = forms.DateField(label="Cancelled from", help_text="Gifts received before this date stay covered.")
    reason = forms.CharField(
        max_length=CANCELLATION_REASON_MAX_LENGTH, help_text="e.g. donor request, no longer a UK taxpayer"
    )


@admin.register(Declaration)
class DeclarationAdmin(admin.ModelAdmin[Declaration]):
    list_display = (
        "id",
        "first_name",
        "last_name",
        "postcode",
        "email",
        "scope",
        "declared_on",
        "cancelled_on",
        "donation",
    )
    list_filter = ("scope", "declared_on", "cancelled_on")
    search_fields = ("first_name", "last_name", "postcode", "email")
    date_hierarchy = "declared_on"
    list_select_related = ("donation",)
    readonly_fields = [f.name for f in Declaration._meta.get_fields() if getattr(f, "concrete", False)]
    actions = ["cancel_declarations"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # declarations are made with a gift, through the giving flow or the offline gift form

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("giftaid.cancel_declaration"))

    @admin.action(description="Cancel selected Gift Aid declarations", permissions=["cancel"])
    def cancel_declarations(self, request: HttpRequest, queryset: QuerySet[Declaration]) -> HttpResponse | None:
        form = CancelForm(request.POST if "apply" in request.POST else None, initial={"on_date": clock.today()})
        if "apply" in request.POST and form.is_valid():
            done = 0
            for declaration in queryset:
                try:
                    declaration_cancel(
                        declaration=declaration,
                        on_date=form.cleaned_data["on_date"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                    )
                    done += 1
                except DomainError as exc:
                    self.message_user(request, f"Declaration {declaration.pk}: {exc.message}", messages.ERROR)
            if done:
                self.message_user(request, f"Cancelled {done} Gift Aid declaration(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel Gift Aid declarations",
            "opts": self.model._meta,
            "declarations": queryset,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/giftaid/declaration/cancel.html", context)
