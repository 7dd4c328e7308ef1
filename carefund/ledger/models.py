"""Accounts, transactions and postings: a double-entry, append-only book in integer pence.

Written only by `carefund.ledger.services.ledger_post`; the database refuses UPDATE and DELETE of posted
transactions and postings and an unbalanced transaction (triggers in migration 0002)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from carefund.ledger.chart import AccountType


class TransactionKind(models.TextChoices):
    DONATION = "donation", "Donation"
    REFUND = "refund", "Refund"
    GIFT_AID = "gift_aid", "Gift Aid"
    INVOICE = "invoice", "Invoice"
    PAYMENT = "payment", "Payment"
    SURPLUS_TRANSFER = "surplus_transfer", "Surplus transfer"
    FEE = "fee", "Fee"
    GRANT = "grant", "Grant"
    ADJUSTMENT = "adjustment", "Adjustment"
    REVERSAL = "reversal", "Reversal"


class Account(models.Model):
    """One account of the chart. `balance_pence` is a maintained balance (beancount sign) kept for speed;
    `carefund ledger check` proves it equals the sum of the account's postings."""

    name = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=12, choices=[(t.value, t.value) for t in AccountType])
    description = models.CharField(max_length=300, blank=True)
    child_id = models.PositiveBigIntegerField(null=True, blank=True, unique=True)
    is_restricted = models.BooleanField(default=False)
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    balance_pence = models.BigIntegerField(default=0)
    # the latest day with a row in AccountDayBalance (lets ledger_post skip a lookup in the common case)
    last_day = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=[t.value for t in AccountType]), name="ledger_account_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(is_restricted=False) | models.Q(child_id__isnull=False),
                name="ledger_account_restricted_has_child",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.closed_on is not None


class AccountDayBalance(models.Model):
    """The closing balance of an account at the end of each day it had postings (beancount sign).

    Maintained by ledger_post so that a balance as of any date is one index lookup, whatever the book's size;
    `ledger check` proves every row equals the sum of postings up to its date."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="day_balances")
    on_date = models.DateField()
    closing_pence = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "on_date"], name="ledger_daybalance_account_date_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.on_date}: {self.closing_pence}"


class Transaction(models.Model):
    """A balanced set of postings. Posted transactions never change: corrections are reversing transactions."""

    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    on_date = models.DateField()
    memo = models.CharField(max_length=300)
    group_id = models.CharField(max_length=100, blank=True, db_index=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    idempotency_key = models.CharField(max_length=200, unique=True)
    content_hash = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict, blank=True)
    is_posted = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["on_date", "id"]
        indexes = [models.Index(fields=["on_date", "id"], name="ledger_txn_date_id")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.on_date} {self.kind}: {self.memo}"

    def metadata_dict(self) -> dict[str, Any]:
        return dict(self.metadata or {})


class Posting(models.Model):
    """One line of a transaction: an amount in pence to one account (debits positive, credits negative)."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount_pence = models.BigIntegerField()

    class Meta:
        ordering = ["transaction_id", "id"]
        constraints = [models.CheckConstraint(condition=~models.Q(amount_pence=0), name="ledger_posting_nonzero")]
        indexes = [models.Index(fields=["account", "transaction"], name="ledger_posting_acct_txn")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_pence}"


class JournalEntryState(models.TextChoices):
    PROPOSED = "proposed", "Proposed (waiting for a second person)"
    POSTED = "posted", "Approved and posted"
    REJECTED = "rejected", "Rejected"


class JournalEntry(models.Model):
    """A correction a finance officer books by hand (a provider's dispute fee not in pounds, an event
    refused after it was accepted): proposed by one person, posted only when a second approves it
    (`ledger.services.journal_entry_approve`). `lines` are [account name, pence] pairs, debits positive; they are
    checked again, and the ledger's own rules apply, when the entry is posted."""

    memo = models.CharField(max_length=300)
    reason = models.TextField()
    on_date = models.DateField()
    lines = models.JSONField()
    state = models.CharField(max_length=10, choices=JournalEntryState.choices, default=JournalEntryState.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    transaction = models.OneToOneField(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="journal_entry"
    )

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        permissions = [("approve_journalentry", "Can approve a journal entry another person proposed")]

    def __str__(self) -> str:
        return f"journal entry #{self.pk}: {self.memo}"
