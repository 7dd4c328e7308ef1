"""The outcomes evaluation at 10,000 children and the family's chart page, each beside a baseline from the same run.

    .venv/bin/python -m benchmarks.outcomes_evaluation [--children 10000] [--repeat 3] [--page-repeat 200]

1. Builds a synthetic cohort in memory: `--children` children at five centres, 5 time points each (baseline, 6, 12,
   24 and 36 months), every analysed measure (GMFM-66, the seven CP-QoL domains, pain: 9 measures, 450,000 values
   at 10,000 children), about 5% of visits missed and 12% of children with an adverse event.
2. Times `outcomes.evaluation.evaluate` on it (every table: paired change per time point, the mixed model per centre
   and overall for every measure, natural history, adverse events, suppression) against the baseline of one pandas
   group-by mean of the same values by measure, centre and time point; prints the median of `--repeat` runs.
3. In a fresh SQLite database (a temporary folder), writes the same cohort's rows in bulk and times the whole path
   `selectors.evaluation_run` (reading the rows through the ORM, then evaluating) against the same baseline.
4. Times the family's chart page `GET /outcomes/children/<id>/` (signed in as the guardian; all 9 measures at 4 time
   points, every read audited) against `GET /health/` in the same process, alternately; prints medians and p99.

The machine is shared: repeat the run and report the range (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MEASURES = ["gmfm66", *[f"cpqol-{d}" for d in ("social", "functioning", "participation", "emotional", "services",
                                                "family", "pain")], "pain"]  # fmt: skip
MONTHS = [0, 6, 12, 24, 36]
CENTRES = ["Alder Hey", "Great Ormond Street", "Leeds", "Nottingham", "Bristol"]


def synthetic(n: int, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    child = np.arange(1, n + 1)
    centre = np.array(CENTRES)[rng.integers(0, 5, n)]
    gmfcs = np.where(rng.random(n) < 0.35, 2, 3)
    age = np.clip(rng.normal(6.0, 1.8, n), 3, 9.9)
    rows_child, rows_measure, rows_months, rows_value, rows_years = [], [], [], [], []
    for m_index, measure in enumerate(MEASURES):
        base = rng.normal(50, 10, n)
        slope = rng.normal(3.2 if m_index == 0 else 2.0, 1.5, n)
        for months in MONTHS:
            keep = rng.random(n) > (0.05 if months else 0.0)
            years = months / 12 + rng.normal(0, 0.04, n) - (0.05 if months == 0 else 0)
            value = base + slope * np.maximum(years, 0) + rng.normal(0, 2, n)
            rows_child.append(child[keep])
            rows_measure.append(np.full(keep.sum(), measure))
            rows_months.append(np.full(keep.sum(), months))
            rows_value.append(value[keep])
            rows_years.append(years[keep])
    obs = pd.DataFrame(
        {
            "child": np.concatenate(rows_child),
            "measure": np.concatenate(rows_measure),
            "months": np.concatenate(rows_months),
            "value": np.concatenate(rows_value),
            "years": np.concatenate(rows_years),
        }
    )
    children = pd.DataFrame({"centre": centre, "gmfcs": gmfcs, "age_years": age}, index=pd.Index(child, name="child"))
    closed = pd.DataFrame({"child": np.repeat(child, len(MONTHS)), "months": np.tile(MONTHS, n)})
    with_event = child[rng.random(n) < 0.12]
    adverse = pd.DataFrame(
        {
            "child": with_event,
            "severity": np.where(rng.random(len(with_event)) < 0.15, "severe", "mild"),
            "surgery_related": rng.random(len(with_event)) < 0.7,
        }
    )
    return {"obs": obs, "children": children, "closed": closed, "adverse": adverse}


def median_seconds(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of `repeat` calls (the machine is shared: CPU time shows the work)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def report(label: str, figures: tuple[float, float], base: tuple[float, float], goal: float) -> None:
    wall, cpu = figures
    verdict = "met" if wall < goal else "NOT met"
    print(
        f"  {label:<34} {wall:8.3f} s wall {cpu:8.3f} s CPU   ratio {wall / base[0]:6.1f}   "
        f"goal < {goal:g} s: {verdict}"
    )


def bench_pure(data: dict[str, Any], repeat: int) -> None:
    from carefund.outcomes import evaluation

    cohort = evaluation.Cohort(data["obs"], data["children"], data["closed"], data["adverse"], synthetic=True)
    infos = [evaluation.MeasureInfo(m, m) for m in MEASURES]

    def baseline() -> Any:
        return (
            data["obs"]
            .merge(data["children"], left_on="child", right_index=True)
            .groupby(["measure", "centre", "months"])["value"]
            .mean()
        )

    base = median_seconds(baseline, repeat)
    full = median_seconds(lambda: evaluation.evaluate(cohort, infos, MONTHS), repeat)
    n = len(data["children"])
    print(
        f"evaluate, {n:,} children x {len(MONTHS)} time points x {len(MEASURES)} measures ({len(data['obs']):,} values)"
    )
    print(f"  {'baseline (one group-by mean)':<34} {base[0]:8.3f} s wall {base[1]:8.3f} s CPU")
    report("evaluate (every table)", full, base, 10)


def setup_django(workdir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["DEBUG"] = "0"
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["CAREFUND_VAR_DIR"] = str(workdir)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.STATIC_ROOT = workdir / "static"  # the pages' static files as in production, in the temporary folder
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def load_database(data: dict[str, Any]) -> Any:
    """Write the cohort as registry rows in bulk (children, enrolments with consent, observations, events)."""
    from carefund.care.models import Child, Provider, ProviderKind
    from carefund.core import clock
    from carefund.outcomes import services
    from carefund.outcomes.models import AdverseEvent, Enrolment, Measure, Observation, TimePoint
    from carefund.outcomes.rules import Window

    centres = [
        Provider.objects.create(name=name, slug=f"bench-{i}", kind=ProviderKind.NHS_TRUST, is_sdr_centre=True)
        for i, name in enumerate(CENTRES)
    ]
    schedule = [Window(m, f"{m} months", 183 if m == 0 else 60, 0 if m == 0 else 60) for m in MONTHS]
    programme = services.programme_upsert(slug="bench", name="bench", centres=centres, schedule=schedule, actor=None)
    children = data["children"]
    today = dt.date(2026, 1, 1)
    surgery = today - dt.timedelta(days=4 * 365)
    kids = Child.objects.bulk_create(
        [
            Child(
                first_name=f"B{c}",
                last_name="Bench",
                date_of_birth=surgery - dt.timedelta(days=int(a * 365.25)),
                home_postcode="ZZ99 9ZZ",
                nhs_number_encrypted="x",
                nhs_number_hash=f"h{c}",
                nhs_number_last3="000",
                diagnosis="bench",
                gmfcs_level=int(g),
            )
            for c, g, a in zip(children.index, children["gmfcs"], children["age_years"], strict=True)
        ],
        batch_size=2000,
    )
    by_name = {c.name: c for c in centres}
    now = clock.now()
    enrolments = Enrolment.objects.bulk_create(
        [
            Enrolment(programme=programme, child=k, centre=by_name[c], surgery_date=surgery, consent_given_at=now)
            for k, c in zip(kids, children["centre"], strict=True)
        ],
        batch_size=2000,
    )
    enrol_of = dict(zip(children.index, [e.pk for e in enrolments], strict=True))
    measure_ids = {}
    for slug in MEASURES:
        measure_ids[slug] = Measure.objects.get(slug=slug).pk
    tp_ids = dict(TimePoint.objects.filter(programme=programme).values_list("months", "pk"))
    obs = data["obs"]
    Observation.objects.bulk_create(
        (
            Observation(
                enrolment_id=enrol_of[c],
                measure_id=measure_ids[m],
                time_point_id=tp_ids[mo],
                value=float(v),
                observed_on=surgery + dt.timedelta(days=round(y * 365.25)),
                assessor="bench",
                recorded_at=now,
            )
            for c, m, mo, v, y in zip(
                obs["child"], obs["measure"], obs["months"], obs["value"], obs["years"], strict=True
            )
        ),
        batch_size=5000,
    )
    adverse = data["adverse"]
    AdverseEvent.objects.bulk_create(
        [
            AdverseEvent(enrolment_id=enrol_of[c], occurred_on=surgery, description="bench", severity=s,
                         surgery_related=bool(r), recorded_at=now)
            for c, s, r in zip(adverse["child"], adverse["severity"], adverse["surgery_related"], strict=True)
        ]
    )  # fmt: skip
    return programme


def bench_database(data: dict[str, Any], repeat: int) -> None:
    from carefund.outcomes import selectors

    start = time.perf_counter()
    programme = load_database(data)
    print(f"  (rows written in {time.perf_counter() - start:.1f} s)")

    def baseline() -> Any:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT measure_id, time_point_id, AVG(value) FROM outcomes_observation "
                "WHERE is_current GROUP BY measure_id, time_point_id"
            )
            return cursor.fetchall()

    base = median_seconds(baseline, repeat)
    full = median_seconds(lambda: selectors.evaluation_run(programme=programme), repeat)
    print("evaluation_run from the database (SQLite), the same cohort")
    print(f"  {'baseline (one SQL group-by mean)':<34} {base[0]:8.3f} s wall {base[1]:8.3f} s CPU")
    report("evaluation_run (read + every table)", full, base, 10)


def bench_page(repeat: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from carefund.care.models import CarePlan, Child, Provider
    from carefund.core.roles import Role
    from carefund.outcomes import services
    from carefund.outcomes.models import EvaluationProgramme, Measure

    centre = Provider.objects.get(slug="bench-3")
    child = Child.objects.create(
        first_name="James", last_name="Page", date_of_birth=dt.date(2019, 1, 1), home_postcode="CT21 5AB",
        nhs_number_encrypted="x", nhs_number_hash="page", nhs_number_last3="000", diagnosis="CP", gmfcs_level=3,
    )  # fmt: skip
    CarePlan.objects.create(child=child, provider=centre, title="SDR", start_date=dt.date(2024, 1, 1),
                            end_date=dt.date(2026, 1, 1))  # fmt: skip
    guardian = get_user_model().objects.create_user("bench-guardian", password="x")
    guardian.groups.add(Group.objects.get(name=Role.GUARDIAN.value))
    child.guardians.add(guardian)
    programme = EvaluationProgramme.objects.get(slug="bench")
    surgery = dt.date(2024, 1, 15)
    enrolment = services.enrolment_create(
        programme=programme, child=child, centre=centre, surgery_date=surgery, actor=None
    )
    for tp in programme.time_points.filter(months__lte=24):
        on = surgery - dt.timedelta(days=10) if tp.months == 0 else surgery + dt.timedelta(days=int(tp.months * 30.44))
        for slug in MEASURES:
            m = Measure.objects.get(slug=slug)
            services.observation_record(enrolment=enrolment, measure=m, time_point=tp, value=5.0 + tp.months / 6,
                                        observed_on=on, assessor="bench", actor=None)  # fmt: skip
    client = Client()
    client.force_login(guardian)
    url = f"/outcomes/children/{child.pk}/"
    assert client.get(url).status_code == 200 and client.get("/health/").status_code == 200
    page_times: list[float] = []
    health_times: list[float] = []
    page_cpu: list[float] = []
    for _ in range(repeat):
        for path, sink in ((url, page_times), ("/health/", health_times)):
            start, cpu = time.perf_counter(), time.process_time()
            response = client.get(path)
            sink.append(time.perf_counter() - start)
            if path == url:
                page_cpu.append(time.process_time() - cpu)
            assert response.status_code == 200
    page_times.sort()
    health_times.sort()
    p99 = max(0, int(len(page_times) * 0.99) - 1)
    page_ms, health_ms = statistics.median(page_times) * 1000, statistics.median(health_times) * 1000
    print(f"family chart page ({len(MEASURES)} measures x 4 time points), {repeat} requests each, alternating")
    print(f"  GET /health/ (baseline):       median {health_ms:6.2f} ms   p99 {health_times[p99] * 1000:6.2f} ms")
    print(f"  GET /outcomes/children/<id>/:  CPU median {statistics.median(page_cpu) * 1000:6.2f} ms")
    print(f"  GET /outcomes/children/<id>/:  median {page_ms:6.2f} ms   p99 {page_times[p99] * 1000:6.2f} ms   "
          f"ratio {page_ms / health_ms:5.1f}   goal < 50 ms: {'met' if page_ms < 50 else 'NOT met'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--page-repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    data = synthetic(args.children)
    bench_pure(data, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp))
        bench_database(data, args.repeat)
        bench_page(args.page_repeat)


if __name__ == "__main__":
    main()
