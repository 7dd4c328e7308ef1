"""HMRC's Gift Aid schedule for a claim: the spreadsheet Charities Online takes (.ods, written with odfpy), split at
1,000 rows a file, and the same rows as CSV for inspection.

Layout, as HMRC's template and its validator (hmrc/charities-claims-validation, DocumentRow.scala) have it: the first
sheet, named `R68GAD_V1_00_0`; the earliest donation date at row 12, cell 3 and the previously overclaimed amount at
row 16, cell 3 (0-based, i.e. D13 and D17); the column headings on row 23; Gift Aid rows from row 24 (items 1-1000),
11 cells each: column A blank, then Item, Title, First name, Last name, House name or number, Postcode, Aggregated
donations, Sponsored event, Donation date, Amount (money-formatted, two decimals). The previously overclaimed amount is
written on the first file only, so HMRC counts it once.

Every row passes HMRC's validator rules (`claim_rules.cells_problems`) before any file is written; the rows are read
twice from the database, a chunk at a time (check, then write), so memory stays flat however large the claim."""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from odf.element import Element, Text, _append_child
from odf.namespaces import OFFICENS, TABLENS
from odf.opendocument import OpenDocumentSpreadsheet
from odf.style import Style, TableColumnProperties
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import P

from carefund.core.errors import ValidationError
from carefund.core.services import audit_record
from carefund.giftaid import claim_rules
from carefund.giftaid.claim_selectors import ClaimSettings
from carefund.giftaid.models import Claim, ClaimGift, Scheme

SHEET_NAME = "R68GAD_V1_00_0"
FIRST_ROW = 24
EARLIEST_DATE_CELL = (12, 3)
OVERCLAIMED_CELL = (16, 3)
HEADINGS_ROW = 23
PROBLEMS_SHOWN = 20


def schedule_rows(claim: Claim) -> Iterator[claim_rules.ScheduleRow]:
    """The claim's schedule rows in line order: a gift with its donor's details, or an aggregated line (its gifts
    summed, dated by the last of them, described, with no donor details)."""
    description = claim_rules.aggregated_description(ClaimSettings.current().aggregation_max_pence)
    rows = (
        ClaimGift.objects.filter(claim=claim, active=True, scheme=Scheme.GIFT_AID)
        .order_by("line", "donation_id")
        .values_list(
            "line",
            "aggregated",
            "sponsored",
            "received_on",
            "amount_pence",
            "declaration__title",
            "declaration__first_name",
            "declaration__last_name",
            "declaration__house_name_or_number",
            "declaration__postcode",
        )
        .iterator(chunk_size=5_000)
    )
    pending: claim_rules.ScheduleRow | None = None
    for line_or_none, aggregated, sponsored, received_on, amount, title, first, last, house, postcode in rows:
        line = int(line_or_none or 0)  # every Gift Aid row of a claim has its line
        if aggregated:
            if pending is not None and pending.line == line:
                pending = claim_rules.ScheduleRow(
                    line=line,
                    donation_date=max(pending.donation_date, received_on),
                    amount_pence=pending.amount_pence + amount,
                    aggregated=description,
                )
                continue
            if pending is not None:
                yield pending
            pending = claim_rules.ScheduleRow(
                line=line, donation_date=received_on, amount_pence=amount, aggregated=description
            )
            continue
        if pending is not None:
            yield pending
            pending = None
        yield claim_rules.ScheduleRow(
            line=line,
            donation_date=received_on,
            amount_pence=amount,
            title=title or "",
            first_name=first or "",
            last_name=last or "",
            house=house or "",
            postcode=postcode or "",
            sponsored=sponsored,
        )
    if pending is not None:
        yield pending


def schedule_problems(claim: Claim, *, today: dt.date) -> list[claim_rules.RowProblem]:
    """Every row HMRC's validator would refuse, with the rule it breaks (the first PROBLEMS_SHOWN)."""
    problems: list[claim_rules.RowProblem] = []
    for row in schedule_rows(claim):
        problems.extend(claim_rules.row_problems(row, today=today))
        if len(problems) >= PROBLEMS_SHOWN:
            break
    problem = claim_rules.overclaimed_problem(claim.overclaimed_pence)
    if problem:
        problems.append(claim_rules.RowProblem(0, "Previously overclaimed amount", problem))
    return problems[:PROBLEMS_SHOWN]


