from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "carefund.campaigns"
    label = "campaigns"

    def ready(self) -> None:
        from carefund.campaigns import integrity
        from carefund.ledger.integrity import book_checks

        # `carefund ledger check` reconciles the gifts against the book without the ledger importing campaigns
        book_checks.connect(integrity.gifts_reconcile, dispatch_uid="campaigns.gifts_reconcile")
        book_checks.connect(integrity.accounts_belong, dispatch_uid="campaigns.accounts_belong")
