from django.urls import URLPattern, URLResolver, path

from carefund.web.care import views

app_name = "care"

urlpatterns: list[URLPattern | URLResolver] = [
    path("children/", views.child_list, name="children"),
    path("children/new/", views.child_register, name="child_register"),
    path("children/<int:pk>/", views.child_detail, name="child"),
    path("children/<int:pk>/edit/", views.child_edit, name="child_edit"),
    path("children/<int:pk>/nhs-number/", views.child_reveal_nhs_number, name="child_nhs_number"),
    path("children/<int:pk>/consent/", views.child_set_publicity_consent, name="child_consent"),
    path("children/<int:pk>/data/", views.child_data_export, name="child_data_export"),
    path("children/<int:pk>/erase/", views.child_data_erase, name="child_data_erase"),
    path("children/<int:pk>/plans/new/", views.care_plan_create, name="plan_create"),
    path("care-plans/<int:pk>/", views.care_plan_detail, name="plan"),
    path("care-plans/items/<int:pk>/state/", views.care_plan_item_transition, name="item_transition"),
    path("care-plans/<int:pk>/items/new/", views.care_plan_item_add, name="item_add"),
    path("care-plans/items/<int:pk>/cost/", views.care_plan_item_set_cost, name="item_cost"),
    path("children/<int:pk>/assessments/new/", views.sdr_assessment_record, name="assessment_record"),
    path("assessments/<int:pk>/", views.sdr_assessment_detail, name="assessment"),
]