def _check(claim: Claim, today: dt.date) -> None:
    if not claim.lines_count:
        raise ValidationError(f"claim {claim.pk} has no Gift Aid rows to write.", field="claim")
    problems = schedule_problems(claim, today=today)
    if problems:
        raise ValidationError(
            "HMRC's schedule would refuse these rows, so no file was written; correct the donor's declaration and "
            "make the claim again: " + "; ".join(str(p) for p in problems),
            field="claim",
        )


def _out_dir(out_dir: Path) -> Path:
    out = Path(out_dir)
    if not out.is_dir():
        raise ValidationError(f"--out: {out} is not a folder; create it first.", field="out")
    return out


# A schedule file is about 30,000 odfpy nodes, and odfpy's element constructor (its grammar, namespace and attribute
# converter look-ups) was most of an export's time (docs/benchmarks.md "Gift Aid claims"). So each kind of node the
# schedule uses (row, cell, paragraph) is made once by odfpy's own constructor, which checks it against the ODF
# grammar, and every further one is a copy of that prototype with its attributes and children set: the same odfpy
# Element, which odfpy serialises (and escapes) when the document is saved. The tests read every file back with odfpy.
_VALUE_TYPE = (OFFICENS, "value-type")
_VALUE = (OFFICENS, "value")
_REPEAT = (TABLENS, "number-columns-repeated")


@functools.cache
def _prototypes() -> tuple[Element, Element, Element]:
    """The row, cell and paragraph every schedule node is copied from, made by odfpy (when the first schedule is
    written, so that odfpy declares its namespaces in the order it always has)."""
    return TableRow(), TableCell(), P()


def _node(prototype: Element, attributes: dict[tuple[str, str], str], children: list[Any]) -> Element:
    """A copy of an odfpy-made prototype with these attributes and children (no parent or sibling links: the node is
    only written out, so it holds no reference cycles and is freed as soon as its file is saved)."""
    node: Element = Element.__new__(Element)
    node.__dict__.update(prototype.__dict__)
    node.attributes = attributes
    node.childNodes = children
    return node


class _Cells:
    """The cells of one schedule file. A cell is an odfpy node its file may hold in many places: the same text (a
    title, a postcode, a date, a run of blank cells) is one node written out wherever it appears, so a file of 1,000
    rows makes a few thousand nodes rather than 30,000."""

    def __init__(self) -> None:
        self.a_row, self.a_cell, self.a_paragraph = _prototypes()
        self.made: dict[tuple[str, bool], Element] = {}
        self.blank_runs: dict[int, Element] = {}
        self.string = {_VALUE_TYPE: "string"}

    def text(self, text: str, *, amount: bool = False) -> Element:
        node = self.made.get((text, amount))
        if node is None:
            attributes = {_VALUE_TYPE: "float", _VALUE: text} if amount else self.string
            node = _node(self.a_cell, attributes, [_node(self.a_paragraph, {}, [Text(text)])])
            self.made[(text, amount)] = node
        return node

    def blanks(self, count: int) -> Element:
        node = self.blank_runs.get(count)
        if node is None:
            node = self.blank_runs[count] = _node(self.a_cell, {_REPEAT: str(count)}, [])
        return node

    def row(self, cells: list[str], *, amount_at: int | None = None) -> Element:
        """One row; a run of blank cells is one empty cell repeated (as office suites write them)."""
        children = []
        blanks = 0
        for i, text in enumerate(cells):
            if not text:
                blanks += 1
                continue
            if blanks:
                children.append(self.blanks(blanks))
                blanks = 0
            children.append(self.text(text, amount=i == amount_at))
        if blanks:
            children.append(self.blanks(blanks))
        return _node(self.a_row, {}, children)


