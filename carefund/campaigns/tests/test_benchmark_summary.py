"""The giving benchmark's summary of repeated runs (benchmarks/giving_webhook.py, `--runs`): the figures
docs/benchmarks.md quotes are computed here, so they are checked against values worked out by hand."""

from __future__ import annotations

import pytest

from benchmarks.giving_webhook import _without_runs, summarise


def test_the_mean_ratio_comes_with_students_t_interval() -> None:
    s = summarise([0.44, 0.52, 0.60, 0.43, 0.58, 0.51])
    assert s["mean"] == pytest.approx(0.51333, abs=1e-5)
    assert s["sd"] == pytest.approx(0.06976, abs=1e-5)  # sqrt(0.024333 / 5)
    # t(0.975, 5) = 2.5706; 2.5706 * 0.06976 / sqrt(6) = 0.07321
    assert (s["low"], s["high"]) == (pytest.approx(0.44012, abs=1e-4), pytest.approx(0.58654, abs=1e-4))


def test_one_run_has_no_interval() -> None:
    assert summarise([0.5]) == {"mean": 0.5, "low": 0.5, "high": 0.5, "sd": 0.0}


def test_each_repeated_run_gets_the_same_arguments_but_runs_once() -> None:
    argv = ["--gifts", "6000", "--runs", "8", "--json=x.json", "--untagged", "--runs=3", "--json", "y.json"]
    assert _without_runs(argv) == ["--gifts", "6000", "--untagged", "--runs", "1"]


def test_an_abbreviated_option_is_refused_rather_than_repeated_without_end() -> None:
    from benchmarks.giving_webhook import main

    with pytest.raises(SystemExit) as refused:
        main(["--run", "3"])
    assert refused.value.code == 2
