from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "carefund.campaigns"
    label = "campaigns"
