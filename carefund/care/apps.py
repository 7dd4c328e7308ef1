from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "carefund.care"
    label = "care"

    def ready(self) -> None:
        # a child's own record in subject-access exports and erasure (core.privacy asks), and children's names in the
        # audit log, found when it is read (core.people)
        from carefund.care import privacy
        from carefund.core import people
        from carefund.core import privacy as core_privacy

        core_privacy.child_export.connect(privacy.care_export, dispatch_uid="care.privacy.child_export")
        core_privacy.child_erase.connect(privacy.care_erase, dispatch_uid="care.privacy.child_erase")
        people.register_person_names("child", privacy.child_names)
