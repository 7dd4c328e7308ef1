from django.apps import AppConfig


class GiftaidConfig(AppConfig):
    name = "carefund.giftaid"
    label = "giftaid"

    def ready(self) -> None:
        from carefund.campaigns.signals import donation_reversed
        from carefund.campaigns.tasks import receipt_lines
        from carefund.giftaid.claims import repay_on_reversal
        from carefund.giftaid.receipt import receipt_gift_aid_lines

        # a gift's receipt names the declaration that covers it (campaigns asks; it never imports giftaid)
        receipt_lines.connect(receipt_gift_aid_lines, dispatch_uid="giftaid.receipt")
        # a refund or dispute of a gift already claimed gives its Gift Aid back to HMRC (campaigns sends, inside the
        # reversal's transaction; it never imports giftaid)
        donation_reversed.connect(repay_on_reversal, dispatch_uid="giftaid.repay_on_reversal")
        # subject-access exports, erasure and the retention schedule (core.privacy asks; it never imports giftaid)
        from carefund.core import privacy as core_privacy
        from carefund.giftaid import privacy

        core_privacy.subject_export.connect(privacy.declarations_export, dispatch_uid="giftaid.privacy.export")
        core_privacy.subject_erase.connect(privacy.declarations_erase, dispatch_uid="giftaid.privacy.erase")
        core_privacy.retention_due.connect(privacy.retention_receiver, dispatch_uid="giftaid.privacy.retention")
