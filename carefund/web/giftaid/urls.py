from django.urls import URLPattern, URLResolver, path

from carefund.web.giftaid import views

app_name = "giftaid"

urlpatterns: list[URLPattern | URLResolver] = [
    path("giftaid/claims/", views.claims, name="claims"),
    path("giftaid/claims/<int:pk>/", views.claim_detail, name="claim"),
    path("giftaid/claims/<int:pk>/export/<str:fmt>/", views.claim_export, name="export"),
    path("giftaid/claims/<int:pk>/submit/", views.claim_submit, name="submit"),
    path("giftaid/claims/<int:pk>/paid/", views.claim_paid, name="paid"),
    path("giftaid/claims/<int:pk>/reject/", views.claim_reject, name="reject"),
]
