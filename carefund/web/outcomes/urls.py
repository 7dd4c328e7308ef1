from django.urls import URLPattern, URLResolver, path

from carefund.web.outcomes import views

app_name = "outcomes"

urlpatterns: list[URLPattern | URLResolver] = [
    path("outcomes/children/<int:pk>/", views.child_outcomes, name="child"),
    path("outcomes/children/<int:pk>/consent/", views.consent, name="consent"),
    path("outcomes/children/<int:pk>/enrol/", views.enrol, name="enrol"),
    path("outcomes/children/<int:pk>/record/", views.record, name="record"),
    path("outcomes/children/<int:pk>/adverse-events/new/", views.adverse_event, name="adverse_event"),
    path("outcomes/measurements/<int:pk>/correct/", views.correct, name="correct"),
    path("outcomes/follow-up/", views.follow_up_index, name="follow_up_index"),
    path("outcomes/follow-up/<int:centre_pk>/", views.follow_up, name="follow_up"),
    path("outcomes/evaluation/", views.evaluation, name="evaluation"),
]
