from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "carefund.web"
    label = "web"
