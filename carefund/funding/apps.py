from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "carefund.funding"
    label = "funding"

    def ready(self) -> None:
        from carefund.campaigns.signals import gift_fund_changed

        gift_fund_changed.connect(_recompute_after_gift, dispatch_uid="funding.recompute_after_gift")


def _recompute_after_gift(*, child_id: int, change: str, **_: object) -> None:
    """A gift online was confirmed, refunded or disputed: the child's funding waterfall is recomputed after commit."""
    from carefund.funding.tasks import waterfall_recompute_after_commit

    waterfall_recompute_after_commit(child_id=child_id, reason=f"a gift was {change}")
