"""The webhook confirmer: applies the checkout completions the webhook answered at once
(`campaigns.services.webhook_confirm_queued`: those in the spool, carefund/campaigns/spool.py, and those queued in
the database), deletes the spool's segments it has read to the end, then has the children's funding waterfalls
recomputed (campaigns cannot call funding, so this edge does, as the webhook view does for the events it applies
itself).

Two ways it runs (docs/adr/0020-payment-webhooks.md, "Confirm after answering"):
- `carefund webhooks confirm --watch 0.1`, a process of its own beside the server (`make run` starts it): it looks
  for queued events every 100 ms (one read of a partial index) and posts what it finds in one transaction. A process
  rather than a thread of the server: the work needs the interpreter lock, which the server's request threads would
  otherwise wait for (measured: docs/benchmarks.md, "Giving");
- a fallback thread in every server worker (started by config/gunicorn.conf.py) that posts events left queued for
  more than `WEBHOOK_CONFIRM_FALLBACK_AFTER_SECONDS`, so gifts are still confirmed within seconds if the process
  above is not running, and asks for the fees of the gifts it confirmed. Both may run at once: an event is applied
  once (the database decides), and a fee is posted once (`donation_fee_record` locks the gift).

The process also asks the provider for the fees of gifts confirmed without one, in a thread of its own
(`FeesFiller`), so that the provider's answers never hold up posting: Stripe's webhook does not carry the fee, so
each Stripe gift's fee is asked for moments after it is confirmed, once (`FreshFees`: after a pass that confirmed
gifts, and every `FRESH_FEES_EVERY` for gifts confirmed elsewhere, by the server's fallback confirmer); and every
`WEBHOOK_FEES_FILL_SECONDS` (and at the start) for every fee still unknown (`fees_fill`)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from carefund.campaigns import services
from carefund.core import clock
from carefund.funding.tasks import waterfall_recompute_after_commit

logger = logging.getLogger(__name__)

BATCH = 500  # events per database transaction


def drain(*, limit: int = BATCH, older_than: dt.timedelta | None = None) -> services.ConfirmReport:
    """Apply every queued event (received before `older_than` ago, if given) in transactions of up to `limit`, and
    enqueue the affected children's waterfall recomputations; returns the totals."""
    total = services.ConfirmReport()
    while True:
        report = services.webhook_confirm_queued(limit=limit, older_than=older_than)
        for child_id in sorted(report.child_ids):
            try:
                waterfall_recompute_after_commit(child_id=child_id, reason="gifts were confirmed online")
            except DatabaseError:
                # the gifts are committed; the next change to the child's fund or plan recomputes anyway
                logger.exception("could not enqueue the waterfall recomputation of child %s", child_id)
        total.applied += report.applied
        total.refused += report.refused
        total.left_queued += report.left_queued
        total.child_ids |= report.child_ids
        total.spooled += report.spooled
        # all done, or the rest waits for the next pass
        if (report.count < limit and report.spooled < limit) or report.left_queued:
            try:
                services.webhook_spool_tidy()
            except (DatabaseError, OSError):
                logger.exception("webhook confirmer: could not tidy the spool; it is retried at the next pass")
            return total


def _pass(older_than: dt.timedelta | None) -> int:
    """One pass that never raises: a failure is logged, the events stay queued and the next pass retries them.
    Returns how many events it applied."""
    try:
        report = drain(older_than=older_than)
    except Exception:
        logger.exception("webhook confirmer: a pass failed; the events stay queued and are retried")
        connection.close()
        time.sleep(1)
        return 0
    if not connection.in_atomic_block:  # a caller's transaction (a test) keeps its connection
        close_old_connections()
    return report.applied


class FullFees:
    """Asks for every fee still unknown, `limit` gifts a run, going on from the last gift the previous run asked
    (then from the start again), so that fees Stripe never gives (a charge made with other keys, a fee not in
    pounds) cannot take every run's places and keep later gifts from ever being asked; never raises: a failure is
    logged and the next run asks again."""

    def __init__(self, *, limit: int = 200) -> None:
        self.limit = limit
        self._after = 0

    def __call__(self) -> None:
        try:
            filled = services.donation_fees_fill(limit=self.limit, after_pk=self._after)
        except Exception:
            logger.exception("webhook confirmer: asking the provider for late fees failed; asked again next time")
            connection.close()
            return
        self._after = filled.asked[-1] if filled.asked else 0
        if filled.recorded:
            logger.info("webhook confirmer: %s late fee(s) posted, %s pence", filled.recorded, filled.recorded_pence)


fees_fill = FullFees()


# A run for fresh gifts looks this far back before the start of the one before it: a gift confirmed in a transaction
# that committed after that run had read (by another process) is still asked for.
FRESH_FEES_OVERLAP = dt.timedelta(seconds=60)
# How often the confirmer looks for fresh gifts without a fee even when it confirmed none itself.
FRESH_FEES_EVERY = 10.0


