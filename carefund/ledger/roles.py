"""What each role may do with the ledger (model permissions). The ledger is written only by ledger_post; a journal
entry (a correction by hand) is proposed by one person and posted when a second approves it."""

from __future__ import annotations

from carefund.core.roles import Role

_READ = ["ledger.view_account", "ledger.view_transaction", "ledger.view_posting"]

_JOURNAL_READ = ["ledger.view_journalentry"]
_JOURNAL_APPROVE = ["ledger.approve_journalentry"]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    # a finance officer proposes corrections (journal entries); another finance officer or a trustee approves them
    Role.FINANCE_OFFICER: [*_READ, *_JOURNAL_READ, "ledger.add_journalentry", *_JOURNAL_APPROVE],
    Role.TRUSTEE: [*_READ, *_JOURNAL_READ, *_JOURNAL_APPROVE],
}
