from django.apps import AppConfig


class EconomicsConfig(AppConfig):
    """Django wiring for the cost-effectiveness engine (command, tasks). The engine modules import no Django."""

    name = "carefund.economics"
    label = "economics"
