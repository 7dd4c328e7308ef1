from django.apps import AppConfig


class GiftaidConfig(AppConfig):
    name = "carefund.giftaid"
    label = "giftaid"
