"""Journal entries (ledger.services.journal_entry_propose / journal_entry_decide, the page /ledger/journal/): a
correction booked by hand is proposed by one finance officer and posted, as an adjustment, only when a second person
approves it; bad lines are refused before anything is saved, and the ledger's own rules still apply when it is
posted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from carefund.core import clock
from carefund.core.errors import ConflictError, PermissionDeniedError, ValidationError
from carefund.core.models import AuditEvent
from carefund.core.roles import Role
from carefund.ledger import chart
from carefund.ledger.errors import FundOverdrawnError
from carefund.ledger.models import JournalEntry, Transaction
from carefund.ledger.selectors import account_balance_pence
from carefund.ledger.services import journal_entry_decide, journal_entry_propose
from carefund.ledger.tests import books
from carefund.ledger.tests.test_pages import user_with_role

pytestmark = pytest.mark.django_db

CLEARING = "Assets:Clearing:Stripe"


@pytest.fixture
def people(django_user_model: Any) -> dict[str, Any]:
    return {
        "fo": user_with_role(django_user_model, "fo", Role.FINANCE_OFFICER),
        "fo2": user_with_role(django_user_model, "fo2", Role.FINANCE_OFFICER),
        "trustee": user_with_role(django_user_model, "trustee", Role.TRUSTEE),
        "guardian": user_with_role(django_user_model, "parent", Role.GUARDIAN),
    }


def _dispute_fee(actor: Any, pence: int = 2000) -> Any:
    return journal_entry_propose(
        lines=[(chart.PAYMENT_FEES, pence), (CLEARING, -pence)],
        memo="Stripe's dispute fee on gift #12",
        reason="Stripe charged the dispute fee in euros, which carefund leaves for a person to book in pounds.",
        on_date=clock.today(),
        actor=actor,
    )


def test_an_entry_is_posted_only_when_a_second_person_approves_it(people: dict[str, Any]) -> None:
    books.gift(1, 5000, clock.today())
    before = Transaction.objects.count()
    entry = _dispute_fee(people["fo"])
    assert entry.state == "proposed" and Transaction.objects.count() == before
    with pytest.raises(PermissionDeniedError, match="you proposed this one"):
        journal_entry_decide(entry_id=entry.pk, approve=True, actor=people["fo"])
    entry = journal_entry_decide(entry_id=entry.pk, approve=True, note="checked against Stripe", actor=people["fo2"])
    assert entry.state == "posted" and entry.transaction is not None
    assert entry.transaction.kind == "adjustment" and entry.transaction.memo == "Stripe's dispute fee on gift #12"
    assert entry.transaction.metadata["proposed_by"] == people["fo"].pk
    assert entry.transaction.metadata["approved_by"] == people["fo2"].pk
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 2000
    with pytest.raises(ConflictError, match="already posted"):
        journal_entry_decide(entry_id=entry.pk, approve=True, actor=people["trustee"])
    assert Transaction.objects.count() == before + 1
    actions = AuditEvent.objects.filter(target_type="ledger.journalentry", target_id=str(entry.pk))
    assert sorted(actions.values_list("action", flat=True)) == ["ledger.journal_posted", "ledger.journal_proposed"]


def test_a_trustee_may_approve_or_reject_but_not_propose(people: dict[str, Any]) -> None:
    with pytest.raises(PermissionDeniedError):
        _dispute_fee(people["trustee"])
    entry = _dispute_fee(people["fo"])
    entry = journal_entry_decide(entry_id=entry.pk, approve=False, note="not our fee", actor=people["trustee"])
    assert (entry.state, entry.transaction, entry.decision_note) == ("rejected", None, "not our fee")
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 0
    with pytest.raises(PermissionDeniedError):
        journal_entry_decide(entry_id=entry.pk, approve=True, actor=people["guardian"])


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([(chart.PAYMENT_FEES, 2000)], "at least two lines"),
        ([(chart.PAYMENT_FEES, 2000), (CLEARING, -1999)], r"add up to \+£0\.01;"),
        ([(chart.PAYMENT_FEES, 0), (CLEARING, 0)], "line 1 has no amount"),
        ([("Expenses:Nowhere", 2000), (CLEARING, -2000)], "'Expenses:Nowhere', which is not an account"),
        # a child's fund that was never opened (the child's first gift opens it; issue 16: Child-999 belonged to no
        # child, and ledger check called the book clean)
        (
            [(chart.child_fund(999), 1000), (chart.GENERAL_FUND, -1000)],
            "'Equity:Fund:Restricted:Child-999', which is not an account of the book",
        ),
        ([(chart.provider_payable(7), -1000), (chart.PAYMENT_FEES, 1000)], "Provider-7', which is not an account"),
        ([("Assets:Clearing:Paypal", -1000), (chart.PAYMENT_FEES, 1000)], "Paypal', which is not an account"),
        (
            [(chart.child_fund(1), 1000), (chart.child_fund(2), -1000)],
            "touches the restricted funds of 2 children; money moves between children's funds only through the "
            "surplus process",
        ),
        (
            [(chart.child_fund(1), 1000), (chart.GENERAL_FUND, -1000)],
            "takes money out of a child's restricted fund into Equity:Fund:General",
        ),
    ],
)
def test_bad_lines_are_refused_and_nothing_is_saved(
    people: dict[str, Any], lines: list[tuple[str, int]], message: str
) -> None:
    books.gift(1, 5000, clock.today())
    books.gift(2, 5000, clock.today())  # both children's funds are open: only the rule refuses the entry
    with pytest.raises(ValidationError, match=message):
        journal_entry_propose(lines=lines, memo="m", reason="r", on_date=clock.today(), actor=people["fo"])
    assert not JournalEntry.objects.exists()


def test_a_date_in_the_future_or_no_reason_is_refused(people: dict[str, Any]) -> None:
    books.gift(1, 5000, clock.today())
    lines = [(chart.PAYMENT_FEES, 100), (CLEARING, -100)]
    with pytest.raises(ValidationError, match="in the future"):
        journal_entry_propose(
            lines=lines, memo="m", reason="r", on_date=clock.today() + dt.timedelta(days=1), actor=people["fo"]
        )
    with pytest.raises(ValidationError, match="reason: say why"):
        journal_entry_propose(lines=lines, memo="m", reason=" ", on_date=clock.today(), actor=people["fo"])


def test_an_entry_that_would_take_a_childs_fund_below_zero_is_not_posted_and_stays_proposed(
    people: dict[str, Any],
) -> None:
    books.gift(1, 5000, clock.today())
    fund = chart.child_fund(1)
    entry = journal_entry_propose(
        lines=[(fund, 6000), (CLEARING, -6000)],
        memo="Refund after a dispute won",
        reason="the donor was refunded by Stripe after the dispute was won",
        on_date=clock.today(),
        actor=people["fo"],
    )
    with pytest.raises(FundOverdrawnError):
        journal_entry_decide(entry_id=entry.pk, approve=True, actor=people["fo2"])
    entry.refresh_from_db()
    assert entry.state == "proposed" and entry.transaction is None


def test_the_page_proposes_lists_and_approves(client: Any, people: dict[str, Any]) -> None:
    books.gift(1, 5000, clock.today())
    client.force_login(people["fo"])
    page = client.get("/ledger/journal/")
    assert page.status_code == 200 and "Propose an entry" in page.content.decode()
    bad = client.post(
        "/ledger/journal/",
        {"memo": "Dispute fee", "reason": "Stripe", "on_date": clock.today().isoformat(), "lines": "Expenses:X"},
    )
    assert bad.status_code == 400 and "needs an account and an amount" in bad.content.decode()
    response = client.post(
        "/ledger/journal/",
        {
            "memo": "Dispute fee",
            "reason": "Stripe charged it",
            "on_date": clock.today().isoformat(),
            "lines": f"{chart.PAYMENT_FEES}, 20.00\n{CLEARING}, -20.00\n",
        },
    )
    assert response.status_code == 302
    entry = JournalEntry.objects.get()
    assert entry.lines == [[chart.PAYMENT_FEES, 2000], [CLEARING, -2000]]
    listing = client.get("/ledger/journal/").content.decode()
    assert "Dispute fee" in listing and "Approve and post" not in listing  # not the proposer's to approve
    client.force_login(people["trustee"])
    assert "Approve and post" in client.get("/ledger/journal/").content.decode()
    client.post(f"/ledger/journal/{entry.pk}/decide/", {"decision": "approve"})
    entry.refresh_from_db()
    assert entry.state == "posted" and account_balance_pence(name=chart.PAYMENT_FEES) == 2000
    client.force_login(people["guardian"])
    assert client.get("/ledger/journal/").status_code == 403


def test_listing_entries_that_move_a_childs_fund_is_audited(people: dict[str, Any]) -> None:
    """An entry touching a child's restricted fund is part of the child's record: each listing of such entries is
    audited, naming the funds; one touching none is not."""
    from carefund.ledger.selectors import journal_entries_for_user

    _dispute_fee(people["fo"])
    assert len(journal_entries_for_user(user=people["trustee"])) == 1
    assert not AuditEvent.objects.filter(action="ledger.view_journal").exists()
    books.gift(1, 5000, clock.today())
    moved = journal_entry_propose(
        lines=[(chart.child_fund(1), 1000), (CLEARING, -1000)],
        memo="Refund after a dispute won",
        reason="the donor was refunded by Stripe after the dispute was won",
        on_date=clock.today(),
        actor=people["fo"],
    )
    assert len(journal_entries_for_user(user=people["trustee"])) == 2
    [event] = AuditEvent.objects.filter(action="ledger.view_journal")
    assert event.actor == people["trustee"]
    assert event.details == {"funds": [chart.child_fund(1)], "entries": [moved.pk]}
    with pytest.raises(PermissionDeniedError):
        journal_entries_for_user(user=people["guardian"])
