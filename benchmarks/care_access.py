"""Cost of object-level access (`core.permissions.restrict_children`) on care reads, against the same read
without the access filter, same database, same run.

    .venv/bin/python -m benchmarks.care_access [--children 5000] [--repeat 200] [--postgres]

What it does:
1. makes a fresh SQLite database in a temporary folder (or, with --postgres, a fresh PostgreSQL database
   `carefund_bench_care` at 127.0.0.1:5432) and migrates it;
2. creates N children (bulk), one care plan each spread over the five SDR centres, a guardian for every child
   and one clinician per centre;
3. times, for each kind of reader, (a) one child's record as the pages fetch it (`care.selectors`, audit off so
   only the read is measured) against `Child.objects.get(pk=...)`, and (b) the list of children the reader may see
   against the same list unfiltered; prints each figure and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.ledger_post import setup_django, teardown

PG_NAME = "carefund_bench_care"


def seed(n_children: int) -> dict[str, Any]:
    import datetime as dt

    from django.contrib.auth.models import Group, User

    from carefund.care import rules
    from carefund.care.models import CarePlan, Child, Provider
    from carefund.core.crypto import encrypt_identifier, identifier_hash
    from carefund.core.roles import Role

    centres = [
        Provider.objects.create(name=f"Centre {i}", slug=f"centre-{i}", kind="nhs_trust", is_sdr_centre=True)
        for i in range(5)
    ]
    from carefund.care.tests.conftest import grant_care_roles

    grant_care_roles()  # the care permissions of each role, as `roles_sync` sets them after migrate
    guardian_group = Group.objects.get(name=Role.GUARDIAN.value)
    clinician_group = Group.objects.get(name=Role.CLINICIAN.value)
    caseworker = User.objects.create(username="bench-caseworker")
    caseworker.groups.add(Group.objects.get(name=Role.CASEWORKER.value))
    clinicians = []
    for centre in centres:
        user = User.objects.create(username=f"bench-clinician-{centre.pk}")
        user.groups.add(clinician_group)
        centre.clinicians.add(user)
        clinicians.append(user)
    guardians = User.objects.bulk_create(User(username=f"bench-guardian-{i}") for i in range(n_children))
    guardian_group.user_set.add(*guardians)
    key = encrypt_identifier("9990000018")  # the same ciphertext for all: encryption is not what is measured
    children = []
    n = 0
    seq = 100_000
    while n < n_children:
        number = rules.nhs_number_with_check_digit(f"999{seq:06d}")
        seq += 1
        if number is None:
            continue
        children.append(
            Child(
                first_name=f"Child{n}",
                last_name="Bench",
                date_of_birth=dt.date(2020, 1, 1),
                home_postcode="CT21 5AB",
                nhs_number_encrypted=key,
                nhs_number_hash=identifier_hash(number),
                nhs_number_last3=number[-3:],
                diagnosis="spastic diplegia",
                gmfcs_level=3,
            )
        )
        n += 1
    children = Child.objects.bulk_create(children)
    through = Child.guardians.through
    through.objects.bulk_create(through(child_id=c.pk, user_id=g.pk) for c, g in zip(children, guardians, strict=True))
    CarePlan.objects.bulk_create(
        CarePlan(
            child=c,
            provider=centres[i % 5],
            title="SDR",
            start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2028, 1, 1),
        )
        for i, c in enumerate(children)
    )
    return {"children": children, "guardians": guardians, "clinicians": clinicians, "caseworker": caseworker}


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds per call."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="carefund-bench-care-"))
    try:
        setup_django(postgres=args.postgres, workdir=workdir, pg_name=PG_NAME)
        from carefund.care import selectors
        from carefund.care.models import Child

        world = seed(args.children)
        target = world["children"][args.children // 2]
        readers = {
            "guardian (own child)": world["guardians"][args.children // 2],
            "clinician (centre)": world["clinicians"][(args.children // 2) % 5],
            "caseworker (all)": world["caseworker"],
        }
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(f"care access, {args.children} children, {backend}, median of {args.repeat} runs")
        one_base = timed(lambda: Child.objects.get(pk=target.pk), args.repeat)
        list_base = timed(lambda: list(Child.objects.values_list("pk", flat=True)), max(10, args.repeat // 10))
        print(f"  baseline one record (no access filter): {one_base * 1e6:8.0f} µs")
        print(f"  baseline list of all children:          {list_base * 1e3:8.2f} ms")
        for name, user in readers.items():
            one = timed(
                functools.partial(selectors.child_get_for_user, user=user, pk=target.pk, audit=False), args.repeat
            )
            many = timed(functools.partial(_child_ids_for, selectors, user), max(10, args.repeat // 10))
            print(
                f"  {name:22s} one record {one * 1e6:8.0f} µs (x{one / one_base:5.1f})   "
                f"list {many * 1e3:8.2f} ms (x{many / list_base:5.1f})"
            )
    finally:
        teardown(postgres=args.postgres, workdir=workdir, pg_name=PG_NAME)


def _child_ids_for(selectors: Any, user: Any) -> list[Any]:
    return list(selectors.children_for_user(user=user).values_list("pk", flat=True))


if __name__ == "__main__":
    main()
