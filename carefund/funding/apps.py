from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "carefund.funding"
    label = "funding"

    def ready(self) -> None:
        from carefund.campaigns.signals import gift_fund_changed

        gift_fund_changed.connect(_recompute_after_gift, dispatch_uid="funding.recompute_after_gift")
        # a child's fund, grants, invoices and transfers in subject-access exports and erasure (core.privacy asks)
        from carefund.core import privacy as core_privacy
        from carefund.funding import privacy

        core_privacy.child_export.connect(privacy.child_funding_export, dispatch_uid="funding.privacy.child_export")
        core_privacy.child_erase.connect(privacy.child_funding_erase, dispatch_uid="funding.privacy.child_erase")


def _recompute_after_gift(*, child_id: int, change: str, **_: object) -> None:
    """A gift online was confirmed, refunded or disputed: the child's funding waterfall is recomputed after commit."""
    from carefund.funding.tasks import waterfall_recompute_after_commit

    waterfall_recompute_after_commit(child_id=child_id, reason=f"a gift was {change}")
