"""`carefund economics run`: JSON shape, exit codes, messages without tracebacks, report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carefund.economics.tests.test_modelfile import VALID
from carefund.manage import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(["economics", "run", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_shape_with_psa(capsys):
    code, out, err = run(capsys, "sdr", "--psa", "200", "--seed", "7", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [s["name"] for s in data["strategies"]] == ["usual_care", "sdr"]
    for s in data["strategies"]:
        assert set(s) == {"name", "cost", "qalys", "life_years"}
    assert {r["name"]: r["status"] for r in data["incremental"]}.keys() == {"usual_care", "sdr"}
    assert data["psa"]["iterations"] == 200
    assert set(data["psa"]["probability_cost_effective"]) == {"20000", "25000", "30000", "35000"}
    for p in data["psa"]["probability_cost_effective"].values():
        assert 0 <= p <= 1
    # the seed reproduces the PSA exactly
    code, out2, _ = run(capsys, "sdr", "--psa", "200", "--seed", "7", "--json")
    assert json.loads(out2)["psa"] == data["psa"]


def test_json_without_psa_has_no_psa_key(capsys, tmp_path: Path):
    path = tmp_path / "toy.toml"
    path.write_text(VALID)
    code, out, _ = run(capsys, str(path), "--json")
    assert code == 0
    data = json.loads(out)
    assert "psa" not in data
    assert data["strategies"][0] == {"name": "a", "cost": 2710.0, "qalys": 2.71, "life_years": 2.71}


def test_table_output(capsys):
    code, out, _ = run(capsys, "sdr")
    assert code == 0
    assert "usual_care" in out and "sdr" in out and "per QALY" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sdr", "--psa", "-5"], "argument --psa: -5 is out of range; allowed: 0 to 1,000,000 draws"),
        (
            ["sdr", "--psa", "1.5"],
            "argument --psa: '1.5' is not a whole number; allowed: a whole number of draws from 0 to 1,000,000",
        ),
        (["sdr", "--seed", "-1"], "argument --seed: -1 is negative; allowed: a whole number 0 or more"),
        (
            ["nosuchmodel"],
            "nosuchmodel: no shipped model of that name; shipped models: sdr (or give a path to a .toml file)",
        ),
        (
            ["/nonexistent/model.toml"],
            "/nonexistent/model.toml: no such file; give a shipped model name or the path of a .toml model file",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert out == ""


def test_malformed_model_exits_2_naming_file_and_key(capsys, tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(VALID.replace('dead = "p_die * rr"', 'gone = "p_die * rr"'))
    code, _out, err = run(capsys, str(path), "--json")
    assert code == 2
    assert f"{path}, line " in err
    assert "transitions.well.gone: is not a state; states: well, dead" in err
    assert "Traceback" not in err
    path.write_text("[model\n")
    code, _, err = run(capsys, str(path))
    assert code == 2
    assert f"{path}, line 1: is not valid TOML" in err


def test_report_directory_gets_html_and_plots(capsys, tmp_path: Path):
    out_dir = tmp_path / "report"
    code, out, err = run(capsys, "sdr", "--psa", "100", "--seed", "1", "--report", str(out_dir), "--json")
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "acceptability.svg",
        "ce_plane.svg",
        "cohort_trace.svg",
        "index.html",
        "results.json",
        "tornado.svg",
    ]
    html = (out_dir / "index.html").read_text()
    assert "utility_per_gmfm_unit" in html  # an assumption listed
    assert json.loads((out_dir / "results.json").read_text()) == json.loads(out)


def test_a_large_psa_asks_for_heap_steps_once(capsys, tmp_path: Path, monkeypatch):
    from carefund.economics import cli as command

    calls: list[int] = []
    monkeypatch.setattr(command, "keep_heap_for_psa", lambda: calls.append(1) or True)
    path = tmp_path / "toy.toml"
    path.write_text(VALID)
    assert run(capsys, str(path), "--psa", "9999", "--seed", "1")[0] == 0
    assert calls == []
    assert run(capsys, str(path), "--psa", "10000", "--seed", "1")[0] == 0
    assert calls == [1]


def test_keep_heap_for_psa_applies_on_glibc():
    import platform

    from carefund.economics.cli import keep_heap_for_psa

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert keep_heap_for_psa() is True


def test_the_command_starts_without_django(tmp_path: Path):
    import subprocess
    import sys

    path = tmp_path / "toy.toml"
    path.write_text(VALID)
    probe = (
        "import sys; from carefund.manage import main; main(['economics', 'run', sys.argv[1], '--json']); "
        "print('django' in sys.modules, 'scipy' in sys.modules, 'carefund.economics.psa' in sys.modules, "
        "'carefund.economics.plots' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["strategies"][0]["cost"] == 2710.0
    # no web framework, no scipy, and neither the PSA nor the plots for a deterministic run
    assert done.stderr.split() == ["False", "False", "False", "False"]


def test_an_option_that_needs_the_database_goes_through_django():
    from carefund.economics.cli import needs_django

    assert needs_django(["sdr", "--evidence", "registry"])
    assert needs_django(["sdr", "--evidence=registry"])
    assert not needs_django(["sdr", "--psa", "10", "--json"])


def test_the_django_command_runs_the_same(capsys):
    from django.core.management import call_command

    call_command("economics", "run", "sdr", "--json")
    via_django = json.loads(capsys.readouterr().out)
    code, out, _ = run(capsys, "sdr", "--json")
    assert code == 0
    assert json.loads(out) == via_django
