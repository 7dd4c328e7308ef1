"""gunicorn settings for carefund (`gunicorn -c config/gunicorn.conf.py config.wsgi:application`).

Two worker processes (one per core of the reference 2-core machine) with 16 threads each. The threads matter for
the payment webhook: concurrent deliveries in one process share one database transaction (the group commit in
`campaigns.services.webhook_receive`, docs/adr/0020-payment-webhooks.md), so a thread waiting for its batch
costs nothing but lets more events join the next batch. On SQLite the processes queue for the single writer
through a file lock beside the database rather than SQLite's sleeping busy handler. Paid checkout completions
are answered at once and posted by `carefund webhooks confirm --watch` (a separate process, which `make run`
starts); each worker also runs a fallback confirmer thread for events left queued
(carefund/web/campaigns/confirmer.py). Figures: docs/benchmarks.md, "Giving". Override any of these on the command
line or with GUNICORN_* environment variables.
"""

from __future__ import annotations

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
worker_class = "gthread"
keepalive = 5


def post_worker_init(worker: object) -> None:
    """Start the worker's fallback webhook confirmer: a thread that posts checkout completions left queued for more
    than a few seconds, so that gifts are confirmed even when no `carefund webhooks confirm --watch` process runs
    (that process, which `make run` starts, normally confirms them within milliseconds)."""
    from carefund.web.campaigns.confirmer import FALLBACK

    FALLBACK.start()
