"""What each role may do with Gift Aid declarations (model permissions). Declarations are personal data, so only
the roles that need them get them: finance officers and trustees read and cancel them (cancelling through
`giftaid.services.declaration_cancel`); caseworkers, who record offline gifts with their declarations, may read and
add them. Nobody edits or deletes one: the history is kept."""

from __future__ import annotations

from carefund.core.roles import Role

# Claims: a finance officer or trustee makes one, and another confirms its filing and records HMRC's answer (four
# eyes, checked by `giftaid.claims`).
CLAIM_PERMISSIONS = [
    "giftaid.view_claim",
    "giftaid.add_claim",
    "giftaid.submit_claim",
    "giftaid.record_claim_outcome",
]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.FINANCE_OFFICER: ["giftaid.view_declaration", "giftaid.cancel_declaration", *CLAIM_PERMISSIONS],
    Role.TRUSTEE: ["giftaid.view_declaration", "giftaid.cancel_declaration", *CLAIM_PERMISSIONS],
    Role.CASEWORKER: ["giftaid.view_declaration", "giftaid.add_declaration"],
}
