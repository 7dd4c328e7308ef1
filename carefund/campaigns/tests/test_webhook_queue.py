"""Confirm after answering (docs/adr/0020-payment-webhooks.md): a paid checkout completion is checked, recorded
QUEUED and answered 200 at once; the confirmer (`webhook_confirm_queued`, run by `carefund webhooks confirm`)
posts it. With the setting on, as in production (the rest of the suite turns it off in conftest.py)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client

from carefund.campaigns import services
from carefund.campaigns.models import Donation, DonationStatus, WebhookEvent, WebhookEventState
from carefund.campaigns.tests.factories import (
    completed_event,
    deliver,
    make_campaign,
    make_pending,
    refund_event,
)
from carefund.core.models import AuditEvent
from carefund.ledger import chart
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence
from carefund.web.campaigns import confirmer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _confirm_after_answer(settings: Any) -> None:
    settings.WEBHOOK_CONFIRM_AFTER_ANSWER = True


def _status(gift: Donation) -> str:
    return Donation.objects.get(pk=gift.pk).status


def test_a_paid_checkout_is_answered_at_once_and_posted_by_the_confirmer(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500, costs=100)
    response = deliver(completed_event(gift, event_id="evt_q1", fee_pence=58))
    assert response.status_code == 200
    assert "accepted" in response.json()["outcome"]
    # answered, recorded, not yet posted
    event = WebhookEvent.objects.get(event_id="evt_q1")
    assert event.state == WebhookEventState.QUEUED
    assert event.payload["object"]["metadata"] == {"donation_id": str(gift.pk)}
    assert event.payload["object"]["amount_total"] == 2600
    assert _status(gift) == DonationStatus.PENDING
    assert not Transaction.objects.exists()
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        report = confirmer.drain()

    assert (report.applied, report.refused, report.child_ids) == (1, 0, {campaign.child_id})
    gift.refresh_from_db()
    assert gift.status == DonationStatus.SUCCEEDED and gift.fee_pence == 58
    assert gift.ledger_transaction is not None
    assert fund_balance_pence(child_id=campaign.child_id) == 2500
    assert account_balance_pence(name=chart.clearing_account("test")) == 2600 - 58
    event.refresh_from_db()
    assert (event.state, event.outcome) == (WebhookEventState.APPLIED, f"gift #{gift.pk} confirmed")
    assert event.payload is None  # not kept once applied
    assert [m.to for m in mail.outbox] == [["ann@example.org"]]  # the receipt
    assert AuditEvent.objects.filter(action="donation.succeeded", target_id=str(gift.pk)).count() == 1
    assert ledger_check() == []
    # nothing left: a second pass does nothing
    assert confirmer.drain().count == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount_total": 9999}, "amount_total: the provider took 9999 pence"),
        # a checkout carefund did not create carries no tag of carefund's, so its gift is read
        ({"session_id": "cs_test_not_ours", "tagged": False}, "session: this checkout was not created by carefund"),
        ({"fee_pence": 999_999}, "fee: must be 0 to 2500 pence"),
    ],
)
def test_a_checkout_its_confirmation_would_refuse_is_refused_at_once(change: dict[str, Any], message: str) -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    response = deliver(completed_event(gift, event_id="evt_bad", **change))
    assert response.status_code == 400
    assert message in response.json()["outcome"]
    assert not WebhookEvent.objects.exists()  # not recorded: the provider shows the failure
    assert confirmer.drain().count == 0
    assert _status(gift) == DonationStatus.PENDING


def test_a_checkout_for_a_gift_never_created_is_refused_at_once() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    payload = (
        completed_event(gift, event_id="evt_ghost")
        .replace(f'"donation_id":"{gift.pk}"'.encode(), b'"donation_id":"987654"')
        .replace(f'"client_reference_id":"{gift.pk}"'.encode(), b'"client_reference_id":"987654"')
    )
    assert b"987654" in payload
    response = deliver(payload)
    assert response.status_code == 400
    assert "no online gift #987654" in response.json()["outcome"]
    assert not WebhookEvent.objects.exists()


def test_a_replayed_event_is_recorded_once_and_posts_once() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    payload = completed_event(gift, event_id="evt_twice")
    first, second = deliver(payload), deliver(payload)
    assert (first.status_code, second.status_code) == (200, 200)
    assert "duplicate" in second.json()["outcome"]
    assert WebhookEvent.objects.count() == 1
    confirmer.drain()
    third = deliver(payload)  # after it was applied, still a duplicate
    assert third.status_code == 200 and "duplicate" in third.json()["outcome"]
    assert Transaction.objects.count() == 1
    assert fund_balance_pence(child_id=campaign.child_id) == 2500


def test_the_same_gift_under_two_event_ids_posts_once() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    assert deliver(completed_event(gift, event_id="evt_a")).status_code == 200
    assert deliver(completed_event(gift, event_id="evt_b")).status_code == 200
    report = confirmer.drain()
    assert report.applied == 2 and report.refused == 0
    assert Transaction.objects.count() == 1
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEventState.APPLIED}
    assert fund_balance_pence(child_id=campaign.child_id) == 2500


def test_many_queued_gifts_are_posted_together_and_exactly(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=100 + i, costs=i % 2) for i in range(12)]
    for g in gifts:
        assert deliver(completed_event(g, event_id=f"evt_many_{g.pk}", fee_pence=5)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        report = confirmer.drain(limit=5)  # three transactions: 5, 5, 2
    assert report.applied == 12
    assert len(mail.outbox) == 12  # every donor's receipt (a batch's receipts are one task)
    assert fund_balance_pence(child_id=campaign.child_id) == sum(100 + i for i in range(12))
    total = sum(100 + i + i % 2 for i in range(12))
    assert account_balance_pence(name=chart.clearing_account("test")) == total - 12 * 5
    assert Transaction.objects.filter(kind="donation").count() == 12
    assert ledger_check() == []


def test_a_gift_that_changed_after_it_was_accepted_is_refused_and_audited() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    assert deliver(completed_event(gift, event_id="evt_changed")).status_code == 200
    Donation.objects.filter(pk=gift.pk).update(amount_pence=3000)  # the gift no longer matches what was paid
    report = confirmer.drain()
    assert (report.applied, report.refused) == (0, 1)
    event = WebhookEvent.objects.get(event_id="evt_changed")
    assert event.state == WebhookEventState.REFUSED
    assert "amount_total: the provider took 2500 pence but the gift was for 3000 pence" in event.outcome
    audit = AuditEvent.objects.get(action="webhook.refused_after_accept")
    assert "evt_changed" in str(audit.details)
    assert not Transaction.objects.exists()
    assert _status(gift) == DonationStatus.PENDING


def test_a_failure_while_confirming_leaves_the_events_queued_and_the_next_pass_posts_them_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=1000 + i) for i in range(3)]
    for g in gifts:
        deliver(completed_event(g, event_id=f"evt_crash_{g.pk}"))

    def failing(**kwargs: Any) -> Any:
        raise OperationalError("disk I/O error")  # the database itself, not one event: the pass fails as a whole

    monkeypatch.setattr(services, "ledger_post_many", failing)
    monkeypatch.setattr(services, "ledger_post", failing)
    with pytest.raises(OperationalError):
        services.webhook_confirm_queued()
    assert WebhookEvent.objects.filter(state=WebhookEventState.QUEUED).count() == 3
    assert not Transaction.objects.exists()
    assert [_status(g) for g in gifts] == [DonationStatus.PENDING] * 3
    monkeypatch.undo()
    assert confirmer.drain().applied == 3
    assert Transaction.objects.count() == 3
    assert fund_balance_pence(child_id=campaign.child_id) == 3003


def test_the_fallback_confirms_only_events_left_queued_for_a_while() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    deliver(completed_event(gift, event_id="evt_fresh"))
    assert confirmer.drain(older_than=dt.timedelta(seconds=60)).count == 0
    assert _status(gift) == DonationStatus.PENDING
    WebhookEvent.objects.filter(event_id="evt_fresh").update(
        received_at=WebhookEvent.objects.get(event_id="evt_fresh").received_at - dt.timedelta(seconds=61)
    )
    assert confirmer.drain(older_than=dt.timedelta(seconds=60)).applied == 1
    assert _status(gift) == DonationStatus.SUCCEEDED


def test_a_refund_while_its_payment_is_still_queued_is_retried_then_applies() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    assert deliver(completed_event(gift, event_id="evt_pay")).status_code == 200
    early = deliver(refund_event(gift, event_id="evt_refund"))
    assert early.status_code == 409  # the provider retries it
    confirmer.drain()
    again = deliver(refund_event(gift, event_id="evt_refund"))
    assert again.status_code == 200
    assert _status(gift) == DonationStatus.REFUNDED
    assert fund_balance_pence(child_id=campaign.child_id) == 0
    assert ledger_check() == []


def test_unpaid_checkouts_and_other_events_are_still_applied_before_the_answer() -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    payload = completed_event(gift, event_id="evt_unpaid").replace(
        b'"payment_status":"paid"', b'"payment_status":"unpaid"'
    )
    assert b"unpaid" in payload
    response = deliver(payload)
    assert response.status_code == 200 and "not paid yet" in response.json()["outcome"]
    assert WebhookEvent.objects.get(event_id="evt_unpaid").state == WebhookEventState.APPLIED


def test_the_test_gateways_pay_button_confirms_before_the_thank_you_page(client: Client) -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    response = client.post(f"/test-gateway/checkout/{gift.checkout_session_id}/", {"action": "pay"})
    assert response.status_code == 302
    assert _status(gift) == DonationStatus.SUCCEEDED


def test_the_command_confirms_and_says_what_it_did() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    deliver(completed_event(gift, event_id="evt_cmd"))
    out = io.StringIO()
    call_command("webhooks", "confirm", stdout=out)
    assert "1 queued event(s) applied, 0 refused" in out.getvalue()
    assert _status(gift) == DonationStatus.SUCCEEDED


def test_watch_runs_passes_until_told_to_stop() -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    deliver(completed_event(gift, event_id="evt_watch"))
    confirmer.watch(interval=0, passes=2)
    assert _status(gift) == DonationStatus.SUCCEEDED


def test_with_the_database_task_queue_a_batchs_receipts_are_one_task_written_with_the_gifts(settings: Any) -> None:
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=500 + i, donor_email=f"d{i}@example.org") for i in range(3)]
    for g in gifts:
        deliver(completed_event(g, event_id=f"evt_receipts_{g.pk}"))

    class Crash(Exception):
        pass

    with pytest.raises(Crash), transaction.atomic():  # the confirming transaction fails after its work
        services.webhook_confirm_queued()
        assert DBTaskResult.objects.filter(task_path__endswith="receipts_send").count() == 1
        raise Crash
    assert not DBTaskResult.objects.filter(task_path__contains="receipt").exists()  # rolled back with the gifts
    assert _status(gifts[0]) == DonationStatus.PENDING

    services.webhook_confirm_queued()
    task = DBTaskResult.objects.get(task_path__contains="receipt")
    assert task.task_path.endswith("receipts_send")
    assert sorted(task.args_kwargs["kwargs"]["donation_ids"]) == sorted(g.pk for g in gifts)


def test_the_reconciliation_page_shows_waiting_and_refused_events(client: Client) -> None:
    from carefund.campaigns.tests.factories import caseworker

    campaign = make_campaign(target_pence=0)
    waiting, changed = make_pending(campaign, amount_pence=2500), make_pending(campaign, amount_pence=1500)
    deliver(completed_event(changed, event_id="evt_recon_changed"))
    Donation.objects.filter(pk=changed.pk).update(amount_pence=1600)
    confirmer.drain()
    deliver(completed_event(waiting, event_id="evt_recon_waiting"))
    client.force_login(caseworker())
    page = client.get("/staff/reconciliation/").content.decode()
    assert "1 paid checkout accepted and waiting to be posted" in page
    assert "Refused after they were accepted" in page and "evt_recon_changed" in page
    assert "the provider took 1500 pence but the gift was for 1600 pence" in page
    client.logout()
    assert client.get("/staff/reconciliation/").status_code in (302, 403)


def test_the_thank_you_page_looks_again_until_the_queued_gift_is_confirmed(client: Client) -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    deliver(completed_event(gift, event_id="evt_thanks"))
    waiting = client.get(f"/gifts/{gift.receipt_token}/thanks/").content.decode()
    assert "is being confirmed" in waiting and '<meta http-equiv="refresh" content="2">' in waiting
    confirmer.drain()
    done = client.get(f"/gifts/{gift.receipt_token}/thanks/").content.decode()
    assert "is confirmed" in done and "http-equiv" not in done
    Donation.objects.filter(pk=gift.pk).update(status=DonationStatus.REFUNDED)
    refunded = client.get(f"/gifts/{gift.receipt_token}/thanks/").content.decode()
    assert "was not completed" in refunded and "http-equiv" not in refunded


def test_one_failing_receipt_does_not_stop_the_others_in_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    from carefund.campaigns import tasks

    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=500 + i, donor_email=f"r{i}@example.org") for i in range(3)]
    for g in gifts:
        deliver(completed_event(g, event_id=f"evt_mail_{g.pk}"))
    confirmer.drain()  # (its receipts wait for a commit that a test transaction never makes)
    assert mail.outbox == []
    real = tasks.EmailMessage.send

    def flaky(message: Any, fail_silently: bool = False) -> int:
        if message.to == ["r1@example.org"]:
            raise ConnectionRefusedError("mail server refused")
        return int(real(message, fail_silently))

    monkeypatch.setattr(tasks.EmailMessage, "send", flaky)
    with pytest.raises(RuntimeError, match=rf"receipts not sent for gifts \[{gifts[1].pk}\] \(2 sent\)"):
        tasks.receipts_send.call(donation_ids=[g.pk for g in gifts])
    assert sorted(m.to[0] for m in mail.outbox) == ["r0@example.org", "r2@example.org"]


def test_a_faulty_event_stays_queued_without_holding_back_the_gifts_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=700 + i) for i in range(3)]
    for g in gifts:
        deliver(completed_event(g, event_id=f"evt_fault_{g.pk}"))
    poison = gifts[0]  # the oldest: it comes first in every pass
    handler = services.WEBHOOK_HANDLERS["checkout.session.completed"]

    def together(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the set-based path")

    def faulty(event: Any, gateway: str) -> str:
        if event.event_id == f"evt_fault_{poison.pk}":
            raise RuntimeError("a bug met by this one event")
        return handler(event, gateway)

    monkeypatch.setattr(services, "_confirm_checkouts_together", together)
    monkeypatch.setitem(services.WEBHOOK_HANDLERS, "checkout.session.completed", faulty)
    report = confirmer.drain(limit=2)  # the faulty event fills part of every batch: the pass still ends
    assert (report.applied, report.refused, report.left_queued) == (1, 0, 1)
    report = confirmer.drain(limit=2)
    assert (report.applied, report.left_queued) == (1, 1)
    assert [_status(g) for g in gifts] == [DonationStatus.PENDING, DonationStatus.SUCCEEDED, DonationStatus.SUCCEEDED]
    assert WebhookEvent.objects.get(event_id=f"evt_fault_{poison.pk}").state == WebhookEventState.QUEUED
    assert not AuditEvent.objects.filter(action="webhook.refused_after_accept").exists()
    monkeypatch.undo()  # the fault is fixed: the next pass posts it
    assert confirmer.drain().applied == 1
    assert Transaction.objects.filter(kind="donation").count() == 3
    assert ledger_check() == []


def test_a_queued_event_keeps_only_what_its_confirmation_reads_not_the_payers_details() -> None:
    import json

    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=2500) for _ in range(2)]
    for g in gifts:
        body = json.loads(completed_event(g, event_id=f"evt_pii_{g.pk}", fee_pence=40))
        body["data"]["object"]["customer_details"] = {"email": "payer@example.org", "name": "Pat Payer"}
        body["data"]["object"]["metadata"]["campaign_note"] = "kept out"
        response = deliver(json.dumps(body).encode())
        assert response.status_code == 200
    stored = WebhookEvent.objects.get(event_id=f"evt_pii_{gifts[0].pk}").payload
    assert "payer@example.org" not in json.dumps(stored) and "kept out" not in json.dumps(stored)
    assert stored["object"]["carefund_fee_pence"] == 40
    second = WebhookEvent.objects.get(event_id=f"evt_pii_{gifts[1].pk}")
    second.payload["object"]["id"] = "cs_not_this_gifts"  # as if the gift's session had changed since the answer
    second.save(update_fields=["payload"])
    report = confirmer.drain()  # the first is posted, the second refused
    assert (report.applied, report.refused) == (1, 1)
    assert WebhookEvent.objects.get(event_id=f"evt_pii_{gifts[0].pk}").payload is None
    assert WebhookEvent.objects.get(event_id=f"evt_pii_{gifts[1].pk}").payload is not None  # refused: kept for review
