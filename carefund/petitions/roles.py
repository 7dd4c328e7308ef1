"""What each role may do with petitions. Moderators moderate; trustees have every moderator permission; caseworkers
record paper signatures (superusers, the admins, have every permission)."""

from carefund.core.roles import Role

MODERATOR_PERMISSIONS = [
    "petitions.moderate_petition",
    "petitions.invalidate_signatures",
    "petitions.record_paper_signatures",
    "petitions.view_petition",
]

ROLE_PERMISSIONS = {
    Role.MODERATOR: MODERATOR_PERMISSIONS,
    Role.TRUSTEE: MODERATOR_PERMISSIONS,
    Role.CASEWORKER: ["petitions.record_paper_signatures", "petitions.view_petition"],
}
