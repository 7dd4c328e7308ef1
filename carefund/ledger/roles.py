"""What each role may do with the ledger (model permissions). The ledger is written only by ledger_post."""

from __future__ import annotations

from carefund.core.roles import Role

_READ = ["ledger.view_account", "ledger.view_transaction", "ledger.view_posting"]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.FINANCE_OFFICER: list(_READ),
    Role.TRUSTEE: list(_READ),
}
