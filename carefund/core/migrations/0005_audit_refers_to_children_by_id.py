"""Audit summaries written before carefund named children by reference (core.people) held a child's name, and audit
events are append-only, so the name could never be erased. This migration rewrites those summaries once, putting the
reference ("{child:12}") where the name was, so the log reads as before while the child is known and "erased child
#12" after an erasure. Only the summaries of the actions that wrote a child's name (or a campaign's title) are touched, each rebuilt
from its own target (not by searching for names), and nothing else of any row changes.

The append-only triggers refuse every UPDATE, so for the length of this migration (one transaction: on PostgreSQL the
ALTER TABLE holds the table's lock, so nothing else writes meanwhile) the update trigger is set aside and then put back
exactly as before. Migrations run as the owner role; the application's role could not do this
(docs/adr/0032-audit-refers-to-people-by-id.md)."""

import importlib
import re

from django.db import migrations

APPEND_ONLY = importlib.import_module("carefund.core.migrations.0002_audit_append_only")

# actions whose summary was the child's name and nothing else
NAME_ONLY = (
    "child.viewed",
    "child.nhs_number_revealed",
    "child.publicity_consent_given",
    "child.publicity_consent_withdrawn",
    "care_plan.viewed",
    "sdr_assessment.recorded",
    "sdr_assessment.viewed",
    "outcome_enrolment.created",
    "outcome_consent.given",
    "outcome_consent.withdrawn",
    "outcome_adverse_event.recorded",
    "outcomes.viewed",
)
# actions whose summary held the child's name among other words (a campaign's title often names the child)
IN_TEXT = (
    "child.registered",
    "child.updated",
    "care_plan.created",
    "outcome_observation.recorded",
    "invoice.paid",
    "surplus_transfer.proposed",
    "surplus_transfer.posted",
    "campaign.create",
)
ACTIONS = NAME_ONLY + IN_TEXT

# the child a target record belongs to, by the target's type
CHILD_OF = {
    "care.child": "SELECT id FROM care_child WHERE id = %s",
    "care.careplan": "SELECT child_id FROM care_careplan WHERE id = %s",
    "care.sdrassessment": "SELECT child_id FROM care_sdrassessment WHERE id = %s",
    "outcomes.enrolment": "SELECT child_id FROM outcomes_enrolment WHERE id = %s",
    "outcomes.observation": "SELECT e.child_id FROM outcomes_observation o "
    "JOIN outcomes_enrolment e ON e.id = o.enrolment_id WHERE o.id = %s",
    "outcomes.adverseevent": "SELECT e.child_id FROM outcomes_adverseevent a "
    "JOIN outcomes_enrolment e ON e.id = a.enrolment_id WHERE a.id = %s",
    "funding.invoice": "SELECT p.child_id FROM funding_invoice i JOIN care_careplan p ON p.id = i.care_plan_id "
    "WHERE i.id = %s",
    "funding.surplustransfer": "SELECT source_child_id FROM funding_surplustransfer WHERE id = %s",
    "campaigns.campaign": "SELECT child_id FROM campaigns_campaign WHERE id = %s",
}
_PAID = re.compile(r"^(Paid .* from ).*('s fund)$", re.DOTALL)
_PROPOSED = re.compile(r"^(.* from ).*( to [0-9]+ child\(ren\))$", re.DOTALL)
_POSTED = re.compile(r"^(.* moved from ).*('s fund)$", re.DOTALL)


def _child_of(cursor, target_type, target_id):
    """The child an event's target belongs to, or None."""
    query = CHILD_OF.get(target_type)
    try:
        pk = int(target_id)
    except (TypeError, ValueError):
        return None
    if query is None:
        return None
    cursor.execute(query, [pk])
    row = cursor.fetchone()
    return row[0] if row else None


