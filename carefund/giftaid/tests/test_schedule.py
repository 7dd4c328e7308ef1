"""HMRC's schedule: the sheet and cells as the template has them, 1,000 rows a file, HMRC's validator on every row,
and the commands that make, show and export a claim."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from odf.opendocument import load
from odf.table import Table, TableCell, TableRow

from carefund.campaigns.models import Donation
from carefund.core import clock
from carefund.core.errors import ValidationError
from carefund.giftaid import claim_rules
from carefund.giftaid.claims import claim_create
from carefund.giftaid.models import ClaimGift, Declaration, donor_key_for
from carefund.giftaid.schedule import export_csv, export_ods, schedule_rows
from carefund.giftaid.tests.claim_factories import declared_gift, make_campaign, officer

pytestmark = pytest.mark.django_db
END = dt.date(2026, 11, 30)
DAY = dt.date(2026, 6, 15)


def bulk_declared_gifts(campaign, n: int, *, amount_pence: int = 1_000, last_name: str = "Smith") -> None:
    """`n` confirmed gifts, each with its own declaration, written in bulk (claim creation reads them; the ledger
    is not needed to make or export a claim)."""
    at = timezone.make_aware(dt.datetime(2026, 6, 15, 12))
    gifts = Donation.objects.bulk_create(
        Donation(
            campaign=campaign,
            amount_pence=amount_pence,
            status="succeeded",
            kind="cheque",
            donor_name=f"Ann {last_name}",
            donor_email=f"bulk{i}@example.org",
            receipt_token=f"bulk-{campaign.pk}-{i}",
            created_at=at,
            succeeded_at=at,
            received_on=DAY,
        )
        for i in range(n)
    )
    Declaration.objects.bulk_create(
        Declaration(
            title="",
            first_name="Ann",
            last_name=last_name,
            house_name_or_number="12",
            address="Acacia Avenue",
            postcode="S19 2BD",
            email=g.donor_email,
            donor_key=donor_key_for(g.donor_email),
            scope="this_gift",
            declared_on=DAY,
            donation=g,
            created_at=at,
        )
        for g in gifts
    )


def _cells(row: TableRow) -> list[str]:
    """The row's cells as a spreadsheet reads them: a repeated empty cell counts as that many cells."""
    out: list[str] = []
    for cell in row.getElementsByType(TableCell):
        out.extend([str(cell)] * int(cell.getAttribute("numbercolumnsrepeated") or 1))
    return out


def _sheet(path):
    doc = load(str(path))
    tables = doc.spreadsheet.getElementsByType(Table)
    return tables[0], tables[0].getElementsByType(TableRow)


def test_ods_has_hmrcs_sheet_name_header_cells_and_rows_from_row_24(tmp_path):
    campaign = make_campaign()
    declared_gift(campaign, amount_pence=20_000, last_name="Smith-Jones", title="Mrs")
    claim = claim_create(period_end=END, actor=officer())
    [path] = export_ods(claim=claim, out_dir=tmp_path, today=clock.today(), actor=None)
    assert path.name == f"giftaid-claim-{claim.pk}-001.ods"
    table, rows = _sheet(path)
    assert table.getAttribute("name").startswith("R68GAD_V1_00_0")
    assert _cells(rows[12])[3] == "15/06/26"
    assert _cells(rows[16])[3] == ""  # nothing overclaimed before: the cell is blank, not 0.00
    assert _cells(rows[23])[1:] == list(claim_rules.COLUMNS)
    assert _cells(rows[24]) == ["", "1", "Mrs", "Ann", "Smith Jones", "12", "S19 2BD", "", "", "15/06/26", "200.00"]
    assert len(rows) == 25


def test_a_claim_over_1000_rows_is_split_into_numbered_files(tmp_path):
    campaign = make_campaign()
    bulk_declared_gifts(campaign, 1_001)
    claim = claim_create(period_end=END, actor=officer())
    assert claim.lines_count == 1_001
    paths = export_ods(claim=claim, out_dir=tmp_path, today=clock.today(), actor=None)
    assert [p.name for p in paths] == [f"giftaid-claim-{claim.pk}-001.ods", f"giftaid-claim-{claim.pk}-002.ods"]
    _, first = _sheet(paths[0])
    _, second = _sheet(paths[1])
    assert len(first) == 24 + 1_000 and len(second) == 24 + 1
    assert _cells(first[24 + 999])[1] == "1000"
    assert _cells(second[24])[1] == "1"  # items start again at 1 in each file
    [csv_path] = export_csv(claim=claim, out_dir=tmp_path, today=clock.today(), actor=None)
    with csv_path.open() as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == ["Schedule", *claim_rules.COLUMNS]
    assert len(lines) == 1 + 1_001
    assert lines[-1][:2] == ["2", "1"]


