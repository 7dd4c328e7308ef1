"""Funding: commissioners, NHS programmes and their allocations per centre, funding requests and the waiting list,
waterfall runs (every computation kept), invoices and payments, the surplus policy and surplus transfers.

Ledger transactions are referred to by id (`*_transaction_id`), not by foreign key: the ledger is append-only
and owned by the ledger app; the ids let the pages link a payment to its postings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Commissioner(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    source = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Programme(models.Model):
    """An NHS funding programme. What it covers: `covers_categories` in full, and `capped_category` items up to
    a fixed amount per child that depends on the child's GMFCS level (`capped_amounts_by_gmfcs`, pence)."""

    commissioner = models.ForeignKey(Commissioner, on_delete=models.PROTECT, related_name="programmes")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    eligibility_policy = models.CharField(max_length=30, help_text="Key into care.rules.POLICIES, e.g. cte-2014.")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    covers_categories = models.JSONField(default=list)
    capped_category = models.CharField(max_length=30, blank=True)
    capped_amounts_by_gmfcs = models.JSONField(default=dict, blank=True)
    capped_amounts_are_assumptions = models.BooleanField(default=False)
    children_per_year = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["starts_on", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gt=models.F("starts_on")), name="programme_ends_after"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Allocation(models.Model):
    """What a programme gives one centre: a number of funded procedures, a budget, or both."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="allocations")
    centre = models.ForeignKey("care.Provider", on_delete=models.PROTECT, related_name="allocations")
    procedures = models.PositiveIntegerField(null=True, blank=True)
    budget_pence = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["programme", "centre__name"]
        permissions = [("manage_allocation", "Can add, cut or move allocation")]
        constraints = [
            models.UniqueConstraint(fields=["programme", "centre"], name="allocation_one_per_centre"),
            models.CheckConstraint(
                condition=Q(budget_pence__isnull=True) | Q(budget_pence__gte=0), name="allocation_budget_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(procedures__isnull=False) | Q(budget_pence__isnull=False), name="allocation_has_a_limit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme} at {self.centre}"


class AllocationChange(models.Model):
    class Kind(models.TextChoices):
        SET = "set", "Set"
        ADD = "add", "Add"
        CUT = "cut", "Cut"
        MOVE_OUT = "move_out", "Moved out"
        MOVE_IN = "move_in", "Moved in"

    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    procedures_delta = models.IntegerField(default=0)
    budget_delta_pence = models.BigIntegerField(default=0)
    other = models.ForeignKey(Allocation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.procedures_delta:+d} procedures on allocation {self.allocation_id}"


class FundingRequest(models.Model):
    """A caseworker asks a programme to fund a child's plan at a centre."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        WAITING = "waiting", "On the waiting list"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    LIVE = (Status.PENDING, Status.WAITING, Status.APPROVED)

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="requests")
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="requests")
    care_plan = models.ForeignKey("care.CarePlan", on_delete=models.PROTECT, related_name="funding_requests")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_on = models.DateField()
    cost_pence = models.BigIntegerField(help_text="What the programme pays for this plan (taken from the budget).")
    eligible = models.BooleanField()
    eligibility = models.JSONField(default=list, help_text="The criteria with met/reason at the time of the request.")
    ages_out_on = models.DateField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_on", "-pk"]
        permissions = [("decide_fundingrequest", "Can decide NHS funding requests")]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "care_plan"],
                condition=Q(status__in=["pending", "waiting", "approved"]),
                name="funding_request_one_live_per_plan",
            ),
            models.CheckConstraint(condition=Q(cost_pence__gte=0), name="funding_request_cost_nonneg"),
        ]

    def __str__(self) -> str:
        return f"Request #{self.pk} to {self.programme} ({self.status})"


class WaterfallRun(models.Model):
    """One computation of the funding waterfall for a plan, kept so a family can see why the numbers moved."""

    care_plan = models.ForeignKey("care.CarePlan", on_delete=models.PROTECT, related_name="waterfall_runs")
    computed_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    inputs = models.JSONField()
    lines = models.JSONField()
    fund_balance_pence = models.BigIntegerField()
    plan_cost_pence = models.BigIntegerField()
    nhs_pence = models.BigIntegerField()
    spent_pence = models.BigIntegerField()
    committed_pence = models.BigIntegerField()
    funded_pence = models.BigIntegerField()
    unfunded_pence = models.BigIntegerField()
    charity_share_pence = models.BigIntegerField()
    contingency_pence = models.BigIntegerField()
    surplus_pence = models.BigIntegerField()

    class Meta:
        ordering = ["-computed_at", "-pk"]

    def __str__(self) -> str:
        return f"Waterfall of plan {self.care_plan_id} at {self.computed_at:%Y-%m-%d}: {self.reason}"


