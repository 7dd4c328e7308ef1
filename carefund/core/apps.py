from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "carefund.core"
    label = "core"
    verbose_name = "Core: audit and roles"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from carefund.core import checks  # noqa: F401  (registers the system checks)
        from carefund.core.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="carefund-core-roles")
