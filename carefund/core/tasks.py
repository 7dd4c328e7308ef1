"""Background work of core: the retention schedule (enqueue daily, e.g. from cron: `carefund privacy sweep` runs it
at once instead)."""

from __future__ import annotations

from django_tasks import task

from carefund.core.privacy import retention_apply


@task()
def retention_task() -> dict[str, int]:
    """Erase everything past its retention period (core.privacy.retention_apply)."""
    return retention_apply()
