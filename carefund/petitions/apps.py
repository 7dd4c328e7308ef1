from django.apps import AppConfig


class PetitionsConfig(AppConfig):
    name = "carefund.petitions"
    label = "petitions"
