from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "carefund.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes registry"

    def ready(self) -> None:
        # a child's enrolments and measurements in subject-access exports and erasure (core.privacy asks)
        from carefund.core import privacy as core_privacy
        from carefund.outcomes import privacy

        core_privacy.child_export.connect(privacy.child_outcomes_export, dispatch_uid="outcomes.privacy.child_export")
        core_privacy.child_erase.connect(privacy.child_outcomes_erase, dispatch_uid="outcomes.privacy.child_erase")
