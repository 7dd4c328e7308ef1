from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "carefund.api"
    label = "api"