def _header_rows(claim: Claim, sheet: _Cells, *, first_file: bool) -> list[Element]:
    rows = []
    for index in range(FIRST_ROW):
        cells = [""] * 11
        if index == 1:
            cells[1] = "Gift Aid schedule"
        if index == EARLIEST_DATE_CELL[0]:
            cells[1] = "Earliest donation date in the period of claim (DD/MM/YY)"
            assert claim.earliest_donation_date is not None
            cells[EARLIEST_DATE_CELL[1]] = claim_rules.format_date(claim.earliest_donation_date)
        if index == OVERCLAIMED_CELL[0]:
            cells[1] = "Previously overclaimed amount"
            if first_file and claim.overclaimed_pence:
                cells[OVERCLAIMED_CELL[1]] = claim_rules.format_amount(claim.overclaimed_pence)
        if index == HEADINGS_ROW:
            cells[1:] = list(claim_rules.COLUMNS)
        rows.append(sheet.row(cells, amount_at=OVERCLAIMED_CELL[1] if index == OVERCLAIMED_CELL[0] else None))
    return rows


def _write_ods(claim: Claim, rows: list[claim_rules.ScheduleRow], path: Path, *, first_file: bool) -> None:
    doc = OpenDocumentSpreadsheet()
    wide = Style(name="wide", family="table-column")
    wide.addElement(TableColumnProperties(columnwidth="3cm"))
    doc.automaticstyles.addElement(wide)
    # odfpy looks for the automatic styles in use by walking every element when it saves; the schedule's only one is
    # the column style, so it is named here instead of found by a walk of 30,000 elements
    doc._used_auto_styles = lambda segments: [wide]
    table = Table(name=SHEET_NAME)
    table.addElement(TableColumn(numbercolumnsrepeated=11, stylename=wide))
    doc.spreadsheet.addElement(table)
    # the rows join the table by odfpy's fast path for document builders (`_append_child`), not `addElement`, which
    # would walk each row to index it in the document's caches (used to look elements up, not to save them)
    cells = _Cells()
    for header in _header_rows(claim, cells, first_file=first_file):
        _append_child(table, header)
    for row in rows:
        _append_child(table, cells.row(["", *claim_rules.row_cells(row)], amount_at=10))
    doc.save(str(path))


def _batches(claim: Claim) -> Iterator[tuple[int, list[claim_rules.ScheduleRow]]]:
    batch: list[claim_rules.ScheduleRow] = []
    number = 1
    for row in schedule_rows(claim):
        if claim_rules.schedule_number(row.line) != number:
            yield number, batch
            batch, number = [], claim_rules.schedule_number(row.line)
        batch.append(row)
    if batch:
        yield number, batch


def _audit(claim: Claim, actor: Any, fmt: str, files: int) -> None:
    """The schedule holds donors' names and addresses: each export is audited, with who made it."""
    audit_record(
        actor=actor,
        action="giftaid.schedule_export",
        target=claim,
        summary=f"HMRC schedule exported as {fmt} ({files} file{'s' if files != 1 else ''})",
        details={"format": fmt, "files": files},
    )


def export_ods(*, claim: Claim, out_dir: Path, today: dt.date, actor: Any) -> list[Path]:
    """The claim's schedules, `giftaid-claim-<N>-<k>.ods`, 1,000 rows each; refused, writing nothing, if any row
    would fail HMRC's validator. Audited."""
    out = _out_dir(out_dir)
    _check(claim, today)
    written = []
    for number, rows in _batches(claim):
        path = out / f"giftaid-claim-{claim.pk}-{number:03d}.ods"
        _write_ods(claim, rows, path, first_file=number == 1)
        written.append(path)
    _audit(claim, actor, "ods", len(written))
    return written


def _inert(cell: str) -> str:
    """A cell a spreadsheet would read as a formula (=, +, -, @ first) is quoted with a leading apostrophe, so that
    opening the CSV runs nothing a donor typed."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def export_csv(*, claim: Claim, out_dir: Path, today: dt.date, actor: Any) -> list[Path]:
    """The same rows as one CSV for inspection: the schedule file each row goes in, then HMRC's ten columns."""
    out = _out_dir(out_dir)
    _check(claim, today)
    path = out / f"giftaid-claim-{claim.pk}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Schedule", *claim_rules.COLUMNS])
        for row in schedule_rows(claim):
            cells = [_inert(cell) for cell in claim_rules.row_cells(row)]
            writer.writerow([claim_rules.schedule_number(row.line), *cells])
    _audit(claim, actor, "csv", 1)
    return [path]
