"""The ONSPD loader and `carefund petitions ...` commands."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from carefund.petitions.models import Area, Postcode
from carefund.petitions.postcodes import PostcodeFileError, areas_for_postcode, postcodes_load

pytestmark = pytest.mark.django_db

HEADER = "pcd,pcd2,pcds,dointr,doterm,oslaua,nhser,ctry,rgn,pcon,icb\n"


def test_load_shipped_extract_through_the_command(tmp_path):
    out = io.StringIO()
    call_command("petitions", "load-shipped", stdout=out)
    assert "Loaded 34 postcodes" in out.getvalue()
    assert areas_for_postcode("CT215AB").constituency_code == "E14001237"
    assert not Postcode.objects.filter(postcode="CT215ZZ").exists()  # terminated (doterm set): skipped
    assert Area.objects.get(kind="icb", code="E54000032").name == "NHS Kent and Medway Integrated Care Board"
    # outside England: no ICB or NHS region (pseudo codes), the nation stands as the region
    cardiff = Postcode.objects.get(postcode="CF101EP")
    assert (cardiff.icb_code, cardiff.region_code, cardiff.country_code) == ("", "W92000004", "W92000004")


def test_load_postcodes_command_reads_a_real_shaped_file_and_replaces_rows(tmp_path):
    path = tmp_path / "onspd.csv"
    path.write_text(
        HEADER
        + "AB1 0AA,AB1  0AA,AB1 0AA,198001,,S12000033,S99999999,S92000003,S99999999,S14000002,S99999999\n"
        + "CT215AB,CT21 5AB,CT21 5AB,198001,,E07000112,E40000005,E92000001,E12000008,E14009999,E54000032\n"
    )
    out = io.StringIO()
    call_command("petitions", "load-postcodes", str(path), stdout=out)
    assert "Loaded 2 postcodes" in out.getvalue()
    call_command("petitions", "load-postcodes", str(path), stdout=io.StringIO())  # again: replaced, not doubled
    assert Postcode.objects.count() == 2
    assert areas_for_postcode("CT215AB").constituency_code == "E14009999"


def test_a_file_that_is_not_onspd_is_refused_whole(tmp_path):
    with pytest.raises(PostcodeFileError, match="no column pcon"):
        postcodes_load(file=io.StringIO("pcds,icb,nhser,ctry\nCT21 5AB,E1,E2,E3\n"))
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(CommandError, match="not an ONS Postcode Directory CSV"):
        call_command("petitions", "load-postcodes", str(path))
    with pytest.raises(CommandError, match="No file at"):
        call_command("petitions", "load-postcodes", str(tmp_path / "missing.csv"))
    assert not Postcode.objects.exists()


def test_unknown_and_empty_postcodes_have_unknown_areas():
    assert areas_for_postcode("") == areas_for_postcode("ZZ11ZZ")
    assert areas_for_postcode("ZZ11ZZ").constituency_code == ""
