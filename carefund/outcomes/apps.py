from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "carefund.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes registry"
