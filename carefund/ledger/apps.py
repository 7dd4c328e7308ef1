from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "carefund.ledger"
    label = "ledger"

    def ready(self) -> None:
        from carefund.ledger.integrity import book_checks, money_held

        book_checks.connect(money_held, dispatch_uid="ledger.money_held")
