"""gunicorn settings for carefund (`gunicorn -c config/gunicorn.conf.py config.wsgi:application`).

Two worker processes (one per core of the reference 2-core machine) with 16 threads each: a payment webhook's answer
waits on its database commit, and the threads let other requests run meanwhile. The server starts nothing of its
own: payment events are applied by the task worker, `carefund db_worker`, the second process `make run` starts
(docs/adr/0021-webhook-task-queue.md). Figures: docs/benchmarks.md, "Giving". Override any of these on the command
line or with GUNICORN_* environment variables.
"""

from __future__ import annotations

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
worker_class = "gthread"
keepalive = 5
