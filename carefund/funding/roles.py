"""What each role may do in funding (model permissions). Whose records: `core.permissions.restrict_children`.

Four eyes is enforced in the services (an approver is never the person who entered or proposed)."""

from __future__ import annotations

from carefund.core.roles import Role

_READ = [
    "funding.view_programme",
    "funding.view_allocation",
    "funding.view_fundingrequest",
    "funding.view_waterfallrun",
    "funding.view_invoice",
    "funding.view_surplustransfer",
    "funding.view_surpluspolicy",
]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    # A guardian sees their own child's funding page (object-level access is checked by the selectors).
    Role.GUARDIAN: ["funding.view_waterfallrun", "funding.view_surpluspolicy"],
    Role.CASEWORKER: [
        *_READ,
        "funding.add_fundingrequest",
        "funding.add_surplustransfer",
        "funding.add_invoice",
        "funding.add_waterfallrun",
    ],
    Role.FINANCE_OFFICER: [
        *_READ,
        "funding.add_waterfallrun",
        "funding.add_invoice",
        "funding.approve_invoice",
        "funding.pay_invoice",
        "funding.approve_surplustransfer",
    ],
    Role.COMMISSIONER: [*_READ, "funding.manage_allocation", "funding.decide_fundingrequest"],
    Role.TRUSTEE: [
        *_READ,
        "funding.approve_surplustransfer",
        "funding.add_surpluspolicy",
        "funding.manage_allocation",
        "funding.approve_grant",
    ],
}
