from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "carefund.funding"
    label = "funding"
