"""Test data for campaigns: users with roles, campaigns, and signed webhook deliveries."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client

from carefund.campaigns import services
from carefund.campaigns.gateways.test import charge_refunded_event, checkout_completed_event, sign_payload
from carefund.campaigns.models import Campaign, CampaignState, Donation, WebhookEvent
from carefund.campaigns.roles import ROLE_PERMISSIONS
from carefund.care.tests.factories import ChildFactory, user_with_role
from carefund.core import clock
from carefund.core.roles import Role

SECRET = "whsec_carefund_test_gateway"


def grant_campaign_roles() -> None:
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        for dotted in ROLE_PERMISSIONS.get(role, []):
            app_label, codename = dotted.split(".", 1)
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def caseworker(username: str = "") -> Any:
    grant_campaign_roles()
    return user_with_role(Role.CASEWORKER, username or None)


def make_campaign(
    *, state: str = CampaignState.PUBLISHED, target_pence: int = 5_000_000, **child_kwargs: Any
) -> Campaign:
    child = ChildFactory(publicity_consent=True, **child_kwargs)
    return Campaign.objects.create(
        child=child,
        slug=f"campaign-{child.pk}",
        title=f"Help {child.first_name} walk",
        story="A story.",
        media_partner="the Daily Echo",
        state=state,
        target_pence=target_pence,
        created_at=clock.now(),
        published_at=clock.now(),
    )


def make_pending(campaign: Campaign, *, amount_pence: int = 2500, costs: int = 0, **kwargs: Any) -> Donation:
    donation = services.donation_create_pending(
        campaign=campaign,
        amount_pence=amount_pence,
        costs_contribution_pence=costs,
        donor_name=kwargs.pop("donor_name", "Ann Smith"),
        donor_email=kwargs.pop("donor_email", "ann@example.org"),
        gateway="test",
        **kwargs,
    )
    started = services.checkout_start(donation=donation, success_url="/s", cancel_url="/c")
    return started.donation


def completed_event(
    donation: Donation,
    *,
    event_id: str | None = None,
    fee_pence: int | None = None,
    session_id: str | None = None,
    **changes: Any,
) -> bytes:
    """The provider's checkout.session.completed for `donation` (`changes` replace fields of its session)."""
    if session_id is not None:
        changes["id"] = session_id
    return checkout_completed_event(donation, fee_pence=fee_pence, event_id=event_id, **changes)


def refund_event(donation: Donation, *, event_id: str | None = None, amount_refunded: int | None = None) -> bytes:
    refunded = donation.total_pence if amount_refunded is None else amount_refunded
    return charge_refunded_event(donation, amount_refunded=refunded, event_id=event_id)


@contextlib.contextmanager
def run_after_commit() -> Iterator[None]:
    """Run, at the end of the block, what it left to do after commit (and what that leaves, in turn), and take it
    off the connection's list: a test's transaction never commits, and an enclosing capture must not run it again."""
    connection = connections[DEFAULT_DB_ALIAS]
    start = len(connection.run_on_commit)
    try:
        yield
    finally:
        while len(connection.run_on_commit) > start:
            due = connection.run_on_commit[start:]
            del connection.run_on_commit[start:]
            for _, callback, robust in due:
                try:
                    callback()
                except Exception:
                    if not robust:
                        raise
                    logging.getLogger(__name__).exception("after-commit work failed")


@contextlib.contextmanager
def confirming_fails(donation: Donation, error: Exception) -> Iterator[None]:
    """Within: confirming `donation` raises `error` half-way (after its ledger transaction was written), as a fault
    of the database or a bug would; the gifts confirmed with it are not touched by the fault."""
    from carefund.campaigns.services import giving

    real = giving.audit_record_many

    def failing(**kwargs: Any) -> None:
        if any(action == "donation.succeeded" and target.pk == donation.pk for action, target, *_ in kwargs["events"]):
            raise error
        real(**kwargs)

    giving.audit_record_many = failing  # type: ignore[assignment]
    try:
        yield
    finally:
        giving.audit_record_many = real


def deliver(payload: bytes, *, secret: str = SECRET, timestamp: int | None = None, client: Client | None = None) -> Any:
    """POST a signed event to the real webhook endpoint, then let what it queued run as on the server: the test's
    transaction never commits, so the after-commit work (the tests' task backend runs each task as it is enqueued)
    runs at the end of the request instead."""
    header = sign_payload(payload, secret=secret, timestamp=timestamp)
    with run_after_commit():
        return (client or Client()).post(
            "/webhooks/stripe/", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
        )


def receive(payload: bytes) -> Any:
    """`services.webhook_receive` of a payload signed now, with the after-commit work run (as `deliver`)."""
    with run_after_commit():
        return services.webhook_receive(payload=payload, signature_header=sign_payload(payload, secret=SECRET))


def event_state(event_id: str) -> tuple[str, str]:
    """The stored event's state and outcome."""
    return WebhookEvent.objects.values_list("state", "outcome").get(event_id=event_id)


def outcome(payload: bytes) -> str:
    """Deliver the event (answered 200: stored and queued, as every well-formed event is) and return what the
    worker made of it."""
    assert deliver(payload).status_code == 200
    return event_state(json.loads(payload)["id"])[1]


def loads(payload: bytes) -> Any:
    return json.loads(payload)


def run_worker() -> int:
    """Run the database queue's ready tasks as `carefund db_worker` does (its own Worker, in batch mode: until none is
    ready); returns how many it ran. For tests that put tasks on the database queue (the `db_queue` fixture)."""
    from unittest import mock

    from django.db import close_old_connections
    from django_tasks_db.management.commands import db_worker
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    # the worker closes connections that are not in autocommit between tasks (as a server process should); a test
    # that is one transaction keeps its connection open, or PostgreSQL's test transaction is lost
    keep = connections[DEFAULT_DB_ALIAS].in_atomic_block
    with mock.patch.object(db_worker, "close_old_connections", (lambda: None) if keep else close_old_connections):
        worker.run()
    return worker._run_tasks
