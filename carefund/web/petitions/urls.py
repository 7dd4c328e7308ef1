from django.urls import URLPattern, URLResolver, path

from carefund.web.petitions import staff, views

app_name = "petitions"

urlpatterns: list[URLPattern | URLResolver] = [
    path("petitions.json", views.petitions_json, name="list_json"),
    path("petitions/", views.petition_list, name="list"),
    path("petitions/new/", views.petition_new, name="new"),
    path("petitions/confirm/<str:token>/", views.confirm, name="confirm"),
    path("petitions/<slug:slug>.json", views.petition_json, name="json"),
    path("petitions/<slug:slug>/", views.petition_page, name="page"),
    path("petitions/<slug:slug>/count.json", views.petition_count, name="count"),
    path("petitions/<slug:slug>/sign/", views.petition_sign, name="sign"),
    path("petitions/<slug:slug>/check-your-email/", views.check_email, name="check_email"),
    path("petitions/<slug:slug>/signed/", views.signed, name="signed"),
    path("petitions/<slug:slug>/widget/", views.widget, name="widget"),
    path("petitions/<slug:slug>/sponsor/<str:token>/", views.petition_sponsor, name="sponsor"),
    path("petitions/<slug:slug>/creator/<str:token>/", views.creator_page, name="creator"),
    path("petitions/<slug:slug>/creator/<str:token>/counts.csv", views.creator_csv, name="creator_csv"),
    path("staff/petitions/", staff.queue, name="staff_queue"),
    path("staff/petitions/invalidate/", staff.invalidate, name="staff_invalidate"),
    path("staff/petitions/<slug:slug>/", staff.petition_detail, name="staff_petition"),
    path("staff/petitions/<slug:slug>/<str:act>/", staff.petition_act, name="staff_act"),
]
