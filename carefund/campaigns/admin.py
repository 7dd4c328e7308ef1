from django.contrib import admin

from carefund.campaigns.models import Campaign, CampaignUpdate, Donation, OfflineBatch, WebhookEvent


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "slug", "state", "target_pence", "nhs_covers_pence", "media_partner"]
    list_filter = ["state"]
    readonly_fields = ["state", "target_pence", "nhs_covers_pence", "target_explanation", "created_at", "published_at"]


@admin.register(Donation)
class DonationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: gifts change only through the services (and the ledger)."""

    list_display = ["pk", "campaign", "amount_pence", "status", "kind", "gateway", "received_on"]
    list_filter = ["status", "kind", "gateway"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


admin.site.register(CampaignUpdate)
admin.site.register(OfflineBatch)
admin.site.register(WebhookEvent)
