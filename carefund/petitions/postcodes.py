"""The local postcode lookup: loading the ONS Postcode Directory (ONSPD) CSV, and finding a postcode's areas.

No network call is ever made: `carefund petitions load-postcodes FILE` loads the file a user downloaded from the
ONS Open Geography Portal (columns `pcds` or `pcd`, `doterm`, `pcon`, `icb`, `nhser`, `ctry`), and signing reads
the table. A postcode that is not in it still signs, counted under "unknown". docs/petitions.md, "Postcodes"."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.db import transaction

from carefund.petitions.models import Area, Postcode
from carefund.petitions.rules import normalise_postcode

DATA_DIR = Path(__file__).resolve().parent / "data"
SHIPPED_EXTRACT = DATA_DIR / "onspd_extract.csv"
SHIPPED_AREAS = DATA_DIR / "areas.csv"
REQUIRED_COLUMNS = ("pcon", "icb", "nhser", "ctry")
BATCH = 5000


class PostcodeFileError(ValueError):
    """The file is not an ONSPD CSV this loader can read; the message says what is missing."""


@dataclass(frozen=True)
class Areas:
    constituency_code: str = ""
    icb_code: str = ""
    region_code: str = ""


def _code(value: str | None) -> str:
    """ONS pseudo codes (e.g. "W99999999": no ICB outside England) and blanks are "unknown" ("")."""
    value = (value or "").strip()
    return "" if not value or value.endswith("99999999") else value[:9]


def _rows(reader: Iterable[dict[str, str]]) -> Iterator[Postcode]:
    for row in reader:
        if (row.get("doterm") or "").strip():  # terminated postcodes are not in use
            continue
        postcode = normalise_postcode(row.get("pcds") or row.get("pcd") or "")
        if not postcode:
            continue
        country = _code(row.get("ctry"))
        # NHS England regions for England; the nation itself elsewhere (ONSPD gives a pseudo code there).
        region = _code(row.get("nhser")) or (country if not country.startswith("E") else "")
        yield Postcode(
            postcode=postcode,
            constituency_code=_code(row.get("pcon")),
            icb_code=_code(row.get("icb")),
            region_code=region,
            country_code=country,
        )


def postcodes_load(*, file: IO[str], progress: Callable[[int], None] | None = None) -> int:
    """Load (insert or replace) every live postcode of an ONSPD CSV; returns how many. All or nothing."""
    reader = csv.DictReader(file)
    header = {name.strip().lower() for name in reader.fieldnames or []}
    missing = [c for c in (*REQUIRED_COLUMNS, "pcds|pcd") if not header & set(c.split("|"))]
    if missing:
        raise PostcodeFileError(
            f"This is not an ONS Postcode Directory CSV: it has no column {', '.join(missing)}. Use the ONSPD "
            "'Data/ONSPD_..._UK.csv' file from the ONS Open Geography Portal."
        )
    reader = csv.DictReader(file, fieldnames=[n.strip().lower() for n in reader.fieldnames or []])
    loaded = 0
    batch: list[Postcode] = []
    fields = ["constituency_code", "icb_code", "region_code", "country_code"]
    with transaction.atomic():
        for postcode in _rows(reader):
            batch.append(postcode)
            if len(batch) >= BATCH:
                Postcode.objects.bulk_create(
                    batch, update_conflicts=True, unique_fields=["postcode"], update_fields=fields
                )
                loaded += len(batch)
                batch = []
                if progress:
                    progress(loaded)
        if batch:
            Postcode.objects.bulk_create(batch, update_conflicts=True, unique_fields=["postcode"], update_fields=fields)
            loaded += len(batch)
    if progress:
        progress(loaded)
    return loaded


def areas_load(*, file: IO[str]) -> int:
    """Load area names (columns kind, code, name, mp), e.g. the shipped `areas.csv`."""
    rows = [
        Area(kind=r["kind"], code=r["code"], name=r["name"], mp=r.get("mp") or "")
        for r in csv.DictReader(file)
        if r.get("code")
    ]
    with transaction.atomic():
        Area.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["kind", "code"], update_fields=["name", "mp"]
        )
    return len(rows)


def load_shipped() -> int:
    """The small extract shipped for tests and the demo (and its area names)."""
    with SHIPPED_AREAS.open(encoding="utf-8") as fh:
        areas_load(file=fh)
    with SHIPPED_EXTRACT.open(encoding="utf-8") as fh:
        return postcodes_load(file=fh)


def areas_for_postcode(postcode: str) -> Areas:
    """The areas of a normalised postcode, or unknown ones (a postcode missing from the table still signs)."""
    if not postcode:
        return Areas()
    row = Postcode.objects.filter(postcode=postcode).values_list("constituency_code", "icb_code", "region_code").first()
    return Areas(*row) if row else Areas()
