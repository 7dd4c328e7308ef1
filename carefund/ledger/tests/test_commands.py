"""`carefund ledger check | balances | export`, and the export verified by beancount itself."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from carefund.ledger import chart
from carefund.ledger.models import Account, AccountDayBalance
from carefund.ledger.tests import books

pytestmark = pytest.mark.django_db

BEAN_CHECK = Path(sys.executable).with_name("bean-check")


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("ledger", *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_check_is_clean_on_a_realistic_book():
    books.realistic_book()
    assert run("check") == (0, "ledger check: clean\n")


def test_check_exits_1_listing_a_tampered_maintained_balance():
    books.realistic_book()
    Account.objects.filter(name=chart.BANK).update(balance_pence=1)
    code, out = run("check")
    assert code == 1
    assert "- account Assets:Bank:Current: maintained balance 1 pence differs from the sum of its postings 26105" in out


def test_check_finds_a_tampered_day_balance():
    books.gift(1, 500, dt.date(2026, 3, 2))
    fund = Account.objects.get(name=chart.child_fund(1))
    AccountDayBalance.objects.filter(account=fund).update(closing_pence=7)
    code, out = run("check")
    assert code == 1
    assert "day balance for 2026-03-02 is 7 pence, the postings say -500 pence" in out


def test_check_finds_a_fund_overdrawn_by_rows_written_behind_the_services_back():
    books.gift(1, 500, dt.date(2026, 3, 2))
    fund = Account.objects.get(name=chart.child_fund(1))
    payable = Account.objects.create(
        name="Liabilities:Payable:Provider-7", type="Liabilities", opened_on=dt.date(2026, 3, 2)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_transaction (kind, on_date, memo, group_id, idempotency_key, content_hash, metadata,"
            " is_posted, created_at) VALUES ('invoice', %s, 'x', '', 'sneaky', '', '{}', %s, %s)",
            [dt.date(2026, 3, 3), False, dt.datetime(2026, 3, 2, tzinfo=dt.UTC)],
        )
        cursor.execute("SELECT id FROM ledger_transaction WHERE idempotency_key = 'sneaky'")
        txn_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO ledger_posting (transaction_id, account_id, amount_pence)"
            " VALUES (%s, %s, 800), (%s, %s, -800)",
            [txn_id, fund.pk, txn_id, payable.pk],
        )
        cursor.execute("UPDATE ledger_transaction SET is_posted = %s WHERE id = %s", [True, txn_id])
    code, out = run("check")
    assert code == 1
    assert "- restricted fund Equity:Fund:Restricted:Child-1 is below zero: 300 pence overdrawn" in out
    assert (
        f"- restricted fund Equity:Fund:Restricted:Child-1 was below zero after transaction #{txn_id} of 2026-03-03"
        in out
    )
    assert "maintained balance -500 pence differs from the sum of its postings 300 pence" in out


def test_check_finds_a_half_written_transaction():
    """Only reachable behind the services' back, and on PostgreSQL only until commit (the deferred trigger refuses
    it then), so the test rolls it back itself."""
    from django.db import transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ledger_transaction (kind, on_date, memo, group_id, idempotency_key, content_hash,"
                " metadata, is_posted, created_at) VALUES ('adjustment', %s, 'x', '', 'half', '', '{}', %s, %s)",
                [dt.date(2026, 3, 2), False, dt.datetime(2026, 3, 2, tzinfo=dt.UTC)],
            )
        code, out = run("check")
        transaction.set_rollback(True)
    assert code == 1
    assert "was never posted (a half-written transaction)" in out


def test_balances_json_has_the_exact_shape_and_beancount_signs():
    books.gift(1, 5000, dt.date(2026, 3, 2))
    books.invoice(1, 7, 1500, dt.date(2026, 3, 5))
    code, out = run("balances", "--json")
    assert code == 0
    assert json.loads(out) == {
        "accounts": [
            {"account": "Assets:Clearing:Stripe", "balance_pence": 5000},
            {"account": "Equity:Fund:Restricted:Child-1", "balance_pence": -3500},
            {"account": "Liabilities:Payable:Provider-7", "balance_pence": -1500},
        ]
    }
    code, out = run("balances", "--json", "--as-of", "2026-03-04")
    assert json.loads(out)["accounts"][1] == {"account": "Equity:Fund:Restricted:Child-1", "balance_pence": -5000}
    code, out = run("balances")
    assert "Equity:Fund:Restricted:Child-1  " in out
    assert "-£35.00" in out


def test_balances_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--as-of must be a date"):
        call_command("ledger", "balances", "--as-of", "31/03/2026")


def test_export_writes_open_directives_two_decimals_and_metadata():
    t = books.realistic_book()
    code, text = run("export", "--format", "beancount")
    assert code == 0
    assert "2026-03-02 open Equity:Fund:Restricted:Child-1 GBP\n" in text
    assert f'2026-03-14 * "Refund of #{t["g3"].pk}" ^reversal-{t["g3"].pk}\n' in text
    assert f'  reverses: "{t["g3"].pk}"\n' in text
    assert '  kind: "refund"\n' in text
    assert "  Assets:Clearing:Stripe  1200.00 GBP\n" in text
    assert "  Expenses:Fees:Payments  1.45 GBP\n" in text
    assert "2026-05-02 balance Equity:Fund:Restricted:Child-1  -62.50 GBP\n" in text
    assert '* "Gift from \\"Aunt\\" Jo"' in text
    assert f'  idempotency-key: "{t["g1"].idempotency_key}"\n' in text


def _beancount_balances(path: Path) -> dict[str, int]:
    from beancount import loader
    from beancount.core import data

    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    totals: dict[str, int] = defaultdict(int)
    for entry in entries:
        if isinstance(entry, data.Open):
            totals[entry.account] += 0
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                totals[posting.account] += int(posting.units.number * Decimal(100))
    return dict(totals)


def test_the_export_of_a_realistic_book_passes_bean_check_and_its_balances_agree(tmp_path):
    books.realistic_book()
    path = tmp_path / "book.beancount"
    call_command("ledger", "export", "--format", "beancount", "--output", str(path))

    result = subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (0, "")

    _, out = run("balances", "--json")
    ours = {row["account"]: row["balance_pence"] for row in json.loads(out)["accounts"]}
    assert _beancount_balances(path) == ours
    assert ours[chart.child_fund(1)] == -6250


def test_bean_check_catches_a_maintained_balance_that_disagrees_with_the_postings(tmp_path):
    books.realistic_book()
    Account.objects.filter(name=chart.BANK).update(balance_pence=26106)
    path = tmp_path / "book.beancount"
    call_command("ledger", "export", "--format", "beancount", "--output", str(path))
    result = subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Balance failed for 'Assets:Bank:Current'" in result.stderr


def test_bean_check_catches_a_broken_export(tmp_path):
    """The verifier can fail: an unbalanced transaction written by hand is reported."""
    path = tmp_path / "broken.beancount"
    path.write_text(
        "2026-01-01 open Assets:Bank:Current GBP\n2026-01-01 open Equity:Fund:General GBP\n"
        '2026-01-02 * "broken"\n  Assets:Bank:Current  1.00 GBP\n  Equity:Fund:General  -0.99 GBP\n'
    )
    result = subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "does not balance" in result.stderr