def test_aggregated_lines_keep_to_1000_pounds_and_carry_no_donor_details(tmp_path):
    campaign = make_campaign()
    bulk_declared_gifts(campaign, 101, amount_pence=1_000, last_name="Sm1th")  # £10 each, a name HMRC refuses
    claim = claim_create(period_end=END, actor=officer())
    assert claim.aggregated_lines == 2
    rows = list(schedule_rows(claim))
    assert [r.amount_pence for r in rows] == [100_000, 1_000]
    for row in rows:
        cells = claim_rules.row_cells(row)
        assert cells[1:6] == ("", "", "", "", "")
        assert cells[6] == "Gifts of £20 or less"
        assert claim_rules.row_problems(row, today=clock.today()) == []
    [path] = export_ods(claim=claim, out_dir=tmp_path, today=clock.today(), actor=None)
    _, sheet_rows = _sheet(path)
    assert _cells(sheet_rows[24])[7:] == ["Gifts of £20 or less", "", "15/06/26", "1000.00"]


def test_a_row_hmrc_would_refuse_stops_the_export_and_names_the_rule(tmp_path):
    campaign = make_campaign()
    declared_gift(campaign, amount_pence=20_000)
    claim = claim_create(period_end=END, actor=officer())
    # a declaration edited in the back office after the claim was made (a digit in the name)
    Declaration.objects.update(first_name="Ann2")
    with pytest.raises(ValidationError) as caught:
        export_ods(claim=claim, out_dir=tmp_path, today=clock.today(), actor=None)
    assert "line 1, First name: 'Ann2' has a digit in it" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_commands_create_show_and_export(tmp_path, capsys):
    campaign = make_campaign()
    declared_gift(campaign, amount_pence=20_000)
    user = officer("finance")
    call_command("giftaid", "claim", "create", "--period-end", "2026-11-30", "--as", "finance", "--json")
    created = json.loads(capsys.readouterr().out)
    claim_id = created["claim"]
    assert ClaimGift.objects.filter(claim_id=claim_id).count() == 1
    call_command("giftaid", "claim", "show", str(claim_id), "--as", user.username, "--json")
    shown = json.loads(capsys.readouterr().out)
    assert {k: shown[k] for k in ("claim", "state", "gifts", "amount_pence", "gift_aid_pence", "aggregated_lines")} == {
        "claim": claim_id,
        "state": "draft",
        "gifts": 1,
        "amount_pence": 20_000,
        "gift_aid_pence": 5_000,
        "aggregated_lines": 0,
    }
    assert shown["left_out"] == []
    call_command(
        "giftaid", "claim", "export", str(claim_id), "--format", "csv", "--out", str(tmp_path), "--as", "finance"
    )
    assert (tmp_path / f"giftaid-claim-{claim_id}.csv").exists()
    with pytest.raises(CommandError, match="not a folder"):
        call_command("giftaid", "claim", "export", str(claim_id), "--out", str(tmp_path / "nope"), "--as", "finance")
    with pytest.raises(CommandError, match="Nothing to claim"):
        call_command("giftaid", "claim", "create", "--period-end", "2026-11-30", "--as", "finance")


def test_the_schedule_passes_odfpys_own_grammar_check(tmp_path):
    """The cells are copies of prototypes odfpy made (for speed), not each made by its constructor; odflint checks the
    file after."""
    import subprocess
    import sys
    from pathlib import Path

    campaign = make_campaign()
    declared_gift(campaign, amount_pence=20_000, reference="Sponsored walk")
    bulk_declared_gifts(campaign, 3, last_name="Sm1th")
    claim = claim_create(period_end=END, actor=officer())
    [path] = export_ods(claim=claim, out_dir=tmp_path, today=clock.today(), actor=None)
    odflint = Path(sys.executable).with_name("odflint")
    result = subprocess.run([str(odflint), str(path)], capture_output=True, text=True, check=False)
    # odflint also reports the zip header odfpy writes for every file ("'mimetype' member must not have extra header
    # info", a plain odfpy document gets it too); it goes on to check the grammar, which must find nothing
    findings = [line for line in result.stdout.splitlines() if "'mimetype' member" not in line]
    assert findings == [], result.stdout + result.stderr
