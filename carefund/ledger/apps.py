from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "carefund.ledger"
    label = "ledger"
