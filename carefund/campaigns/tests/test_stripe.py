"""Stripe through the real `stripe` library with its HTTP layer replaced by recorded answers (no network): the daily
sweep that finds completed checkouts whose webhook never arrived, and the fees learnt from each payout's balance
transactions (one listing call per payout)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from django.core.management import call_command

from carefund.campaigns import selectors, services
from carefund.campaigns.gateways.base import GatewayError
from carefund.campaigns.gateways.stripe_gateway import StripeGateway
from carefund.campaigns.gateways.test import event_payload
from carefund.campaigns.models import Campaign, Donation
from carefund.campaigns.services import fees, webhooks
from carefund.campaigns.tests.factories import caseworker, deliver, event_state, make_campaign
from carefund.core.models import AuditEvent
from carefund.ledger import chart
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec_real"
CLEARING = "Assets:Clearing:Stripe"


class RecordedHTTP(stripe.HTTPClient):
    """Stripe's HTTP layer replaced: records each request and answers with the recorded (status, body) in turn."""

    name = "recorded"

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []

    def request(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        parts = urlsplit(url)
        self.requests.append((method, parts.path, parse_qs(parts.query)))
        status, body = self.answers.pop(0)
        return json.dumps(body).encode(), status, {"request-id": "req_test"}

    def close(self) -> None:
        pass


@pytest.fixture
def http(settings: Any, monkeypatch: pytest.MonkeyPatch) -> RecordedHTTP:
    """Stripe keys set; the Stripe gateway's client talks to the recorded HTTP layer."""
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    recorded = RecordedHTTP()
    gateway = StripeGateway(
        secret_key="sk_test_x",
        webhook_secret=WEBHOOK_SECRET,
        tolerance_seconds=300,
        client=stripe.StripeClient("sk_test_x", http_client=recorded, max_network_retries=0),
    )
    for module in (webhooks, fees):
        monkeypatch.setattr(module, "active_gateway", lambda: gateway)
    return recorded


def _listing(path: str, *objects: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, {"object": "list", "url": path, "has_more": False, "data": list(objects)}


def _stripe_gift(campaign: Campaign, *, amount_pence: int = 2000, n: int = 1) -> Donation:
    gift = services.donation_create_pending(campaign=campaign, amount_pence=amount_pence, gateway="stripe")
    Donation.objects.filter(pk=gift.pk).update(checkout_session_id=f"cs_live_{n}")
    gift.refresh_from_db()
    return gift


def _session(gift: Donation, **changes: Any) -> dict[str, Any]:
    return {
        "id": gift.checkout_session_id,
        "object": "checkout.session",
        "amount_total": gift.total_pence,
        "currency": "gbp",
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": f"pi_{gift.pk}",
        "client_reference_id": str(gift.pk),
        "metadata": {"donation_id": str(gift.pk)},
        **changes,
    }


# --- the sweep -------------------------------------------------------------------------------------------------


def test_the_sweep_confirms_a_gift_whose_webhook_never_arrived_once(http: RecordedHTTP) -> None:
    campaign = make_campaign(target_pence=0)
    lost, known, wrong = (_stripe_gift(campaign, n=n) for n in (1, 2, 3))
    services.donation_record_succeeded(
        donation_id=known.pk, amount_total_pence=2000, session_id="cs_live_2", gateway="stripe"
    )
    sessions = [
        _session(lost),
        _session(known),
        _session(wrong, amount_total=20),
        {"id": "cs_other", "object": "checkout.session", "amount_total": 500, "currency": "gbp"},  # not ours
    ]
    http.answers.append(_listing("/v1/checkout/sessions", *sessions))
    report = services.checkouts_sweep(days=3)
    assert (report.asked, report.confirmed, report.refused, report.requeued) == (4, 1, 1, 0)
    [(method, path, query)] = http.requests
    assert (method, path, query["status"], query["limit"]) == ("get", "/v1/checkout/sessions", ["complete"], ["100"])
    assert "created[gte]" in query
    lost.refresh_from_db()
    assert (lost.status, lost.payment_intent_id, lost.fee_pence) == ("succeeded", f"pi_{lost.pk}", None)
    assert Donation.objects.get(pk=wrong.pk).status == "pending"
    [refusal] = AuditEvent.objects.filter(action="webhook.sweep_refused")
    assert "the provider took 20 pence but the gift was for 2000 pence" in refusal.summary
    assert fund_balance_pence(child_id=campaign.child_id) == 4000
    # the next day's sweep lists the same sessions: nothing is posted twice
    http.answers.append(_listing("/v1/checkout/sessions", *sessions))
    assert services.checkouts_sweep(days=3).confirmed == 0
    assert Transaction.objects.filter(kind="donation").count() == 2


def test_a_sweep_the_provider_fails_raises_and_posts_nothing(http: RecordedHTTP) -> None:
    _stripe_gift(make_campaign())
    http.answers.append((500, {"error": {"message": "Stripe is down", "type": "api_error"}}))
    with pytest.raises(GatewayError, match="could not list completed checkouts"):
        services.checkouts_sweep()
    assert not Transaction.objects.exists()


def test_the_sweep_command_runs_now_or_puts_the_sweep_on_the_queue(http: RecordedHTTP) -> None:
    gift = _stripe_gift(make_campaign())
    http.answers.append(_listing("/v1/checkout/sessions", _session(gift)))
    out = StringIO()
    call_command("webhooks", "sweep", "--now", stdout=out)
    assert out.getvalue().strip() == (
        "1 completed checkout(s) listed, 1 gift(s) confirmed, 0 refused, 0 event(s) requeued; "
        "0 test checkout(s) expired"
    )
    gift.refresh_from_db()
    assert gift.status == "succeeded"


def test_the_sweep_command_enqueues_on_the_database_queue(db_queue: None) -> None:
    from django_tasks_db.models import DBTaskResult

    out = StringIO()
    call_command("webhooks", "sweep", stdout=out)
    [task] = DBTaskResult.objects.all()
    assert task.task_path == "carefund.campaigns.tasks.checkouts_sweep_daily"
    assert out.getvalue().startswith(f"sweep queued (task {task.id})")


# --- fees from the payout -----------------------------------------------------------------------------------------


def _confirmed_stripe_gifts(campaign: Campaign) -> list[Donation]:
    gifts = [_stripe_gift(campaign, amount_pence=2000 + n, n=n) for n in range(3)]
    for gift in gifts:
        services.donation_record_succeeded(
            donation_id=gift.pk,
            amount_total_pence=gift.total_pence,
            session_id=str(gift.checkout_session_id),
            payment_intent_id=f"pi_{gift.pk}",
            gateway="stripe",
        )
    return gifts


def _bt(gift_or_intent: Donation | str, fee: Any, currency: str = "gbp") -> dict[str, Any]:
    intent = gift_or_intent if isinstance(gift_or_intent, str) else f"pi_{gift_or_intent.pk}"
    return {
        "id": f"txn_{intent}",
        "object": "balance_transaction",
        "type": "charge",
        "fee": fee,
        "currency": currency,
        "source": {"id": f"ch_{intent}", "object": "charge", "payment_intent": intent},
    }


def test_a_payout_posts_the_fees_of_the_gifts_it_paid_out_from_one_listing(http: RecordedHTTP) -> None:
    campaign = make_campaign(target_pence=0)
    one, two, three = _confirmed_stripe_gifts(campaign)
    http.answers.append(
        _listing(
            "/v1/balance_transactions",
            _bt(one, 50),
            _bt(two, 51),
            _bt(three, 7, currency="eur"),  # not pounds: skipped, left for a finance officer
            _bt("pi_elsewhere", 99),  # not one of carefund's gifts
        )
    )
    gross = one.total_pence + two.total_pence + three.total_pence
    payout = {"id": "po_1", "object": "payout", "amount": gross - 101, "currency": "gbp", "arrival_date": 1790000000}
    payload = event_payload(event_type="payout.paid", event_id="evt_po", data_object=payout)
    assert deliver(payload, secret=WEBHOOK_SECRET).status_code == 200
    assert event_state("evt_po") == ("applied", "payout po_1 recorded")
    [(method, path, query)] = http.requests
    assert (method, path) == ("get", "/v1/balance_transactions")
    assert (query["payout"], query["type"], query["expand[0]"]) == (["po_1"], ["charge"], ["data.source"])
    assert [Donation.objects.get(pk=g.pk).fee_pence for g in (one, two, three)] == [50, 51, None]
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 101
    assert account_balance_pence(name=CLEARING) == 0
    assert account_balance_pence(name=chart.BANK) == gross - 101
    # the same payout's fees asked again (the command): nothing posted twice
    http.answers.append(_listing("/v1/balance_transactions", _bt(one, 50), _bt(two, 51)))
    out = StringIO()
    call_command("webhooks", "fees", "po_1", stdout=out)
    assert out.getvalue().strip() == "2 charge(s) listed; 0 fee(s) posted (0 pence)."
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 101
    [line] = [line for line in selectors.reconciliation(user=caseworker()) if "clearing" in line.label]
    assert line.expected_pence == line.ledger_pence == 0
    assert ledger_check() == []
