from django.urls import URLPattern, URLResolver, path

from carefund.web.campaigns import views

app_name = "campaigns"

urlpatterns: list[URLPattern | URLResolver] = [
    path("campaigns/<slug:slug>/", views.campaign_page, name="page"),
    path("campaigns/<slug:slug>/give/", views.give, name="give"),
    path("test-gateway/checkout/<str:session_id>/", views.test_gateway_checkout, name="test_gateway_checkout"),
    path("gifts/<str:token>/thanks/", views.thanks, name="thanks"),
    path("gifts/<str:token>/", views.gift_page, name="gift_page"),
    path("gifts/<str:token>/gift-aid/cancel/", views.gift_aid_cancel, name="gift_aid_cancel"),
    path("staff/campaigns/", views.staff_campaigns, name="staff_list"),
    path("staff/campaigns/<slug:slug>/gifts/", views.staff_gifts, name="staff_gifts"),
    path("staff/campaigns/<slug:slug>/offline/", views.staff_offline, name="staff_offline"),
    path("staff/gifts/<int:pk>/moderate/", views.staff_moderate, name="staff_moderate"),
    path("campaigns/<slug:slug>/updates/new/", views.campaign_update_new, name="update_new"),
    path("campaigns/<slug:slug>/photos/", views.campaign_photos, name="photos"),
    path("campaigns/<slug:slug>/photos/<str:token>.jpg", views.campaign_photo, name="photo"),
    path("staff/campaigns/<slug:slug>/state/", views.staff_transition, name="staff_transition"),
    path("staff/reconciliation/", views.staff_reconciliation, name="staff_reconciliation"),
    path("staff/gifts/<int:pk>/fee/", views.staff_fee_record, name="staff_fee_record"),
    path("staff/payouts/<str:payout_id>/release/", views.staff_payout_release, name="staff_payout_release"),
    path("staff/test-gateway/payout/", views.test_gateway_payout, name="test_gateway_payout"),
]
