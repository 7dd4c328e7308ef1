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
        # the donor's gifts in subject-access exports and erasure (core.privacy asks)
        from carefund.campaigns import privacy
        from carefund.core import privacy as core_privacy

        core_privacy.subject_export.connect(privacy.donor_gifts_export, dispatch_uid="campaigns.privacy.export")
        core_privacy.subject_erase.connect(privacy.donor_gifts_erase, dispatch_uid="campaigns.privacy.erase")
        core_privacy.child_export.connect(privacy.child_campaigns_export, dispatch_uid="campaigns.privacy.child_export")
        core_privacy.child_erase.connect(privacy.child_campaigns_erase, dispatch_uid="campaigns.privacy.child_erase")
