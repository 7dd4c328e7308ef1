"""Table-driven tests of the pure funding rules (no database)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carefund.funding.rules import (
    AllocationState,
    ProgrammeCover,
    Ranked,
    UrgencyCandidate,
    WaitingEntry,
    WaterfallInput,
    WaterfallItem,
    ages_out_on,
    allocation_left,
    allocation_refusal,
    fill_down_ranking,
    rank_urgency,
    surplus,
    waiting_list_order,
    waterfall,
)

D = dt.date
CTE = ProgrammeCover(name="CtE", categories=frozenset({"surgery"}))
NHSE18 = ProgrammeCover(
    name="2018", categories=frozenset({"surgery"}), capped_category="rehabilitation", cap_pence=300_000
)


def item(i: int, category: str, cost: int, state: str = "planned", paid: int = 0, day: int = 1) -> WaterfallItem:
    return WaterfallItem(i, f"{category} {i}", category, cost, state, D(2015, 1, day), paid)


# (name, input, expected (nhs, spent, committed, unfunded, charity_share, surplus), expected payers)
CASES = [
    (
        "no programme, fund covers all, money left is surplus",
        WaterfallInput((item(1, "surgery", 1_000_000), item(2, "rehabilitation", 4_000_000, day=2)), 6_000_000),
        (0, 0, 5_000_000, 0, 5_000_000, 1_000_000),
        ("fund", "fund"),
    ),
    (
        "CtE pays the surgery, fund pays the rest: surgery money becomes surplus",
        WaterfallInput(
            (item(1, "surgery", 1_000_000), item(2, "rehabilitation", 4_000_000, day=2)), 5_000_000, programme=CTE
        ),
        (1_000_000, 0, 4_000_000, 0, 4_000_000, 1_000_000),
        ("nhs", "fund"),
    ),
    (
        "fund short: grant then unfunded",
        WaterfallInput(
            (item(1, "surgery", 1_000_000), item(2, "rehabilitation", 4_000_000, day=2)), 2_000_000, grant_pence=500_000
        ),
        (0, 0, 2_500_000, 2_500_000, 4_500_000, 0),
        ("fund", "mixed"),
    ),
    (
        "2018 policy pays surgery and rehabilitation up to its cap",
        WaterfallInput(
            (
                item(1, "surgery", 1_000_000),
                item(2, "rehabilitation", 200_000, day=2),
                item(3, "rehabilitation", 200_000, day=3),
            ),
            0,
            programme=NHSE18,
        ),
        (1_300_000, 0, 0, 100_000, 100_000, 0),
        ("nhs", "nhs", "mixed"),
    ),
    (
        "2018 cap exhausted part way: the rest is unfunded",
        WaterfallInput(
            (item(1, "rehabilitation", 200_000), item(2, "rehabilitation", 200_000, day=2)), 0, programme=NHSE18
        ),
        (300_000, 0, 0, 100_000, 100_000, 0),
        ("nhs", "mixed"),
    ),
    (
        "paid items count as spent; cancelled items cost nothing",
        WaterfallInput(
            (
                item(1, "surgery", 1_000_000, state="paid", paid=1_000_000),
                item(2, "travel", 50_000, state="cancelled", day=2),
            ),
            0,
        ),
        (0, 1_000_000, 0, 0, 1_000_000, 0),
        ("paid", "cancelled"),
    ),
    (
        "contingency of 10% of the remaining need is held back from the surplus",
        WaterfallInput((item(1, "rehabilitation", 1_000_000),), 1_500_000, contingency_basis_points=1000),
        (0, 0, 1_000_000, 0, 1_000_000, 400_000),
        ("fund",),
    ),
]


@pytest.mark.parametrize(("name", "inp", "totals", "payers"), CASES, ids=[c[0] for c in CASES])
def test_waterfall_table(name: str, inp: WaterfallInput, totals: tuple[int, ...], payers: tuple[str, ...]) -> None:
    r = waterfall(inp)
    assert (
        r.nhs_pence,
        r.spent_pence,
        r.committed_pence,
        r.unfunded_pence,
        r.charity_share_pence,
        r.surplus_pence,
    ) == totals
    assert tuple(line.payer for line in r.lines) == payers
    assert all(line.explanation for line in r.lines)


def test_waterfall_explanations_name_payers_and_amounts() -> None:
    r = waterfall(
        WaterfallInput(
            (item(1, "surgery", 1_000_000), item(2, "rehabilitation", 4_000_000, day=2)), 3_000_000, programme=CTE
        )
    )
    assert r.lines[0].explanation == "Paid by the NHS (CtE): £10,000.00; the charity's funds are not used."
    assert r.lines[1].explanation == "£30,000.00 from the child's fund; £10,000.00 not yet funded."


def test_waterfall_orders_by_planned_date() -> None:
    r = waterfall(WaterfallInput((item(2, "rehabilitation", 100, day=5), item(1, "surgery", 100, day=9)), 100))
    assert [(line.item_id, line.payer) for line in r.lines] == [(2, "fund"), (1, "unfunded")]


items_st = st.lists(
    st.builds(
        WaterfallItem,
        item_id=st.integers(1, 10_000),
        description=st.just("x"),
        category=st.sampled_from(["surgery", "rehabilitation", "travel"]),
        cost_pence=st.integers(0, 5_000_000),
        state=st.sampled_from(["planned", "booked", "cancelled"]),
        planned_date=st.none() | st.dates(D(2014, 1, 1), D(2020, 1, 1)),
    ),
    max_size=8,
)


@given(items=items_st, balance=st.integers(0, 10_000_000), grant=st.integers(0, 1_000_000), cte=st.booleans())
def test_waterfall_loses_no_penny(items: list[WaterfallItem], balance: int, grant: int, cte: bool) -> None:
    r = waterfall(WaterfallInput(tuple(items), balance, grant, CTE if cte else None, 500))
    for line in r.lines:
        if line.payer != "cancelled":
            assert (
                line.nhs_pence + line.paid_pence + line.fund_pence + line.grant_pence + line.unfunded_pence
                == line.cost_pence
            )
    assert r.funded_pence + r.unfunded_pence == r.plan_cost_pence
    assert sum(line.fund_pence for line in r.lines) <= balance
    assert 0 <= r.surplus_pence <= balance
    assert r.surplus_pence == 0 or r.unfunded_pence == 0


@pytest.mark.parametrize(
    ("balance", "need", "bp", "expected"),
    [
        (1000, 0, 1000, (1000, 0)),
        (1000, 500, 1000, (450, 50)),
        (1000, 999, 1000, (0, 100)),
        (0, 10, 0, (0, 0)),
        (10, 3, 5000, (5, 2)),
    ],
)
def test_surplus_table(balance: int, need: int, bp: int, expected: tuple[int, int]) -> None:
    assert surplus(fund_balance_pence=balance, remaining_need_pence=need, contingency_basis_points=bp) == expected


@pytest.mark.parametrize(
    ("state", "cost", "left", "refusal"),
    [
        (AllocationState(10, None, 3, 0, 2, 0), 100, (5, None), ""),
        (AllocationState(2, None, 1, 0, 1, 0), 100, (0, None),
         "no funded procedures left (allocation 2, all used or committed)"),
        (AllocationState(None, 2_000_000, 0, 1_000_000, 0, 500_000), 1_000_000, (None, 500_000),
         "the budget left, £5,000.00, is less than the cost £10,000.00"),
        (AllocationState(3, 3_000_000, 1, 1_000_000, 0, 0), 1_000_000, (2, 2_000_000), ""),
    ],
)  # fmt: skip
def test_allocation_table(state: AllocationState, cost: int, left: tuple[int | None, int | None], refusal: str) -> None:
    r = allocation_left(state)
    assert (r.procedures, r.budget_pence) == left
    assert allocation_refusal(state, cost_pence=cost) == refusal


def test_waiting_list_order_window_then_date_then_id() -> None:
    entries = [
        WaitingEntry(1, D(2015, 1, 1), D(2017, 1, 1)),
        WaitingEntry(2, D(2015, 2, 1), D(2016, 1, 1)),
        WaitingEntry(3, D(2014, 12, 1), None),
        WaitingEntry(4, D(2014, 12, 1), D(2017, 1, 1)),
        WaitingEntry(5, D(2014, 12, 1), D(2017, 1, 1)),
    ]
    assert [e.request_id for e in waiting_list_order(entries)] == [2, 4, 5, 1, 3]


@pytest.mark.parametrize(
    ("dob", "max_age", "expected"),
    [(D(2008, 5, 3), 10, D(2019, 5, 3)), (D(2008, 2, 29), 9, D(2018, 3, 1)), (D(2012, 2, 29), 3, D(2016, 2, 29))],
)
def test_ages_out_on(dob: dt.date, max_age: int, expected: dt.date) -> None:
    assert ages_out_on(dob, max_age) == expected


TODAY = D(2017, 1, 1)


def cand(i: int, **kw: object) -> UrgencyCandidate:
    base: dict[str, object] = dict(
        child_id=i, name=f"C{i}", eligible=True, ineligible_reason="", gap_pence=1_000_000,
        ages_out_on=None, surgery_booked_on=None, waiting_since=None,
    )  # fmt: skip
    base.update(kw)
    return UrgencyCandidate(**base)  # type: ignore[arg-type]


RANK_CASES = [
    (
        "window closing beats a bigger gap",
        [cand(1, gap_pence=10_000_000), cand(2, ages_out_on=D(2017, 3, 1))],
        [(2, 335 + 50), (1, 100)],
    ),
    (
        "booked surgery soon earns points, more the sooner",
        [cand(1, surgery_booked_on=D(2017, 6, 30)), cand(2, surgery_booked_on=D(2017, 2, 1))],
        [(2, 248 + 50), (1, 0 + 50)],
    ),
    (
        "time waiting, capped at 200; ties by the longer wait then child id",
        [cand(3, waiting_since=D(2016, 12, 1)), cand(1, waiting_since=D(2010, 1, 1)), cand(2)],
        [(1, 250), (3, 60), (2, 50)],
    ),
]


@pytest.mark.parametrize(("name", "cands", "expected"), RANK_CASES, ids=[c[0] for c in RANK_CASES])
def test_rank_urgency_table(name: str, cands: list[UrgencyCandidate], expected: list[tuple[int, int]]) -> None:
    r = rank_urgency(cands, today=TODAY)
    assert [(x.child_id, x.points) for x in r.ranked] == expected
    assert [x.rank for x in r.ranked] == list(range(1, len(expected) + 1))


def test_rank_urgency_reasons_and_exclusions() -> None:
    r = rank_urgency(
        [
            cand(1, ages_out_on=D(2017, 3, 1), waiting_since=D(2016, 10, 1)),
            cand(2, eligible=False, ineligible_reason="GMFCS level 5 is not II or III"),
            cand(3, gap_pence=0),
            cand(4, ages_out_on=D(2016, 12, 31)),
        ],
        today=TODAY,
    )
    assert r.ranked[0].reasons == (
        "eligibility window closes in 59 days, on 01 Mar 2017 (+335)",
        "waiting 92 days since 01 Oct 2016 (+30)",
        "gap of £10,000.00 (+50)",
    )
    assert r.ranked[0].points == 415
    assert r.excluded == (
        (2, "C2", "not eligible: GMFCS level 5 is not II or III"),
        (3, "C3", "no gap: the plan is fully funded"),
        (4, "C4", "aged out of the eligibility window on 31 Dec 2016"),
    )


@given(gaps=st.lists(st.integers(0, 5_000_000), max_size=10), available=st.integers(-10, 20_000_000))
def test_fill_down_ranking_loses_no_penny(gaps: list[int], available: int) -> None:
    ranked = [
        Ranked(child_id=i + 1, name="x", rank=i + 1, points=0, gap_pence=g, reasons=()) for i, g in enumerate(gaps)
    ]
    shares = fill_down_ranking(ranked, available_pence=available)
    assert sum(a for _, a in shares) == min(max(0, available), sum(gaps))
    assert all(0 < a <= gaps[cid - 1] for cid, a in shares)
    # Higher-ranked children are filled completely before anyone below them gets anything.
    assert all(a == gaps[cid - 1] for cid, a in shares[:-1])


def test_fill_down_ranking_table() -> None:
    ranked = [Ranked(7, "A", 1, 400, 300, ()), Ranked(3, "B", 2, 100, 500, ()), Ranked(9, "C", 3, 10, 50, ())]
    assert fill_down_ranking(ranked, available_pence=600) == [(7, 300), (3, 300)]
    assert fill_down_ranking(ranked, available_pence=10_000) == [(7, 300), (3, 500), (9, 50)]
    assert fill_down_ranking(ranked, available_pence=0) == []


@st.composite
def items_in_every_state(draw: st.DrawFn) -> tuple[WaterfallItem, ...]:
    """Items in every state, a paid one carrying a payment of up to its cost (the older property leaves these out)."""
    out = []
    for i in range(draw(st.integers(0, 8))):
        cost = draw(st.integers(0, 5_000_000))
        state = draw(st.sampled_from(["planned", "booked", "delivered", "invoiced", "paid", "cancelled"]))
        paid = draw(st.integers(0, cost)) if state == "paid" else 0
        category = draw(st.sampled_from(["surgery", "rehabilitation", "travel"]))
        day = draw(st.none() | st.dates(D(2014, 1, 1), D(2020, 1, 1)))
        out.append(WaterfallItem(i + 1, "x", category, cost, state, day, paid))
    return tuple(out)


@given(
    items=items_in_every_state(),
    balance=st.integers(0, 10_000_000),
    grant=st.integers(0, 1_000_000),
    programme=st.sampled_from([None, CTE, NHSE18]),
    basis_points=st.integers(0, 5000),
)
def test_waterfall_adds_up_in_every_state_and_under_a_capped_programme(
    items: tuple[WaterfallItem, ...], balance: int, grant: int, programme: ProgrammeCover | None, basis_points: int
) -> None:
    r = waterfall(WaterfallInput(items, balance, grant, programme, basis_points))
    for line in r.lines:
        if line.payer != "cancelled":
            parts = line.nhs_pence + line.paid_pence + line.fund_pence + line.grant_pence + line.unfunded_pence
            assert parts == line.cost_pence
    assert r.plan_cost_pence == sum(i.cost_pence for i in items if i.state != "cancelled")
    assert r.funded_pence + r.unfunded_pence == r.plan_cost_pence
    assert r.nhs_pence <= sum(i.cost_pence for i in items if i.state != "cancelled")
    # money already paid from the child's fund is always stated as spent, even where the NHS covers the item
    assert r.spent_pence == sum(min(i.paid_pence, i.cost_pence) for i in items if i.state != "cancelled")
    if programme is NHSE18:
        capped = sum(
            line.nhs_pence
            for line, i in zip(r.lines, sorted_items(items), strict=True)
            if i.category == "rehabilitation"
        )
        assert capped <= NHSE18.cap_pence
    assert 0 <= r.surplus_pence <= balance
    assert r.surplus_pence == 0 or r.unfunded_pence == 0


def sorted_items(items: tuple[WaterfallItem, ...]) -> list[WaterfallItem]:
    return sorted(items, key=lambda i: (i.planned_date is None, i.planned_date or D.min, i.item_id))


def test_the_nhs_pays_only_for_the_plans_it_approved() -> None:
    # Regression: an approved programme paid its categories in every plan of the child, so a second operation in
    # a plan the NHS never approved showed as NHS-funded (and its provider's invoice was refused as "NHS-paid").
    cover = ProgrammeCover(name="CtE", categories=frozenset({"surgery"}), plan_ids=frozenset({1}))
    first = WaterfallItem(1, "SDR", "surgery", 1_000_000, "planned", D(2015, 6, 1), plan_id=1)
    second = WaterfallItem(2, "Second operation", "surgery", 800_000, "planned", D(2016, 6, 1), plan_id=2)
    r = waterfall(WaterfallInput((first, second), 300_000, programme=cover))
    assert [(line.payer, line.nhs_pence, line.fund_pence, line.unfunded_pence) for line in r.lines] == [
        ("nhs", 1_000_000, 0, 0),
        ("mixed", 0, 300_000, 500_000),
    ]
    assert (r.nhs_pence, r.charity_share_pence) == (1_000_000, 800_000)


def test_what_the_fund_paid_before_the_nhs_approved_stays_spent_and_the_nhs_covers_the_rest() -> None:
    # the fund paid £2,000 of the surgery's £10,000 before the NHS programme approved it
    paid_early = WaterfallItem(1, "SDR surgery", "surgery", 1_000_000, "paid", D(2016, 3, 1), 200_000)
    r = waterfall(WaterfallInput((paid_early,), 0, 0, CTE, 0))
    [line] = r.lines
    assert (line.nhs_pence, line.paid_pence, line.fund_pence, line.unfunded_pence) == (800_000, 200_000, 0, 0)
    assert (r.spent_pence, r.nhs_pence, r.funded_pence) == (200_000, 800_000, 1_000_000)
    assert "£2,000.00 already paid from the child's fund" in line.explanation
    assert "commissioner may be asked to reimburse" in line.explanation
