from django.apps import AppConfig


class PetitionsConfig(AppConfig):
    name = "carefund.petitions"
    label = "petitions"

    def ready(self) -> None:
        # signers and creators in subject-access exports and erasure by email, and petitions about a child's campaign
        # (core.privacy asks); their retention runs in `carefund daily`'s petitions job
        from carefund.core import privacy as core_privacy
        from carefund.petitions import privacy

        core_privacy.subject_export.connect(privacy.signer_export, dispatch_uid="petitions.privacy.export")
        core_privacy.subject_erase.connect(privacy.signer_erase, dispatch_uid="petitions.privacy.erase")
        core_privacy.child_export.connect(privacy.child_petitions_export, dispatch_uid="petitions.privacy.child_export")
        core_privacy.child_erase.connect(privacy.child_petitions_erase, dispatch_uid="petitions.privacy.child_erase")
