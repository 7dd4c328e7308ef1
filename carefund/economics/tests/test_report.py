"""Model files run through the engine (`report.run_model`), the JSON and the HTML report with its plots, and the
agreement of the SDR figures with those recorded before the second evaluator was removed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carefund.economics.incremental import incremental_analysis
from carefund.economics.modelfile import parse_model
from carefund.economics.report import STATUS_CODES, run_model, tornado_rows, write_report
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
    a, b = run_model(toy(counting)).strategies
    assert a.qalys == pytest.approx(occupancy_a, rel=1e-12)
    assert a.life_years == pytest.approx(occupancy_a, rel=1e-12)
    assert a.cost == pytest.approx(1000 * occupancy_a, rel=1e-12)
    assert b.qalys == pytest.approx(occupancy_b, rel=1e-12)
    assert b.cost == pytest.approx(1000 * occupancy_b + 100, rel=1e-12)  # + the one-off drug


def test_discounting_leaves_the_first_cycle_undiscounted():
    a, _ = run_model(toy("start", 0.035)).strategies
    assert a.qalys == pytest.approx(1 + 0.9 / 1.035 + 0.81 / 1.035**2, rel=1e-12)


def test_json_status_codes_come_from_the_incremental_analysis():
    rows = incremental_analysis(["A", "B", "C", "D"], [0, 1000, 1500, 1200], [0, 1, 2, 0.5]).rows
    assert [(r.name, STATUS_CODES[r.status]) for r in rows] == [("A", "ref"), ("B", "ED"), ("D", "D"), ("C", "ND")]
    data = run_model(toy("start")).to_json()
    assert [(r["name"], r["status"]) for r in data["incremental"]] == [("a", "ref"), ("b", "ND")]
    b = data["incremental"][1]
    # by hand (see docs/economics.md): b costs 2,952.50 and gains 2.8525 QALYs; a costs 2,710 and gains 2.71
    assert b["incremental_cost"] == pytest.approx(242.5)
    assert b["incremental_qalys"] == pytest.approx(0.1425)
    assert b["icer"] == pytest.approx(round(242.5 / 0.1425, 2))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_psa_seed_reproduces_exactly_and_cohort_sums_to_one(seed):
    spec = toy("half_cycle", 0.035)
    one = run_model(spec, psa=50, seed=seed)
    two = run_model(spec, psa=50, seed=seed)
    assert one.psa is not None and two.psa is not None
    assert np.array_equal(one.psa.cost, two.psa.cost)
    assert np.array_equal(one.psa.qalys, two.psa.qalys)
    for trace in one.trace.values():
        assert np.allclose(trace.sum(axis=1), 1.0, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(k=st.floats(min_value=0.01, max_value=100))
def test_costs_scale_linearly_with_prices(k):
    spec = toy("trapezoid", 0.035)
    base = run_model(spec).strategies
    scaled = run_model(spec.with_overrides(values={"c_well": 1000 * k})).strategies
    assert scaled[0].cost == pytest.approx(base[0].cost * k, rel=1e-9)
    assert scaled[1].cost - 100 == pytest.approx((base[1].cost - 100) * k, rel=1e-9)
    assert scaled[0].qalys == base[0].qalys


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
    assert result.tornado is not None
    rows = tornado_rows(result)
    assert {r[0] for r in rows} == {"p_die", "rr_b", "c_well"}
    swings = [abs(r[4] - r[3]) for r in rows]
    assert swings == sorted(swings, reverse=True)
    by = {r[0]: r for r in rows}
    # b halves deaths: a higher death risk makes b worth more (incremental NMB at the 97.5% quantile is higher)
    assert by["p_die"][4] > by["p_die"][3]
    assert by["p_die"][1] < 0.1 < by["p_die"][2]


# The SDR model's base case as computed by the second evaluator (report.evaluate_spec) before it was removed,
# recorded at full precision on 2026-11-24 (`carefund economics run sdr`): the engine must give the same figures.
SDR_BEFORE = {
    "usual_care": (176857.80345332946, 13.285159279217769, 25.433306045955113),
    "sdr": (185362.17764156856, 14.690661400686025, 25.588763018170944),
}
SDR_BUDGET_BEFORE = (61320916.62, 46139524.64, 76799982.95)  # ten-year total, low, high (undiscounted)
SDR_PER_CHILD_BEFORE = (31245.0, 3410.2648975228994, -1209.5407148039321, -1389.0797662348814)  # years 1, 2, 3, 12
SDR_TORNADO_BEFORE = (  # the widest bar: rr_decline_sdr at its 2.5% and 97.5% quantiles, incremental NMB at 20,000
    "rr_decline_sdr",
    0.3888003930901544,
    1.2602236375866596,
    47257.55890290874,
    -20173.196113590355,
)


def test_sdr_figures_did_not_move_when_the_second_evaluator_was_removed():
    from carefund.economics.budget import budget_impact, incremental_cost_by_year
    from carefund.economics.modelfile import load_model

    spec = load_model("sdr")
    result = run_model(spec, tornado=True)
    for s in result.strategies:
        cost, qalys, life_years = SDR_BEFORE[s.name]
        assert s.cost == pytest.approx(cost, rel=1e-12, abs=0)
        assert s.qalys == pytest.approx(qalys, rel=1e-12, abs=0)
        assert s.life_years == pytest.approx(life_years, rel=1e-12, abs=0)
    per_child = incremental_cost_by_year(spec, intervention="sdr", comparator="usual_care")
    got = (per_child[0], per_child[1], per_child[2], per_child[11])
    assert got == pytest.approx(SDR_PER_CHILD_BEFORE, rel=1e-10, abs=1e-8)
    bi = budget_impact(spec)
    assert (round(bi.total, 2), round(bi.total_low, 2), round(bi.total_high, 2)) == pytest.approx(
        SDR_BUDGET_BEFORE, abs=0.011
    )
    widest = tornado_rows(result)[0]
    assert widest[0] == SDR_TORNADO_BEFORE[0]
    assert widest[1:] == pytest.approx(SDR_TORNADO_BEFORE[1:], rel=1e-9)


@pytest.mark.parametrize("counting", ["start", "end", "trapezoid", "half_cycle"])
def test_budget_years_sum_to_the_engines_undiscounted_costs(counting):
    from carefund.economics.budget import incremental_cost_by_year
    from carefund.economics.modelfile import load_model

    spec = load_model("sdr")
    spec = replace(spec, conventions=replace(spec.conventions, counting=counting))
    result = run_model(spec)
    uc, sdr = result.strategies
    per_child = incremental_cost_by_year(spec, intervention="sdr", comparator="usual_care", base=result.base)
    assert len(per_child) == spec.cycles
    assert sum(per_child) == pytest.approx(sdr.cost_undiscounted - uc.cost_undiscounted, rel=1e-10)


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
        assert result.psa is not None
        nmb = result.psa.qalys * lam - result.psa.cost
        best_on_average = int(np.argmax(nmb.mean(axis=0)))
        loss = (nmb.max(axis=1) - nmb[:, best_on_average]).mean()
        assert result.evpi(lam) == pytest.approx(loss, rel=1e-9, abs=1e-6)
        assert result.evpi(lam) >= 0
        evpis.append(result.evpi(lam))
    assert evpis[0] > 1  # near the ICER the decision is uncertain and information has value
    assert set(result.to_json()["psa"]["evpi_per_person"]) == {"20000", "30000"}


def test_psa_without_a_seed_draws_one_and_reports_it():
    result = run_model(toy("start"), psa=40)
    assert isinstance(result.seed, int) and 0 <= result.seed < 2**32
    again = run_model(toy("start"), psa=40, seed=result.seed)
    assert result.psa is not None and again.psa is not None
    assert np.array_equal(result.psa.cost, again.psa.cost)
    assert result.to_json()["psa"]["seed"] == result.seed


def test_a_parameter_named_like_an_engine_variable_is_refused_when_read():
    from carefund.economics.modelfile import ModelFileError

    with pytest.raises(ModelFileError) as info:
        parse_model(VALID.replace("[parameters.c_well]", "[parameters.time]"), file="toy.toml")
    assert info.value.key == "parameters.time"
    assert info.value.message.endswith("and not cycle, age, qx, time or a function name")