class FreshFees:
    """Asks for the fees of gifts confirmed since its previous run, each gift once (`services.donation_fees_fill`
    with `confirmed_since` and `skip`); never raises. A fee still unknown is left to the full run (`fees_fill`).
    Its state (where the window starts, the gifts asked for) is only touched by the one run going at a time."""

    def __init__(self, *, limit: int = 200) -> None:
        self.limit = limit
        self._since: dt.datetime | None = None
        self._asked: dict[int, dt.datetime] = {}  # gift -> when it was asked for

    def __call__(self) -> None:
        started = clock.now()
        window = (self._since or started) - FRESH_FEES_OVERLAP
        try:
            filled = services.donation_fees_fill(confirmed_since=window, skip=self._asked.keys(), limit=self.limit)
        except Exception:
            logger.exception("webhook confirmer: asking the provider for new gifts' fees failed; asked again later")
            connection.close()
            return
        for donation_id in filled.asked:
            self._asked[donation_id] = started
        if filled.looked_up < self.limit:
            self._since = started
        else:  # more are waiting: the next run reads the same window on (skipping those asked)
            self._since = self._since or started
        # a gift asked for before the window starts was confirmed before it too: it cannot come up again
        start = (self._since or started) - FRESH_FEES_OVERLAP
        self._asked = {pk: at for pk, at in self._asked.items() if at >= start}
        if filled.recorded:
            logger.info("webhook confirmer: %s fee(s) posted, %s pence", filled.recorded, filled.recorded_pence)


class FeesFiller:
    """Runs the fee lookups in a thread of its own, one run at a time: each fee is a request to the provider (up to
    5 s when it is slow), and the confirmer's loop must not wait for them while gifts wait to be posted. A full run
    (`fill`: every fee still unknown) or a run for fresh gifts (`fresh`: those confirmed since the last such run)."""

    def __init__(self, fill: Callable[[], None] = fees_fill, fresh: Callable[[], None] | None = None) -> None:
        self._fill = fill
        self._fresh: Callable[[], None] = fresh if fresh is not None else FreshFees()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.fresh_wanted = False

    def want_fresh(self) -> None:
        """Gifts were confirmed: run for fresh gifts at the next `start(fresh=True)` that finds no run going."""
        self.fresh_wanted = True

    def _run(self, target: Callable[[], None]) -> None:
        try:
            target()
        finally:
            if not connection.in_atomic_block:
                connection.close()  # the thread's own connection

    def start(self, *, fresh: bool = False) -> bool:
        """Start a run unless one is still going (False then)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            if fresh:
                self.fresh_wanted = False
            target = self._fresh if fresh else self._fill
            self._thread = threading.Thread(target=self._run, args=(target,), name="carefund-fees-fill", daemon=True)
            self._thread.start()
            return True

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


FEES = FeesFiller()


def watch(*, interval: float, passes: int | None = None, fees: FeesFiller | None = None) -> None:
    """The confirmer process's loop: a pass, then sleep `interval` seconds; for ever (or `passes` times). With a
    gateway whose fees are asked for (Stripe), it also has them asked for in the background (`FeesFiller`): the
    fresh gifts' after a pass that confirmed any (and every FRESH_FEES_EVERY seconds), and every fee still unknown
    every `WEBHOOK_FEES_FILL_SECONDS` and once at the start (0: never)."""
    filler = fees or FEES
    asks = services.fees_looked_up()
    done = 0
    fees_every = settings.WEBHOOK_FEES_FILL_SECONDS
    fees_due = fresh_due = time.monotonic()
    while passes is None or done < passes:
        applied = _pass(None)
        if asks:
            now = time.monotonic()
            if applied or now >= fresh_due:
                filler.want_fresh()
                fresh_due = now + FRESH_FEES_EVERY
            if fees_every > 0 and now >= fees_due and filler.start():
                fees_due = now + fees_every
            elif filler.fresh_wanted:
                filler.start(fresh=True)
        done += 1
        time.sleep(interval)


class FallbackConfirmer:
    """A daemon thread that confirms events left queued for a while (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="carefund-webhook-fallback", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        fresh = FreshFees()
        while True:
            time.sleep(settings.WEBHOOK_CONFIRM_POLL_SECONDS)
            self.step(fresh)

    @staticmethod
    def step(fresh: Callable[[], None]) -> int:
        """One pass for events left queued; if it confirmed any (so the confirmer process is not keeping up, or
        not running), also ask for the new gifts' fees, in this same background thread: fees are asked for by
        whichever confirmer confirmed the gifts. Returns how many events it applied."""
        applied = _pass(dt.timedelta(seconds=settings.WEBHOOK_CONFIRM_FALLBACK_AFTER_SECONDS))
        if applied and services.fees_looked_up():
            fresh()
        return applied


FALLBACK = FallbackConfirmer()