def rewritten(action, summary, child_id):
    """The summary with the child's name replaced by their reference; None if it does not have the expected form."""
    ref = "{child:%d}" % child_id
    if action in NAME_ONLY:
        return ref
    if action == "campaign.create":
        return f"campaign for {ref}"
    if action == "child.registered":
        return f"Registered {ref}" if summary.startswith("Registered ") else None
    if action == "child.updated":
        head, sep, _name = summary.rpartition(" of ")
        return f"{head} of {ref}" if sep and head.startswith("Changed ") else None
    if action == "care_plan.created":
        return f"care plan for {ref}"  # its title, typed by a person, may name the child (the plan keeps its title)
    if action == "outcome_observation.recorded":
        head, sep, _name = summary.rpartition(" for ")
        return f"{head} for {ref}" if sep else None
    pattern = {"invoice.paid": _PAID, "surplus_transfer.proposed": _PROPOSED, "surplus_transfer.posted": _POSTED}
    match = pattern[action].match(summary)
    return f"{match.group(1)}{ref}{match.group(2)}" if match else None


# "ledger.post" summaries copy the transaction's memo, which named the campaign (its title) or the child; memos now
# say "campaign #3" and "child #12", and these summaries are rewritten to match (the memos themselves stay: see the ADR)
_LEDGER_POST = (
    (re.compile(r"^(.*: (?:Offline gift|Gift) #([0-9]+)(?: \([a-z_]+\))? to ).*$", re.DOTALL),
     "SELECT campaign_id FROM campaigns_donation WHERE id = %s", "campaign #{}", ""),
    (re.compile(r"^(.*: Grant #([0-9]+) from general funds for ).*( \(invoice .*\))$", re.DOTALL),
     "SELECT child_id FROM funding_grant WHERE id = %s", "child #{}", None),
    (re.compile(r"^(.*: Surplus transfer #([0-9]+) from ).*( under surplus policy v[0-9]+)$", re.DOTALL),
     "SELECT source_child_id FROM funding_surplustransfer WHERE id = %s", "child #{}", None),
)  # fmt: skip
_INVOICE_POST = re.compile(r"^(.*: Invoice .* from .* for ).*$", re.DOTALL)


def ledger_post_rewritten(cursor, summary, transaction_id):
    for pattern, query, ref, tail in _LEDGER_POST:
        match = pattern.match(summary)
        if match:
            cursor.execute(query, [int(match.group(2))])
            row = cursor.fetchone()
            if row is None:
                return None
            end = match.group(3) if tail is None else tail
            return f"{match.group(1)}{ref.format(row[0])}{end}"
    match = _INVOICE_POST.match(summary)
    if match and " for child #" not in summary:
        cursor.execute(
            "SELECT p.child_id FROM funding_invoice i JOIN care_careplan p ON p.id = i.care_plan_id "
            "WHERE i.invoice_transaction_id = %s",
            [transaction_id],
        )
        row = cursor.fetchone()
        return f"{match.group(1)}child #{row[0]}" if row else None
    return None


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(ACTIONS))
        cursor.execute(
            f"SELECT id, action, target_type, target_id, summary FROM core_auditevent WHERE action IN ({placeholders})",  # noqa: S608
            list(ACTIONS),
        )
        changes = []
        for pk, action, target_type, target_id, summary in cursor.fetchall():
            if "{child:" in summary:
                continue  # written with a reference already
            child_id = _child_of(cursor, target_type, target_id)
            new = rewritten(action, summary, child_id) if child_id is not None else None
            if new is not None and new != summary:
                changes.append((new[:300], pk))
        cursor.execute("SELECT id, target_id, summary FROM core_auditevent WHERE action = 'ledger.post'")
        for pk, target_id, summary in cursor.fetchall():
            if "campaign #" in summary or "child #" in summary or not str(target_id).isdigit():
                continue  # written in the new form already
            new = ledger_post_rewritten(cursor, summary, int(target_id))
            if new is not None and new != summary:
                changes.append((new[:300], pk))
        if not changes:
            return
        if connection.vendor == "postgresql":
            # foreign keys checked at commit would leave "pending trigger events" that ALTER TABLE refuses: check now
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_change")
        else:
            cursor.execute("DROP TRIGGER core_auditevent_no_update")
        for new, pk in changes:
            cursor.execute("UPDATE core_auditevent SET summary = %s WHERE id = %s", [new, pk])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_no_change")
        else:
            cursor.execute(APPEND_ONLY.SQLITE[0])  # the same update trigger as before


class Migration(migrations.Migration):
    # the tables the events' targets live in
    dependencies = [
        ("core", "0004_ratelimit_cache_table"),
        ("care", "0002_child_erasure"),
        ("funding", "0001_initial"),
        ("outcomes", "0002_measures"),
        ("campaigns", "0012_webhook_task_queue"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
