"""What each role may do with campaigns and gifts (object-level rules live in the selectors and services)."""

from carefund.core.roles import Role

_STAFF_READ = ["campaigns.view_campaign", "campaigns.view_gifts"]

ROLE_PERMISSIONS = {
    Role.CASEWORKER: [
        *_STAFF_READ,
        "campaigns.add_campaign",
        "campaigns.change_campaign",
        "campaigns.moderate_message",
        "campaigns.record_offline_gift",
    ],
    Role.FINANCE_OFFICER: [*_STAFF_READ, "campaigns.record_offline_gift", "campaigns.record_fee"],
    Role.TRUSTEE: [*_STAFF_READ, "campaigns.moderate_message"],
}
