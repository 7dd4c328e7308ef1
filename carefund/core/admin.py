"""Audit events in the back office: read-only for everyone (the database refuses changes anyway). Summaries refer to
people by id and are shown with their names as they are now (core.people)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest

from carefund.core.models import AuditEvent
from carefund.core.people import render_summaries, render_summary


class _RenderedChangeList(ChangeList):
    """The page of events with their summaries rendered together (one lookup per kind of person, not one per row)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        for event, text in zip(self.result_list, render_summaries(e.summary for e in self.result_list), strict=True):
            event.rendered_summary = text


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ("occurred_at", "actor", "action", "target_type", "target_id", "summary_text")
    list_filter = ("action", "target_type")
    search_fields = ("action", "summary", "target_id", "actor__username")
    date_hierarchy = "occurred_at"
    list_select_related = ("actor",)
    readonly_fields = ("occurred_at", "actor", "action", "target_type", "target_id", "summary_text", "details")
    fields = readonly_fields

    @admin.display(description="summary")
    def summary_text(self, obj: AuditEvent) -> str:
        """The summary with each person it refers to named as they are now ("erased child #12" once erased)."""
        rendered = getattr(obj, "rendered_summary", None)
        return rendered if rendered is not None else render_summary(obj.summary)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _RenderedChangeList

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
