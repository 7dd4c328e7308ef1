from django.contrib import admin
from django.urls import include, path

from carefund.api.urls import api

admin.site.site_header = "carefund back office"
admin.site.site_title = "carefund"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("carefund.web.urls")),
]

handler403 = "carefund.web.views.error_403"
handler404 = "carefund.web.views.error_404"
handler500 = "carefund.web.views.error_500"
