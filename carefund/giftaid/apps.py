from django.apps import AppConfig


class GiftaidConfig(AppConfig):
    name = "carefund.giftaid"
    label = "giftaid"

    def ready(self) -> None:
        from carefund.campaigns.tasks import receipt_lines
        from carefund.giftaid.receipt import receipt_gift_aid_lines

        # a gift's receipt names the declaration that covers it (campaigns asks; it never imports giftaid)
        receipt_lines.connect(receipt_gift_aid_lines, dispatch_uid="giftaid.receipt")
