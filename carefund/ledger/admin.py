"""Read-only back-office views of the ledger: the book is written only by ledger_post."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from carefund.ledger.models import Account, Posting, Transaction


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PostingInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Posting
    fields = ["account", "amount_pence"]
    readonly_fields = ["account", "amount_pence"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["name", "type", "is_restricted", "child_id", "balance_pence", "opened_on", "closed_on"]
    list_filter = ["type", "is_restricted"]
    search_fields = ["name"]


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "on_date", "kind", "memo", "group_id", "reverses"]
    list_filter = ["kind"]
    search_fields = ["memo", "group_id", "idempotency_key"]
    date_hierarchy = "on_date"
    inlines = [PostingInline]
