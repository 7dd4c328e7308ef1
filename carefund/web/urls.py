from django.contrib.auth import views as auth_views
from django.urls import include, path

from carefund.web import views
from carefund.web.campaigns.views import stripe_webhook

urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.start, name="start"),
    path("health/", views.health, name="health"),
    # the payment provider's endpoint, the busiest POST, is matched before the pages' dozens of patterns below
    path("webhooks/stripe/", stripe_webhook, name="stripe_webhook"),
    # petitions' signing and confirming come next in a viral hour; their patterns sit behind three prefixes
    path("", include("carefund.web.petitions.urls")),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("carefund.web.care.urls")),
    path("", include("carefund.web.campaigns.urls")),
    path("", include("carefund.web.funding.urls")),
    path("", include("carefund.web.ledger.urls")),
    path("", include("carefund.web.giftaid.urls")),
    path("", include("carefund.web.economics.urls")),
    path("", include("carefund.web.outcomes.urls")),
]
