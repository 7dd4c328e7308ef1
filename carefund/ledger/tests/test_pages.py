"""The staff page and the JSON API: finance officers and trustees read balances and transactions; anyone else
gets a 403 for the balances and a 404 for a transaction; reads of a child's fund are audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission

from carefund.core.models import AuditEvent
from carefund.core.roles import Role
from carefund.ledger.roles import ROLE_PERMISSIONS
from carefund.ledger.tests import books

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 2)


def user_with_role(django_user_model, username: str, role: Role):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(username=username, password="pw")
    group, _ = Group.objects.get_or_create(name=role.value)
    for dotted in ROLE_PERMISSIONS.get(role, []):
        app_label, codename = dotted.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    user.groups.add(group)
    return user


@pytest.fixture
def finance(django_user_model):  # type: ignore[no-untyped-def]
    return user_with_role(django_user_model, "fo", Role.FINANCE_OFFICER)


@pytest.fixture
def guardian(django_user_model):  # type: ignore[no-untyped-def]
    return user_with_role(django_user_model, "parent", Role.GUARDIAN)


def test_roles_give_ledger_reads_to_finance_officers_and_trustees_only():
    """Both read; only a finance officer proposes a journal entry; either approves one (test_journal.py)."""
    assert set(ROLE_PERMISSIONS) == {Role.FINANCE_OFFICER, Role.TRUSTEE}
    writes = {
        role: {p for p in perms if not p.split(".")[1].startswith("view_")} for role, perms in ROLE_PERMISSIONS.items()
    }
    assert writes == {
        Role.FINANCE_OFFICER: {"ledger.add_journalentry", "ledger.approve_journalentry"},
        Role.TRUSTEE: {"ledger.approve_journalentry"},
    }


def test_a_finance_officer_sees_balances_as_of_a_date(client, finance):
    books.gift(1, 5000, D)
    books.invoice(1, 7, 1500, D + dt.timedelta(days=3))
    client.force_login(finance)

    now = client.get("/ledger/")
    then = client.get("/ledger/", {"as_of": "2026-03-03"})

    assert now.status_code == 200
    rows = {r["account"]: r["display"] for r in now.context["rows"]}
    assert rows["Equity:Fund:Restricted:Child-1"] == "-£35.00"
    assert now.context["total_display"] == "£0.00"
    assert {r["account"]: r["display"] for r in then.context["rows"]}["Equity:Fund:Restricted:Child-1"] == "-£50.00"
    assert "Liabilities:Payable:Provider-7" in now.content.decode()


def test_a_bad_as_of_date_is_explained(client, finance):
    client.force_login(finance)
    response = client.get("/ledger/", {"as_of": "yesterday"})
    assert response.status_code == 400
    assert "As of: &#x27;yesterday&#x27; is not a date" in response.content.decode()


def test_others_may_not_read_the_ledger(client, guardian):
    txn = books.gift(1, 5000, D)
    assert client.get("/ledger/").status_code == 302  # to sign in
    client.force_login(guardian)
    assert client.get("/ledger/").status_code == 403
    assert client.get(f"/ledger/transactions/{txn.pk}/").status_code == 404
    assert AuditEvent.objects.filter(action="ledger.view_transaction").count() == 0


def test_a_transaction_page_shows_postings_trace_and_is_audited(client, finance):
    gift = books.gift(1, 5000, D, memo="Gift from Aunt Jo")
    spend = books.invoice(1, 7, 3000, D, memo="Physiotherapy block")
    client.force_login(finance)

    response = client.get(f"/ledger/transactions/{spend.pk}/")

    assert response.status_code == 200
    assert response.context["postings"] == [
        ("Equity:Fund:Restricted:Child-1", "£30.00"),
        ("Liabilities:Payable:Provider-7", "-£30.00"),
    ]
    assert [(s["transaction_id"], s["display"]) for s in response.context["sources"]] == [(gift.pk, "£30.00")]
    event = AuditEvent.objects.get(action="ledger.view_transaction")
    assert (event.actor, event.target_id) == (finance, str(spend.pk))
    assert client.get("/ledger/transactions/999999/").status_code == 404


def test_api_balances_and_transaction(client, finance):
    gift = books.gift(1, 5000, D)
    refund = books.refund(gift, D)
    client.force_login(finance)

    body = client.get("/api/ledger/balances", {"as_of": "2026-03-02"}).json()
    assert body == {
        "as_of": "2026-03-02",
        "accounts": [
            {"account": "Assets:Clearing:Stripe", "balance_pence": 0},
            {"account": "Equity:Fund:Restricted:Child-1", "balance_pence": 0},
        ],
    }
    detail = client.get(f"/api/ledger/transactions/{gift.pk}").json()
    assert detail["reversed_by_id"] == refund.pk
    assert detail["postings"] == [
        {"account": "Assets:Clearing:Stripe", "amount_pence": 5000},
        {"account": "Equity:Fund:Restricted:Child-1", "amount_pence": -5000},
    ]
    assert detail["paid_for"] == [
        {
            "transaction_id": refund.pk,
            "kind": "refund",
            "on_date": "2026-03-02",
            "memo": f"Refund of #{gift.pk}",
            "amount_pence": 5000,
            "child_id": 1,
        }
    ]


def test_api_refuses_others(client, guardian):
    txn = books.gift(1, 5000, D)
    assert client.get("/api/ledger/balances").status_code == 401
    client.force_login(guardian)
    assert client.get("/api/ledger/balances").status_code == 403
    assert client.get(f"/api/ledger/transactions/{txn.pk}").status_code == 404


def test_listing_a_childs_fund_is_audited_and_an_unknown_account_is_a_404(client, finance):
    gift = books.gift(1, 5000, D)
    books.fee(145, D)
    client.force_login(finance)

    response = client.get("/ledger/", {"account": "Equity:Fund:Restricted:Child-1"})

    assert response.status_code == 200
    assert [t.pk for t in response.context["recent"]] == [gift.pk]
    event = AuditEvent.objects.get(action="ledger.view_account")
    assert event.actor == finance
    assert client.get("/ledger/", {"account": "Assets:Nowhere"}).status_code == 404
    client.get("/ledger/", {"account": "Expenses:Fees:Payments"})
    assert AuditEvent.objects.filter(action="ledger.view_account").count() == 1
