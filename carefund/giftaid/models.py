"""Gift Aid declarations: a dated record per donor, never a flag on a gift (fundraising.md §3, CiviCRM UK Gift Aid).

Which gifts a declaration covers (`rules.declaration_covers`; the same rule in SQL in
`selectors.gift_aid_due_for_campaign`):

- the gift it was made with (`donation`), always, whatever the scope;
- for the "this and future" and "past four years and future" scopes, a donor's other gifts, but only those that
  are the declaring donor's own (HMRC: the declaration must be the donor's, giftaid.md 1.2). An email alone is not
  enough, since a couple or a family may give from one address: the gift's donor email must match `donor_key` (the
  email of the declaration's gift, trimmed and lower-cased, `donor_key_for`) AND the donor name on the gift must end
  with the declaration's `last_name` as whole words, case- and space-insensitive (`rules.name_matches_last_name`).
  "Ann Smith" or "A SMITH" with the same email is covered by Ann Smith's declaration; "Bob Jones" with that email
  is not, nor is a gift with no name. Anonymous gifts are judged by the name stored on them like any other;
- and then only when the dates say so: `covers_from <= received_on < cancelled_on` (cancellation is not
  retrospective).

When the rule is in doubt the gift is not covered: Gift Aid claimed wrongly must be repaid to HMRC. A gift without
an email (an anonymous cash gift) is only ever covered by a declaration made with that very gift.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from carefund.campaigns.models import Donation
from carefund.giftaid.rules import HOUSE_MAX_LENGTH, NAME_MAX_LENGTH, SCOPE_LABELS, Scope, email_key


def donor_key_for(email: str) -> str:
    """The email key on a declaration: the email, trimmed and lower-cased (`rules.email_key`). With the last name
    it links the donor's other gifts (see the module docstring)."""
    return email_key(email)


class Declaration(models.Model):
    title = models.CharField(max_length=4, blank=True)
    first_name = models.CharField(max_length=NAME_MAX_LENGTH)
    last_name = models.CharField(max_length=NAME_MAX_LENGTH)
    house_name_or_number = models.CharField(max_length=HOUSE_MAX_LENGTH)
    address = models.CharField(max_length=300)
    postcode = models.CharField(max_length=8)
    email = models.EmailField(blank=True)
    donor_key = models.CharField(max_length=254, blank=True, db_index=True, editable=False)
    scope = models.CharField(max_length=32, choices=[(s.value, SCOPE_LABELS[s]) for s in Scope])
    declared_on = models.DateField()
    # The first date of another gift by the same donor that this declaration covers (declared_on, or four years
    # earlier for the past-four-years scope); null for "this gift only". Worked out once by
    # `rules.earliest_covered_date` when recorded, so a campaign's Gift Aid can be summed in one query.
    covers_from = models.DateField(null=True, blank=True, editable=False)
    donation = models.OneToOneField(Donation, on_delete=models.PROTECT, related_name="gift_aid_declaration")
    # The declaration as the donor made it: HMRC's model wording for the scope, with the charity and the gift's
    # amount filled in (kept so the charity can show HMRC what each donor agreed to; giftaid.md 1.2).
    wording = models.TextField(editable=False, default="")
    cancelled_on = models.DateField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=200, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-declared_on", "-id"]
        permissions = [("cancel_declaration", "Can cancel a Gift Aid declaration")]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=[s.value for s in Scope]), name="giftaid_declaration_scope_known"
            ),
            models.CheckConstraint(
                condition=~Q(first_name="") & ~Q(last_name="") & ~Q(house_name_or_number="") & ~Q(postcode=""),
                name="giftaid_declaration_donor_identified",
            ),
            models.CheckConstraint(
                condition=~Q(address=""),
                name="giftaid_declaration_has_address",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_on__isnull=True) | Q(cancelled_on__gte=models.F("declared_on")),
                name="giftaid_declaration_cancelled_after_declared",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_on__isnull=True, cancellation_reason="")
                | (Q(cancelled_on__isnull=False) & ~Q(cancellation_reason="")),
                name="giftaid_declaration_cancellation_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["donor_key", "declared_on"], name="giftaid_decl_donor_date")]

    def __str__(self) -> str:
        return f"Gift Aid declaration {self.pk}: {self.first_name} {self.last_name}, {self.get_scope_display()}"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.title, self.first_name, self.last_name) if p)

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_on is not None
