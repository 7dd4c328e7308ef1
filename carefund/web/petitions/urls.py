from django.urls import URLPattern, URLResolver, include, path

from carefund.web.petitions import staff, views

app_name = "petitions"

# Grouped under their prefixes, so that any other address is turned away by three prefix checks (the site's urls
# match petitions early: signing and confirming are its busiest requests).
public: list[URLPattern | URLResolver] = [
    path("", views.petition_list, name="list"),
    path("new/", views.petition_new, name="new"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("<slug:slug>.json", views.petition_json, name="json"),
    path("<slug:slug>/", views.petition_page, name="page"),
    path("<slug:slug>/count.json", views.petition_count, name="count"),
    path("<slug:slug>/sign/", views.petition_sign, name="sign"),
    path("<slug:slug>/check-your-email/", views.check_email, name="check_email"),
    path("<slug:slug>/signed/", views.signed, name="signed"),
    path("<slug:slug>/widget/", views.widget, name="widget"),
    path("<slug:slug>/sponsor/<str:token>/", views.petition_sponsor, name="sponsor"),
    path("<slug:slug>/creator/<str:token>/", views.creator_page, name="creator"),
    path("<slug:slug>/creator/<str:token>/counts.csv", views.creator_csv, name="creator_csv"),
]
moderation: list[URLPattern | URLResolver] = [
    path("", staff.queue, name="staff_queue"),
    path("invalidate/", staff.invalidate, name="staff_invalidate"),
    path("<slug:slug>/", staff.petition_detail, name="staff_petition"),
    path("<slug:slug>/<str:act>/", staff.petition_act, name="staff_act"),
]
urlpatterns: list[URLPattern | URLResolver] = [
    path("petitions.json", views.petitions_json, name="list_json"),
    path("petitions/", include(public)),
    path("staff/petitions/", include(moderation)),
]