class Invoice(models.Model):
    class State(models.TextChoices):
        ENTERED = "entered", "Entered"
        APPROVED = "approved", "Approved"
        PAID = "paid", "Paid"

    provider = models.ForeignKey("care.Provider", on_delete=models.PROTECT, related_name="invoices")
    care_plan = models.ForeignKey("care.CarePlan", on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=60)
    issued_on = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.ENTERED)
    approvals_required = models.PositiveSmallIntegerField(default=1)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invoice_transaction_id = models.BigIntegerField(null=True, blank=True)
    payment_transaction_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_on", "-pk"]
        permissions = [("approve_invoice", "Can approve invoices"), ("pay_invoice", "Can pay approved invoices")]
        constraints = [models.UniqueConstraint(fields=["provider", "number"], name="invoice_number_per_provider")]

    def __str__(self) -> str:
        return f"Invoice {self.number} from {self.provider}"

    @property
    def amount_pence(self) -> int:
        return sum(line.amount_pence for line in self.lines.all())


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    item = models.ForeignKey("care.CarePlanItem", on_delete=models.PROTECT, related_name="invoice_lines")
    amount_pence = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount_pence__gt=0), name="invoice_line_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount_pence}p for item {self.item_id}"


class InvoiceApproval(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invoice", "approver"], name="invoice_approval_once_per_person")]

    def __str__(self) -> str:
        return f"approval of invoice {self.invoice_id} by user {self.approver_id}"


class Grant(models.Model):
    """An approved grant from the charity's general funds for one child: the third tier of the waterfall. It stays
    in general funds until a payment needs it; then the part drawn is posted (kind `grant`) into the child's fund."""

    child = models.ForeignKey("care.Child", on_delete=models.PROTECT, related_name="grants")
    amount_pence = models.BigIntegerField()
    drawn_pence = models.BigIntegerField(default=0)
    reason = models.CharField(max_length=300)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField()

    class Meta:
        ordering = ["approved_at", "pk"]
        permissions = [("approve_grant", "Can approve grants from general funds")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_pence__gt=0), name="grant_amount_positive"),
            models.CheckConstraint(
                condition=Q(drawn_pence__gte=0) & Q(drawn_pence__lte=models.F("amount_pence")),
                name="grant_drawn_le_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"Grant #{self.pk} of {self.amount_pence}p for child {self.child_id}"


class SurplusPolicy(models.Model):
    """The published surplus statement (sources.md: Code of Fundraising Practice 2.7.5). Versions are kept."""

    version = models.PositiveIntegerField(unique=True)
    wording = models.TextField()
    contingency_basis_points = models.PositiveIntegerField(help_text="Contingency held back, in hundredths of a %.")
    eligibility_policy = models.CharField(
        max_length=30, default="nhse-2018", help_text="Key into care.rules.POLICIES: who may receive a surplus."
    )
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "surplus policies"

    def __str__(self) -> str:
        return f"Surplus policy v{self.version}"


class SurplusTransfer(models.Model):
    class State(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        POSTED = "posted", "Approved and posted"

    source_child = models.ForeignKey("care.Child", on_delete=models.PROTECT, related_name="surplus_transfers_out")
    policy = models.ForeignKey(SurplusPolicy, on_delete=models.PROTECT, related_name="transfers")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField()
    source_balance_pence = models.BigIntegerField()
    source_surplus_pence = models.BigIntegerField()
    ranking = models.JSONField(help_text="The urgency ranking with its reasons at the moment of the proposal.")
    reason = models.TextField()
    ledger_transaction_id = models.BigIntegerField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        permissions = [("approve_surplustransfer", "Can approve surplus transfers")]

    def __str__(self) -> str:
        return f"Surplus transfer #{self.pk} from child {self.source_child_id} ({self.state})"

    @property
    def amount_pence(self) -> int:
        return sum(line.amount_pence for line in self.lines.all())


class SurplusTransferLine(models.Model):
    transfer = models.ForeignKey(SurplusTransfer, on_delete=models.PROTECT, related_name="lines")
    recipient = models.ForeignKey("care.Child", on_delete=models.PROTECT, related_name="surplus_transfers_in")
    amount_pence = models.BigIntegerField()
    rank = models.PositiveIntegerField()
    reasons = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_pence__gt=0), name="surplus_line_amount_positive"),
            models.UniqueConstraint(fields=["transfer", "recipient"], name="surplus_line_one_per_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.amount_pence}p to child {self.recipient_id}"


class SurplusTransferApproval(models.Model):
    transfer = models.ForeignKey(SurplusTransfer, on_delete=models.PROTECT, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transfer", "approver"], name="surplus_approval_once_per_person")
        ]

    def __str__(self) -> str:
        return f"approval of transfer {self.transfer_id} by user {self.approver_id}"
