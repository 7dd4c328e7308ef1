"""What each role may do with care records (model permissions). Whose records: `core.permissions`.

Least privilege for health data: the health economist sees no child; only clinicians, caseworkers and trustees
may reveal a full NHS number (every reveal is audited)."""

from __future__ import annotations

from carefund.core.roles import Role

_READ = ["care.view_child", "care.view_careplan", "care.view_careplanitem", "care.view_provider"]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.GUARDIAN: [*_READ, "care.view_sdrassessment", "care.export_child_data"],
    Role.CASEWORKER: [
        *_READ,
        "care.add_child",
        "care.change_child",
        "care.view_nhs_number",
        "care.export_child_data",
        "care.add_careplan",
        "care.change_careplan",
        "care.add_careplanitem",
        "care.change_careplanitem",
        "care.view_pathwaytemplate",
        "care.view_sdrassessment",
    ],
    Role.FINANCE_OFFICER: [*_READ, "care.change_careplanitem"],
    Role.CLINICIAN: [
        *_READ,
        "care.view_nhs_number",
        "care.change_careplanitem",
        "care.add_sdrassessment",
        "care.view_sdrassessment",
    ],
    Role.COMMISSIONER: [*_READ, "care.view_sdrassessment", "care.view_pathwaytemplate"],
    Role.HEALTH_ECONOMIST: ["care.view_pathwaytemplate", "care.view_pathwaytemplateitem", "care.view_provider"],
    Role.TRUSTEE: [
        *_READ,
        "care.view_nhs_number",
        "care.change_child",
        "care.add_provider",
        "care.change_provider",
        "care.view_pathwaytemplate",
        "care.view_pathwaytemplateitem",
        "care.add_pathwaytemplate",
        "care.change_pathwaytemplate",
        "care.add_pathwaytemplateitem",
        "care.change_pathwaytemplateitem",
        "care.view_sdrassessment",
    ],
}
