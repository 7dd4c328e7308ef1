from django.urls import URLPattern, URLResolver, path

from carefund.web.economics import views

app_name = "economics"

urlpatterns: list[URLPattern | URLResolver] = [
    path("economics/sdr/", views.sdr_case, name="sdr"),
    path("economics/sdr/runs/<str:result_id>/", views.sdr_run, name="sdr_run"),
]
