"""Signals campaigns sends so that higher apps can act on a gift without campaigns importing them
(docs/architecture.md, "Dependency rules")."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that posts a refund (full or partial) or a dispute of a confirmed gift, after the
# ledger posting, with `donation=` (the gift, as updated), `reversed_pence=` (what this call took back, in pence:
# the whole remaining gift for a full refund or a dispute, the new part for a partial refund), `kind=`
# ("refund", "partial_refund" or "dispute") and `actor=`. Receivers run in the same transaction: if one raises,
# nothing of the reversal is written. giftaid connects to it to post the Gift Aid to repay on a claimed gift.
donation_reversed = Signal()

# Sent inside the transaction that confirms, refunds (in part or whole), disputes or reinstates an online gift, with
# `child_id=` (whose restricted fund moved) and `change=` (in words: "confirmed online", "refunded", ...). funding
# connects to it to have the child's funding waterfall recomputed once the change commits.
gift_fund_changed = Signal()
