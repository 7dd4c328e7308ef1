"""The counts: a petition's public count and its counts by area, kept in batches (docs/adr/0050-petition-counting.md).

Confirming a signature only marks it validated. `petition_count_refresh` then, under a lock on the petition row,
marks every validated signature not yet counted as counted and adds them to the petition and to its counts by area
in one UPDATE each. Two refreshes never count one signature twice (the lock serialises them and each marks what it
added); a signature confirmed while a refresh runs is left for the next. The count only goes up, except when a
moderator invalidates signatures (`signatures_invalidate`), which takes away exactly the counted ones it removes.

Freshness: each confirmation schedules, after commit, one refresh for the end of the current interval
(`PETITION_COUNT_INTERVAL_SECONDS`, 5 s) unless this server process already scheduled that one, so a burst of
confirmations brings one refresh per interval and process, and every confirmation is followed by a refresh that
starts after it committed. `carefund petitions recount` recounts from the signatures (drift repair)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count

from carefund.core import clock
from carefund.core.services import audit_record
from carefund.petitions import rules
from carefund.petitions.models import AreaCount, AreaKind, Petition, Signature, SignatureState

logger = logging.getLogger(__name__)

CHUNK = 2000
_AREA_FIELDS = (
    (AreaKind.CONSTITUENCY, "constituency_code"),
    (AreaKind.ICB, "icb_code"),
    (AreaKind.REGION, "region_code"),
    (AreaKind.COUNTRY, "location_code"),
)


def _tally(rows: Iterable[tuple[str, str, str, str]]) -> Counter[tuple[str, str]]:
    tally: Counter[tuple[str, str]] = Counter()
    for row in rows:
        for (kind, _), code in zip(_AREA_FIELDS, row, strict=True):
            tally[(kind.value, code)] += 1
    return tally


def _apply_area_changes(*, petition_id: int, changes: Counter[tuple[str, str]], sign: int) -> None:
    """Add (sign=1) or take away (sign=-1) the tallied signatures from the petition's counts by area. The caller
    holds the petition row's lock, so no other writer changes these rows meanwhile."""
    if not changes:
        return
    existing = {
        (a.kind, a.code): a
        for a in AreaCount.objects.filter(petition_id=petition_id, kind__in={k for k, _ in changes}).only(
            "id", "kind", "code", "signature_count"
        )
    }
    to_update, to_create = [], []
    for (kind, code), n in changes.items():
        row = existing.get((kind, code))
        if row is None:
            if sign > 0:
                to_create.append(AreaCount(petition_id=petition_id, kind=kind, code=code, signature_count=n))
            continue
        row.signature_count = max(0, row.signature_count + sign * n)
        to_update.append(row)
    AreaCount.objects.bulk_create(to_create)
    AreaCount.objects.bulk_update(to_update, ["signature_count"], batch_size=500)


def _stamp(petition: Petition, count: int, now: dt.datetime) -> None:
    stamped = rules.thresholds_after(
        count=count,
        thresholds=rules.Thresholds(
            response=petition.response_threshold,
            debate=petition.debate_threshold,
            response_reached_at=petition.response_threshold_reached_at,
            debate_reached_at=petition.debate_threshold_reached_at,
        ),
        now=now,
    )
    petition.signature_count = count
    petition.response_threshold_reached_at = stamped.response_reached_at
    petition.debate_threshold_reached_at = stamped.debate_reached_at
    petition.count_updated_at = now
    petition.save(
        update_fields=[
            "signature_count",
            "response_threshold_reached_at",
            "debate_threshold_reached_at",
            "count_updated_at",
        ]
    )


@transaction.atomic
def petition_count_refresh(*, petition_id: int) -> int:
    """Add the confirmed signatures not yet counted to the petition's counts; returns how many were added."""
    petition = Petition.objects.select_for_update().filter(pk=petition_id).first()
    if petition is None:
        return 0
    to_count = Signature.objects.filter(petition_id=petition_id, state=SignatureState.VALIDATED, counted=False)
    added = 0
    tally: Counter[tuple[str, str]] = Counter()
    while True:
        rows = list(to_count.order_by("id").values_list("id", *(field for _, field in _AREA_FIELDS))[:CHUNK])
        if not rows:
            break
        ids = [r[0] for r in rows]
        Signature.objects.filter(id__in=ids).update(counted=True)
        tally.update(_tally(r[1:] for r in rows))
        added += len(rows)
        if len(rows) < CHUNK:
            break
    if added:
        _apply_area_changes(petition_id=petition_id, changes=tally, sign=1)
    _stamp(petition, petition.signature_count + added, clock.now())
    return added


@transaction.atomic
def petition_recount(*, petition_id: int) -> int:
    """Count the petition again from its signatures (counts by area too) and return the count: the repair for any
    drift, run by `carefund petitions recount`. Confirmed signatures not yet counted are counted now."""
    petition = Petition.objects.select_for_update().get(pk=petition_id)
    Signature.objects.filter(petition_id=petition_id, state=SignatureState.VALIDATED, counted=False).update(
        counted=True
    )
    counted = Signature.objects.filter(petition_id=petition_id, counted=True)
    AreaCount.objects.filter(petition_id=petition_id).delete()
    rows = []
    for kind, field in _AREA_FIELDS:
        for code, n in counted.values_list(field).annotate(n=Count("id")).order_by().values_list(field, "n"):
            rows.append(AreaCount(petition_id=petition_id, kind=kind, code=code, signature_count=n))
    AreaCount.objects.bulk_create(rows)
    total = counted.count()
    before = petition.signature_count
    _stamp(petition, total, clock.now())
    if total != before:
        audit_record(
            actor=None,
            action="petition.recounted",
            target=petition,
            summary=f"Recounted: {before} -> {total}",
            details={"before": before, "after": total},
        )
    return total


def uncount(*, petition: Petition, signature_ids: list[int]) -> int:
    """Take counted signatures (already locked with the petition by the caller) out of the counts; returns how
    many. Used by invalidation; the thresholds are cleared if the count drops below them."""
    rows = list(
        Signature.objects.filter(id__in=signature_ids, counted=True).values_list(
            "id", *(field for _, field in _AREA_FIELDS)
        )
    )
    if not rows:
        return 0
    Signature.objects.filter(id__in=[r[0] for r in rows]).update(counted=False)
    _apply_area_changes(petition_id=petition.pk, changes=_tally(r[1:] for r in rows), sign=-1)
    _stamp(petition, max(0, petition.signature_count - len(rows)), clock.now())
    return len(rows)


def petition_count_refresh_soon(*, petition_id: int) -> None:
    """After the current transaction commits, make sure a refresh of this petition's counts runs at the end of the
    current interval (one per interval and server process, however many confirmations)."""
    transaction.on_commit(lambda: _schedule(petition_id), robust=True)


def _schedule(petition_id: int) -> None:
    from carefund.petitions import conf
    from carefund.petitions.schedule import enqueue_once_per_interval
    from carefund.petitions.tasks import petition_count_refresh_task

    interval = conf.count_interval_seconds()
    if interval <= 0:
        petition_count_refresh(petition_id=petition_id)
        return
    enqueue_once_per_interval(
        petition_count_refresh_task, key=f"count:{petition_id}", interval=interval, petition_id=petition_id
    )
