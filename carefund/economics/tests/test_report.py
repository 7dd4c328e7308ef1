"""Evaluation of model-file specs, the incremental analysis, and the HTML report with its plots."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carefund.economics.modelfile import parse_model
from carefund.economics.report import (
    evaluate_spec,
    incremental_analysis,
    run_model,
    write_report,
)
from carefund.economics.tests.test_modelfile import VALID


def toy(counting: str = "start", rate: float = 0.0):
    spec = parse_model(VALID, file="toy.toml")
    return replace(
        spec, conventions=replace(spec.conventions, counting=counting, discount_costs=rate, discount_effects=rate)
    )


@pytest.mark.parametrize(
    ("counting", "occupancy_a", "occupancy_b"),
    [
        # 3 cycles, 10% (strategy a) or 5% (strategy b) die each cycle; everyone starts well
        ("start", 1 + 0.9 + 0.81, 1 + 0.95 + 0.9025),
        ("end", 0.9 + 0.81 + 0.729, 0.95 + 0.9025 + 0.857375),
        (
            "trapezoid",
            (1 + 0.9) / 2 + (0.9 + 0.81) / 2 + (0.81 + 0.729) / 2,
            (1 + 0.95) / 2 + (0.95 + 0.9025) / 2 + (0.9025 + 0.857375) / 2,
        ),
        ("half_cycle", 0.5 + 0.9 + 0.81 + 0.729 / 2, 0.5 + 0.95 + 0.9025 + 0.857375 / 2),
    ],
)
def test_counting_conventions_by_hand(counting, occupancy_a, occupancy_b):
    outs, _ = evaluate_spec(toy(counting), toy(counting).base_values(), 1)
    a, b = outs
    assert a.qalys[0] == pytest.approx(occupancy_a, rel=1e-12)
    assert a.life_years[0] == pytest.approx(occupancy_a, rel=1e-12)
    assert a.cost[0] == pytest.approx(1000 * occupancy_a, rel=1e-12)
    assert b.qalys[0] == pytest.approx(occupancy_b, rel=1e-12)
    assert b.cost[0] == pytest.approx(1000 * occupancy_b + 100, rel=1e-12)  # + the one-off drug


def test_discounting_leaves_the_first_cycle_undiscounted():
    outs, _ = evaluate_spec(toy("start", 0.035), toy().base_values(), 1)
    assert outs[0].qalys[0] == pytest.approx(1 + 0.9 / 1.035 + 0.81 / 1.035**2, rel=1e-12)


def test_incremental_analysis_dominance_and_extended_dominance():
    rows = incremental_analysis(["A", "B", "C", "D"], [0, 1000, 1500, 1200], [0, 1, 2, 0.5])
    by = {r.name: r for r in rows}
    assert by["A"].status == "ref"
    assert by["D"].status == "D"  # costs more than B, gains less
    assert by["B"].status == "ED"  # ICER A->B 1,000 > ICER B->C 500
    assert by["C"].status == "ND"
    assert by["C"].icer == pytest.approx(750)  # against A, the next on the frontier
    assert [r.name for r in rows] == ["A", "B", "D", "C"]


def test_cheaper_and_better_dominates():
    rows = incremental_analysis(["old", "new"], [100, 50], [1, 2])
    assert [(r.name, r.status) for r in rows] == [("new", "ref"), ("old", "D")]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_psa_seed_reproduces_exactly_and_cohort_sums_to_one(seed):
    spec = toy("half_cycle", 0.035)
    one = run_model(spec, psa=50, seed=seed)
    two = run_model(spec, psa=50, seed=seed)
    assert np.array_equal(one.psa_cost, two.psa_cost)
    assert np.array_equal(one.psa_qalys, two.psa_qalys)
    for trace in one.trace.values():
        assert np.allclose(trace.sum(axis=1), 1.0, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(k=st.floats(min_value=0.01, max_value=100))
def test_costs_scale_linearly_with_prices(k):
    spec = toy("trapezoid", 0.035)
    base, _ = evaluate_spec(spec, spec.base_values(), 1)
    scaled, _ = evaluate_spec(spec, {**spec.base_values(), "c_well": 1000 * k}, 1)
    assert scaled[0].cost[0] == pytest.approx(base[0].cost[0] * k, rel=1e-9)
    assert scaled[1].cost[0] - 100 == pytest.approx((base[1].cost[0] - 100) * k, rel=1e-9)
    assert scaled[0].qalys[0] == base[0].qalys[0]


def test_negative_or_fractional_draws_are_refused():
    from carefund.economics.modelfile import ModelFileError

    for bad in (-1, 1.5, True):
        with pytest.raises(ModelFileError) as info:
            run_model(toy(), psa=bad)
        assert info.value.key == "psa"
        assert info.value.message.endswith("allowed: a whole number of draws from 0 to 1,000,000")


def test_report_writes_html_json_and_each_plot(tmp_path: Path):
    result = run_model(toy("half_cycle", 0.035), psa=200, seed=4, tornado=True)
    written = write_report(result, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == [
        "acceptability.svg",
        "ce_plane.svg",
        "cohort_trace.svg",
        "index.html",
        "results.json",
        "tornado.svg",
    ]
    for p in written:
        assert p.stat().st_size > 0
        if p.suffix == ".svg":
            root = ET.fromstring(p.read_text())
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["psa"]["iterations"] == 200
    html = (tmp_path / "out" / "index.html").read_text()
    for img in ("ce_plane.svg", "acceptability.svg", "tornado.svg", "cohort_trace.svg"):
        assert f'src="{img}"' in html
    assert "<h2>Assumptions" in html


def test_tornado_orders_by_swing_and_moves_the_right_way():
    result = run_model(toy("start"), tornado=True)
    names = [r[0] for r in result.tornado]
    assert set(names) == {"p_die", "rr_b", "c_well"}
    swings = [abs(r[4] - r[3]) for r in result.tornado]
    assert swings == sorted(swings, reverse=True)


@pytest.mark.parametrize("counting", ["start", "end", "trapezoid", "half_cycle"])
def test_model_file_evaluation_agrees_with_the_engine(counting):
    """The same SDR model run through `to_engine_model` and the engine gives the same totals."""
    from carefund.economics.engine import run_model as engine_run
    from carefund.economics.modelfile import load_model, to_engine_model

    spec = load_model("sdr")
    spec = replace(spec, conventions=replace(spec.conventions, counting=counting))
    engine = engine_run(to_engine_model(spec))
    mine, _ = evaluate_spec(spec, spec.base_values(), 1)
    for theirs, ours in zip(engine.strategies, mine, strict=True):
        assert theirs.name == ours.name
        assert theirs.cost == pytest.approx(float(ours.cost[0]), rel=1e-12)
        assert theirs.qalys == pytest.approx(float(ours.qalys[0]), rel=1e-12)
        assert theirs.life_years == pytest.approx(float(ours.life_years[0]), rel=1e-12)


def test_every_plot_mark_lies_inside_the_picture(tmp_path: Path):
    from carefund.economics.modelfile import load_model
    from carefund.economics.plots import H, W

    result = run_model(load_model("sdr"), psa=300, seed=2, tornado=True)
    for path in write_report(result, tmp_path):
        if path.suffix != ".svg":
            continue
        root = ET.fromstring(path.read_text())
        ns = "{http://www.w3.org/2000/svg}"
        marks = 0
        for el in root.iter():
            for attr, limit in (("cx", W), ("x1", W), ("x2", W), ("cy", H), ("y1", H), ("y2", H)):
                if attr in el.attrib:
                    assert -0.5 <= float(el.attrib[attr]) <= limit + 0.5, (path.name, el.tag, attr, el.attrib[attr])
            if el.tag == f"{ns}polyline":
                for point in el.attrib["points"].split():
                    x, y = (float(v) for v in point.split(","))
                    assert 0 <= x <= W and 0 <= y <= H, (path.name, point)
                marks += 1
            if el.tag in (f"{ns}circle", f"{ns}rect"):
                marks += 1
        assert marks > 4, path.name


def test_evpi_is_the_expected_opportunity_loss():
    result = run_model(toy("start"), psa=500, seed=9)
    evpis = []
    for lam in (1500.0, 2000.0, 20000.0):
        nmb = result.psa_qalys * lam - result.psa_cost
        best_on_average = int(np.argmax(nmb.mean(axis=0)))
        loss = (nmb.max(axis=1) - nmb[:, best_on_average]).mean()
        assert result.evpi(lam) == pytest.approx(loss, rel=1e-9, abs=1e-6)
        assert result.evpi(lam) >= 0
        evpis.append(result.evpi(lam))
    assert evpis[0] > 1  # near the ICER the decision is uncertain and information has value
    assert set(result.to_json()["psa"]["evpi_per_person"]) == {"20000", "30000"}
