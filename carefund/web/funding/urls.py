from django.urls import URLPattern, URLResolver, path

from carefund.web.funding import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("children/<int:child_id>/funding/", views.child_funding, name="funding-child"),
    path("children/<int:child_id>/funding/request/", views.request_create, name="funding-request-create"),
    path("children/<int:child_id>/funding/invoices/", views.invoice_enter, name="funding-invoice-enter"),
    path("children/<int:child_id>/funding/recompute/", views.recompute, name="funding-recompute"),
    path("children/<int:child_id>/funding/grants/", views.grant_approve, name="funding-grant-approve"),
    path("funding/requests/<int:pk>/decide/", views.request_decide, name="funding-request-decide"),
    path("funding/requests/<int:pk>/wait/", views.request_wait, name="funding-request-wait"),
    path("funding/programmes/", views.programme_list, name="funding-programmes"),
    path("funding/programmes/<int:pk>/", views.programme_detail, name="funding-programme"),
    path("funding/allocations/<int:pk>/change/", views.allocation_change, name="funding-allocation-change"),
    path("funding/invoices/<int:pk>/approve/", views.invoice_approve, name="funding-invoice-approve"),
    path("funding/invoices/<int:pk>/pay/", views.invoice_pay, name="funding-invoice-pay"),
    path("funding/surplus/", views.surplus_preview, name="funding-surplus"),
    path("funding/surplus/propose/", views.surplus_propose, name="funding-surplus-propose"),
    path("funding/surplus/transfers/<int:pk>/approve/", views.surplus_approve, name="funding-surplus-approve"),
]
