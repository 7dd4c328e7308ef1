from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "carefund.care"
    label = "care"
