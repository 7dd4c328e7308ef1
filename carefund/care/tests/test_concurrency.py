"""Two people moving the same care-plan item at once (PostgreSQL: real row locks)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from carefund.care import services
from carefund.care.tests.factories import CarePlanItemFactory
from carefund.core.errors import StateTransitionError
from carefund.core.models import AuditEvent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_item_at_once_record_exactly_one():
    item = CarePlanItemFactory(state="booked")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def deliver() -> None:
        try:
            barrier.wait(timeout=10)
            services.care_plan_item_transition(
                item=item.__class__.objects.get(pk=item.pk), to_state="delivered", actor=None
            )
            result = "ok"
        except StateTransitionError:
            result = "refused"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["ok", "refused"]
    item.refresh_from_db()
    assert item.state == "delivered"
    assert AuditEvent.objects.filter(action="care_plan_item.delivered").count() == 1
