"""Issue 16: audit events refer to people by id, and names are found when the log is read. Summaries written before
(holding a child's name or a campaign's title) are rewritten once by a migration that sets the append-only trigger
aside for its own transaction and puts it back."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from carefund.campaigns.tests.factories import make_campaign, make_pending
from carefund.care.tests.factories import CarePlanFactory
from carefund.core.models import AuditEvent
from carefund.core.people import person_ref, render_summaries, render_summary
from carefund.core.services import audit_record

pytestmark = pytest.mark.django_db
MIGRATION = importlib.import_module("carefund.core.migrations.0005_audit_refers_to_children_by_id")


def test_a_reference_reads_as_the_childs_name_until_they_are_erased() -> None:
    campaign = make_campaign(first_name="Amelia", last_name="Stone")
    child = campaign.child
    summary = f"Registered {person_ref('child', child.pk)}"
    assert summary == f"Registered {{child:{child.pk}}}"
    assert render_summary(summary) == "Registered Amelia S."
    assert render_summaries(["{child:999999}", "{martian:3}", "no one"]) == [
        "erased child #999999",
        "martian #3",
        "no one",
    ]
    type(child).objects.filter(pk=child.pk).update(erased_at=child.created_at)
    assert render_summary(summary) == f"Registered erased child #{child.pk}"


def _legacy(action: str, target: Any, summary: str) -> AuditEvent:
    return audit_record(actor=None, action=action, target=target, summary=summary)


def test_the_migration_rewrites_names_written_before_and_keeps_the_log_append_only() -> None:
    campaign = make_campaign(first_name="Amelia", last_name="Stone")  # "Help Amelia walk"
    child = campaign.child
    plan = CarePlanFactory(child=child, title="SDR pathway")
    gift = make_pending(campaign)
    ref = f"{{child:{child.pk}}}"
    rows = {
        "registered": _legacy("child.registered", child, "Registered Amelia S."),
        "updated": _legacy("child.updated", child, "Changed last_name of Amelia S."),
        "viewed": _legacy("child.viewed", child, "Amelia S."),
        "plan": _legacy("care_plan.created", plan, "SDR pathway for Amelia S."),
        "campaign": _legacy("campaign.create", campaign, "Help Amelia walk"),
        "gift": _legacy("ledger.post", gift, f"donation 2026-01-05: Gift #{gift.pk} to Help Amelia walk"),
        "other": _legacy("campaign.transition", campaign, "draft -> published"),
    }
    MIGRATION.forwards(None, SimpleNamespace(connection=connection))
    now = {key: AuditEvent.objects.get(pk=event.pk).summary for key, event in rows.items()}
    assert now == {
        "registered": f"Registered {ref}",
        "updated": f"Changed last_name of {ref}",
        "viewed": ref,
        "plan": f"care plan for {ref}",
        "campaign": f"campaign for {ref}",
        "gift": f"donation 2026-01-05: Gift #{gift.pk} to campaign #{campaign.pk}",
        "other": "draft -> published",
    }
    assert not any("amelia" in s.lower() for s in AuditEvent.objects.values_list("summary", flat=True))
    assert render_summary(now["updated"]) == "Changed last_name of Amelia S."
    MIGRATION.forwards(None, SimpleNamespace(connection=connection))  # again: nothing left to change
    with pytest.raises(DatabaseError), transaction.atomic():  # the trigger is back
        AuditEvent.objects.filter(pk=rows["other"].pk).update(summary="rewritten")
