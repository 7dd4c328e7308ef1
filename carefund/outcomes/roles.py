"""What each role may do with the outcomes registry. Whose records: `core.permissions` (a guardian their own
children, a clinician the children treated where they work).

Least privilege for health data: commissioners and health economists read the evaluation (aggregates, small cells
suppressed) and never a child's measurements; caseworkers record a guardian's consent given on paper."""

from __future__ import annotations

from carefund.core.roles import Role

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.GUARDIAN: [
        "outcomes.view_enrolment",
        "outcomes.view_observation",
        "outcomes.view_measure",
        "outcomes.record_consent",
    ],
    Role.CLINICIAN: [
        "outcomes.view_measure",
        "outcomes.view_enrolment",
        "outcomes.add_enrolment",
        "outcomes.view_observation",
        "outcomes.add_observation",
        "outcomes.view_adverseevent",
        "outcomes.add_adverseevent",
        "outcomes.record_consent",
        "outcomes.view_follow_up",
    ],
    Role.CASEWORKER: ["outcomes.view_enrolment", "outcomes.record_consent"],
    Role.COMMISSIONER: [
        "outcomes.view_measure",
        "outcomes.view_evaluation",
        "outcomes.change_evaluationprogramme",
    ],
    Role.HEALTH_ECONOMIST: ["outcomes.view_measure", "outcomes.view_evaluation"],
    Role.TRUSTEE: [
        "outcomes.view_measure",
        "outcomes.add_measure",
        "outcomes.view_evaluation",
        "outcomes.view_follow_up",
        "outcomes.change_evaluationprogramme",
        "outcomes.view_enrolment",
        "outcomes.view_observation",
        "outcomes.view_adverseevent",
    ],
}
