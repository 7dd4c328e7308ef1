"""Stripe's fee: the webhook does not carry it, so a Stripe gift is confirmed without it (verifying asks Stripe
nothing) and the confirmer asks for it moments later in a thread of its own (`FreshFees`, `FeesFiller`), then for
any still unknown every WEBHOOK_FEES_FILL_SECONDS. The real `stripe` client with a canned HTTP layer (no network):
the lookup's success and failures (a failed lookup leaves the gift confirmed without a fee, asked again later)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from carefund.campaigns import services
from carefund.campaigns.gateways.base import GatewayEvent
from carefund.campaigns.gateways.stripe_gateway import StripeGateway
from carefund.campaigns.gateways.test import event_payload, sign_payload
from carefund.campaigns.models import Campaign, Donation, WebhookEvent
from carefund.campaigns.tests.factories import completed_event, deliver, make_campaign, refund_event
from carefund.ledger import chart
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

WEBHOOK_SECRET = "whsec_real"
CLEARING = "Assets:Clearing:Stripe"


class CannedHTTP(stripe.HTTPClient):
    """Stripe's HTTP layer replaced: records each request and answers from `responses` (status, body) or raises."""

    name = "canned"

    def __init__(self, *responses: tuple[int, dict[str, Any]] | Exception) -> None:
        super().__init__()
        self.responses = list(responses)
        self.requests: list[tuple[str, str]] = []

    def request(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        self.requests.append((method, url))
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return json.dumps(body).encode(), status, {"request-id": "req_test"}

    def close(self) -> None:
        pass


def _intent(fee: Any, currency: str = "gbp", *, with_charge: bool = True) -> dict[str, Any]:
    """A PaymentIntent as Stripe returns it with expand[]=latest_charge.balance_transaction."""
    charge = {
        "id": "ch_1",
        "object": "charge",
        "balance_transaction": {"id": "txn_1", "object": "balance_transaction", "fee": fee, "currency": currency},
    }
    return {"id": "pi_1", "object": "payment_intent", "latest_charge": charge if with_charge else None}


def _gateway(http: CannedHTTP) -> StripeGateway:
    return StripeGateway(
        secret_key="sk_test_x",
        webhook_secret=WEBHOOK_SECRET,
        tolerance_seconds=300,
        lookup_client=stripe.StripeClient("sk_test_x", http_client=http, max_network_retries=0),
    )


# --- the lookup -------------------------------------------------------------------------------------------------


def test_the_fee_is_the_latest_charges_balance_transaction_fee() -> None:
    http = CannedHTTP((200, _intent(62)))
    assert _gateway(http).payment_intent_fee_pence("pi_1", 2000) == 62
    ((method, url),) = http.requests
    parts = urlsplit(url)
    assert (method, parts.path) == ("get", "/v1/payment_intents/pi_1")
    assert parse_qs(parts.query) == {"expand[0]": ["latest_charge.balance_transaction"]}


@pytest.mark.parametrize(
    ("answer", "logged"),
    [
        (stripe.APIConnectionError("Network error: could not connect"), "could not look up the fee of pi_1"),
        ((403, {"error": {"type": "invalid_request_error", "message": "restricted key"}}), "could not look up"),
        ((500, {"error": {"type": "api_error", "message": "boom"}}), "could not look up"),
        ((200, _intent(62, "eur")), "no usable fee"),
        ((200, _intent(None)), "no usable fee"),
        ((200, _intent(2001)), "no usable fee"),  # more than the charge: not a fee we can post
        ((200, _intent(-1)), "no usable fee"),
        ((200, _intent(62, with_charge=False)), "no usable fee"),
        ((200, {"id": "pi_1", "object": "payment_intent", "latest_charge": "ch_1"}), "no usable fee"),  # unexpanded
    ],
)
def test_a_failed_or_unusable_lookup_gives_no_fee_and_is_logged(
    answer: Any, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    http = CannedHTTP(answer)
    with caplog.at_level(logging.WARNING, logger="carefund.campaigns.gateways.stripe_gateway"):
        assert _gateway(http).payment_intent_fee_pence("pi_1", 2000) is None
    assert len(http.requests) == 1
    assert logged in caplog.text


def _signed(gateway: StripeGateway, payload: bytes) -> GatewayEvent:
    return gateway.verify_webhook(payload=payload, signature_header=sign_payload(payload, secret=WEBHOOK_SECRET))


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        (
            "checkout.session.completed",
            {"id": "cs_1", "amount_total": 2500, "payment_status": "paid", "payment_intent": "pi_1"},
        ),
        (
            "checkout.session.async_payment_succeeded",
            {"id": "cs_1", "payment_status": "paid", "payment_intent": "pi_1"},
        ),
        ("checkout.session.completed", {"id": "cs_1", "payment_status": "unpaid", "payment_intent": "pi_1"}),
        ("charge.refunded", {"id": "ch_1", "payment_intent": "pi_1"}),
        ("payout.paid", {"id": "po_1", "amount": 100}),
    ],
)
def test_verifying_an_event_asks_stripe_nothing(event_type: str, obj: dict[str, Any]) -> None:
    """The provider waits for our answer: no request of ours to it comes before, a paid checkout's included."""
    http = CannedHTTP()
    event = _signed(_gateway(http), event_payload(event_type=event_type, data_object=obj))
    assert (event.type, event.fee_pence, http.requests) == (event_type, None, [])


def test_a_forged_event_is_refused_before_any_lookup() -> None:
    from carefund.campaigns.gateways.base import WebhookVerificationError

    http = CannedHTTP((200, _intent(58)))
    payload = event_payload(event_type="checkout.session.completed", data_object={"id": "cs_1", "payment_intent": "x"})
    with pytest.raises(WebhookVerificationError):
        _gateway(http).verify_webhook(payload=payload, signature_header=sign_payload(payload, secret="whsec_forger"))
    assert http.requests == []


# --- through the webhook ----------------------------------------------------------------------------------------


@pytest.fixture
def stripe_mode(settings: Any, monkeypatch: pytest.MonkeyPatch) -> CannedHTTP:
    """Stripe keys set; the gateway's lookups go to a canned HTTP layer (answers are appended by each test)."""
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    http = CannedHTTP()
    client = stripe.StripeClient("sk_test_x", http_client=http, max_network_retries=0)
    monkeypatch.setattr(StripeGateway, "_lookups", lambda self: client)
    return http


def _stripe_gift(campaign: Campaign, *, amount_pence: int = 2000, session_id: str = "cs_live_abc") -> Donation:
    donation = services.donation_create_pending(campaign=campaign, amount_pence=amount_pence, gateway="stripe")
    donation.checkout_session_id = session_id
    donation.save()
    return donation


def _fresh() -> Any:
    from carefund.web.campaigns.confirmer import FreshFees

    return FreshFees()


@pytest.mark.django_db
def test_a_stripe_gift_is_confirmed_without_asking_stripe_and_its_fee_posted_by_the_next_run(
    stripe_mode: CannedHTTP,
) -> None:
    campaign = make_campaign()
    gift = _stripe_gift(campaign)
    response = deliver(completed_event(gift, fee_pence=99), secret=WEBHOOK_SECRET)  # a fee in the body is ignored
    assert (response.status_code, response.json()) == (200, {"outcome": f"gift #{gift.pk} confirmed"})
    assert stripe_mode.requests == []  # the answer waited for no request to Stripe
    gift.refresh_from_db()
    assert (gift.status, gift.fee_pence, gift.payment_intent_id) == ("succeeded", None, f"pi_test_{gift.pk}")
    assert account_balance_pence(name=CLEARING) == 2000
    # the confirmer's run for fresh gifts
    stripe_mode.responses.append((200, _intent(50)))
    fresh = _fresh()
    fresh()
    assert [urlsplit(u).path for _, u in stripe_mode.requests] == [f"/v1/payment_intents/pi_test_{gift.pk}"]
    gift.refresh_from_db()
    assert gift.fee_pence == 50
    assert fund_balance_pence(child_id=campaign.child_id) == 2000  # the child's fund is not touched by a fee
    assert account_balance_pence(name=CLEARING) == 2000 - 50
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 50
    fresh()
    assert len(stripe_mode.requests) == 1  # known now: not asked again
    assert ledger_check() == []


@pytest.mark.django_db
def test_an_expanded_payment_intent_is_kept_by_its_id(stripe_mode: CannedHTTP) -> None:
    gift = _stripe_gift(make_campaign())
    body = json.loads(completed_event(gift))
    body["data"]["object"]["payment_intent"] = {"id": "pi_expanded", "object": "payment_intent"}
    assert deliver(json.dumps(body).encode(), secret=WEBHOOK_SECRET).status_code == 200
    gift.refresh_from_db()
    assert gift.payment_intent_id == "pi_expanded"
    stripe_mode.responses.append((200, _intent(40)))
    _fresh()()
    assert urlsplit(stripe_mode.requests[0][1]).path == "/v1/payment_intents/pi_expanded"
    gift.refresh_from_db()
    assert gift.fee_pence == 40


@pytest.mark.django_db
def test_a_gift_naming_no_payment_intent_is_never_asked_for(stripe_mode: CannedHTTP) -> None:
    gift = _stripe_gift(make_campaign())
    body = json.loads(completed_event(gift))
    body["data"]["object"]["payment_intent"] = None
    assert deliver(json.dumps(body).encode(), secret=WEBHOOK_SECRET).status_code == 200
    _fresh()()
    assert services.donation_fees_fill().looked_up == 0
    assert stripe_mode.requests == []
    assert Donation.objects.get(pk=gift.pk).status == "succeeded"


@pytest.mark.django_db
def test_a_failed_fee_lookup_leaves_the_gift_confirmed_without_a_fee_until_a_later_run(
    stripe_mode: CannedHTTP, caplog: pytest.LogCaptureFixture
) -> None:
    campaign = make_campaign()
    gift = _stripe_gift(campaign)
    assert deliver(completed_event(gift), secret=WEBHOOK_SECRET).status_code == 200
    stripe_mode.responses.append(stripe.APIConnectionError("Network error"))
    fresh = _fresh()
    with caplog.at_level(logging.WARNING, logger="carefund.campaigns.gateways.stripe_gateway"):
        fresh()
    assert f"could not look up the fee of pi_test_{gift.pk}" in caplog.text
    gift.refresh_from_db()
    assert (gift.status, gift.fee_pence) == ("succeeded", None)
    assert account_balance_pence(name=CLEARING) == 2000
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 0
    assert Transaction.objects.count() == 1 and WebhookEvent.objects.count() == 1
    fresh()
    assert len(stripe_mode.requests) == 1  # each fresh gift is asked for once; the full run asks again
    stripe_mode.responses.append((200, _intent(50)))
    assert services.donation_fees_fill().recorded == 1
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 50
    assert ledger_check() == []


@pytest.mark.django_db
def test_the_refund_of_a_stripe_gift_keeps_the_looked_up_fee_as_an_expense(stripe_mode: CannedHTTP) -> None:
    campaign = make_campaign()
    gift = _stripe_gift(campaign)
    assert deliver(completed_event(gift), secret=WEBHOOK_SECRET).status_code == 200
    stripe_mode.responses.append((200, _intent(50)))
    _fresh()()
    assert deliver(refund_event(gift), secret=WEBHOOK_SECRET).status_code == 200
    assert len(stripe_mode.requests) == 1  # the refund asked nothing
    gift.refresh_from_db()
    assert gift.status == "refunded"
    assert fund_balance_pence(child_id=campaign.child_id) == 0
    # the fee posted on its own is not reversed by the refund, nor posted again: the provider charged it once
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 50
    assert account_balance_pence(name=CLEARING) == 2000 - 50 - 2000
    assert ledger_check() == []


@pytest.mark.django_db
def test_a_gift_refunded_before_its_fee_was_known_has_the_fee_posted_by_the_full_run(stripe_mode: CannedHTTP) -> None:
    campaign = make_campaign()
    gift = _stripe_gift(campaign)
    assert deliver(completed_event(gift), secret=WEBHOOK_SECRET).status_code == 200
    assert deliver(refund_event(gift), secret=WEBHOOK_SECRET).status_code == 200
    _fresh()()  # fresh runs ask for standing gifts only
    assert stripe_mode.requests == []
    stripe_mode.responses.append((200, _intent(50)))
    filled = services.donation_fees_fill()
    assert (filled.looked_up, filled.recorded, filled.recorded_pence) == (1, 1, 50)
    assert Donation.objects.get(pk=gift.pk).fee_pence == 50
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 50
    assert account_balance_pence(name=CLEARING) == -50  # what Stripe took back: the gift, and its fee kept
    assert fund_balance_pence(child_id=campaign.child_id) == 0
    assert services.donation_fees_fill().looked_up == 0
    assert ledger_check() == []


@pytest.mark.django_db
def test_stripe_gifts_confirmed_together_post_the_fees_their_events_carry() -> None:
    """Events queued by versions that looked the fee up before answering carry it (`GatewayEvent.fee_pence`)."""
    campaign = make_campaign(target_pence=0)
    gifts = [_stripe_gift(campaign, amount_pence=1000 + i, session_id=f"cs_live_{i}") for i in range(3)]
    fees = [30, None, 31]
    events = []
    for gift, fee in zip(gifts, fees, strict=True):
        body = json.loads(completed_event(gift, event_id=f"evt_{gift.pk}"))
        events.append((GatewayEvent(body["id"], body["type"], 0, body["data"]["object"], fee_pence=fee), "stripe"))
    results = services._apply_events(events)
    assert [r.status_code for r in results] == [200, 200, 200]
    assert [Donation.objects.get(pk=g.pk).fee_pence for g in gifts] == fees
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 61
    assert account_balance_pence(name=CLEARING) == 3003 - 61
    assert ledger_check() == []


# --- a fee known only later ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_fee_unknown_at_confirmation_is_posted_by_a_later_run_once(stripe_mode: CannedHTTP) -> None:
    from django.core.management import call_command

    from carefund.core.models import AuditEvent

    campaign = make_campaign()
    gift, other = _stripe_gift(campaign), _stripe_gift(campaign, session_id="cs_live_other")
    # confirmed without their fees; Stripe had not yet made either charge's balance transaction when asked
    for g in (gift, other):
        assert deliver(completed_event(g), secret=WEBHOOK_SECRET).status_code == 200
    stripe_mode.responses += [(200, _intent(None, with_charge=False))] * 2
    _fresh()()
    assert len(stripe_mode.requests) == 2
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 0
    # the next day: one fee is known, the other still is not
    stripe_mode.responses += [(200, _intent(50)), (200, _intent(None, with_charge=False))]
    filled = services.donation_fees_fill()
    assert (filled.looked_up, filled.recorded, filled.recorded_pence) == (2, 1, 50)
    gift.refresh_from_db()
    other.refresh_from_db()
    assert (gift.fee_pence, other.fee_pence) == (50, None)
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 50
    assert account_balance_pence(name=CLEARING) == 4000 - 50
    assert fund_balance_pence(child_id=campaign.child_id) == 4000  # the child's fund is not touched by a fee
    assert AuditEvent.objects.filter(action="donation.fee_recorded", target_id=str(gift.pk)).count() == 1
    # the command asks only for the one still missing; a fee already recorded is never posted twice
    stripe_mode.responses.append((200, _intent(40)))
    out = io.StringIO()
    call_command("webhooks", "fees", stdout=out)
    assert "1 confirmed gift(s) without a fee looked up; 1 fee(s) posted (£0.40)" in out.getvalue()
    assert services.donation_fee_record(donation_id=gift.pk, fee_pence=50) is False
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 90
    assert [urlsplit(u).path for _, u in stripe_mode.requests[-3:]] == [
        f"/v1/payment_intents/pi_test_{gift.pk}",
        f"/v1/payment_intents/pi_test_{other.pk}",
        f"/v1/payment_intents/pi_test_{other.pk}",
    ]
    assert ledger_check() == []


@pytest.mark.django_db
def test_a_late_fee_is_refused_when_it_is_not_a_fee_of_that_gift() -> None:
    from carefund.core.errors import ValidationError

    campaign = make_campaign()
    gift = _stripe_gift(campaign)
    services.donation_record_succeeded(donation_id=gift.pk, amount_total_pence=2000)
    for bad in (-1, 2001, True, "5"):
        with pytest.raises(ValidationError, match="fee:"):
            services.donation_fee_record(donation_id=gift.pk, fee_pence=bad)  # type: ignore[arg-type]
    pending = _stripe_gift(campaign, session_id="cs_live_pending")
    assert services.donation_fee_record(donation_id=pending.pk, fee_pence=10) is False  # not confirmed: nothing
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 0


def test_the_test_gateway_has_no_fees_to_fill() -> None:
    from carefund.campaigns.gateways.test import TestGateway

    assert services.donation_fees_fill(gateway=TestGateway(webhook_secret="x", tolerance_seconds=1)).looked_up == 0


def _inline_filler(fill: Any, fresh: Any = None) -> Any:
    """The confirmer's FeesFiller, but running each run in the caller's thread (the test's transaction is not
    visible to another thread's connection) and noting its kind; FeesFiller's own thread is tested below."""
    from carefund.web.campaigns.confirmer import FeesFiller

    class Inline(FeesFiller):
        def start(self, *, fresh: bool = False) -> bool:
            self.runs.append("fresh" if fresh else "full")
            if fresh:
                self.fresh_wanted = False
            (self._fresh if fresh else self._fill)()
            return True

    filler = Inline(fill=fill, fresh=fresh)
    filler.runs = []  # type: ignore[attr-defined]
    return filler


@pytest.mark.django_db
def test_the_confirmer_asks_for_all_unknown_fees_at_its_start_and_then_every_interval(
    stripe_mode: CannedHTTP, settings: Any
) -> None:
    from carefund.web.campaigns import confirmer

    campaign = make_campaign()
    gift = _stripe_gift(campaign)
    assert deliver(completed_event(gift), secret=WEBHOOK_SECRET).status_code == 200  # applied on arrival
    settings.WEBHOOK_FEES_FILL_SECONDS = 3600
    stripe_mode.responses.append((200, _intent(50)))
    filler = _inline_filler(confirmer.fees_fill)
    confirmer.watch(interval=0, passes=3, fees=filler)
    # at the start: all unknown fees (the gift's, posted), then fresh gifts (none left without a fee)
    assert filler.runs == ["full", "fresh"]
    gift.refresh_from_db()
    assert gift.fee_pence == 50 and account_balance_pence(name=chart.PAYMENT_FEES) == 50
    assert len(stripe_mode.requests) == 1
    settings.WEBHOOK_FEES_FILL_SECONDS = 1e-9
    confirmer.watch(interval=0, passes=3, fees=filler)
    assert filler.runs.count("full") == 4
    settings.WEBHOOK_FEES_FILL_SECONDS = 0  # never
    confirmer.watch(interval=0, passes=3, fees=filler)
    assert filler.runs.count("full") == 4
    assert len(stripe_mode.requests) == 1


@pytest.mark.django_db
def test_the_confirmer_asks_for_the_fees_of_the_gifts_it_confirms_once(
    stripe_mode: CannedHTTP, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carefund.web.campaigns import confirmer

    settings.WEBHOOK_FEES_FILL_SECONDS = 0  # the full run out of the way
    settings.WEBHOOK_CONFIRM_AFTER_ANSWER = True
    settings.WEBHOOK_SPOOL_DIR = ""
    monkeypatch.setattr(confirmer, "FRESH_FEES_EVERY", 3600.0)
    campaign = make_campaign()
    filler = _inline_filler(confirmer.fees_fill, fresh=confirmer.FreshFees())
    confirmer.watch(interval=0, passes=2, fees=filler)
    assert filler.runs == ["fresh"]  # once at the start; nothing confirmed since
    gifts = [_stripe_gift(campaign, session_id=f"cs_live_{i}") for i in range(2)]
    for g in gifts:
        response = deliver(completed_event(g), secret=WEBHOOK_SECRET)
        assert "accepted" in response.json()["outcome"]  # answered at once; the confirmer posts it
    assert stripe_mode.requests == []
    stripe_mode.responses += [(200, _intent(50)), (200, _intent(None, with_charge=False))]
    confirmer.watch(interval=0, passes=3, fees=filler)
    assert filler.runs == ["fresh", "fresh"]  # after the pass that confirmed them, and not after the empty ones
    assert [Donation.objects.get(pk=g.pk).fee_pence for g in gifts] == [50, None]
    assert len(stripe_mode.requests) == 2
    monkeypatch.setattr(confirmer, "FRESH_FEES_EVERY", 0.0)  # look every pass, as for gifts confirmed elsewhere
    confirmer.watch(interval=0, passes=3, fees=filler)
    assert filler.runs.count("fresh") == 5
    assert len(stripe_mode.requests) == 2  # the fee still unknown is not asked again by these runs
    assert ledger_check() == []


def _three_confirmed_at(campaign: Campaign, moment: Any) -> list[Donation]:
    """Three Stripe gifts confirmed (without their fees) at `moment`."""
    from carefund.core import clock

    with clock.frozen_at(moment):
        gifts = [_stripe_gift(campaign, session_id=f"cs_live_{i}") for i in range(3)]
        for g in gifts:
            assert deliver(completed_event(g), secret=WEBHOOK_SECRET).status_code == 200
    return gifts


@pytest.mark.django_db
def test_fresh_runs_ask_each_gift_once_and_go_on_from_where_a_full_run_stopped(stripe_mode: CannedHTTP) -> None:
    import datetime as dt

    from carefund.core import clock
    from carefund.web.campaigns.confirmer import FreshFees

    campaign = make_campaign()
    start = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    with clock.frozen_at(start - dt.timedelta(minutes=5)):  # before the first run's window: the full run's to ask
        old = _stripe_gift(campaign, session_id="cs_live_old")
        assert deliver(completed_event(old), secret=WEBHOOK_SECRET).status_code == 200
    gifts = _three_confirmed_at(campaign, start)
    fresh = FreshFees(limit=2)
    stripe_mode.responses += [(200, _intent(None, with_charge=False))] * 3
    with clock.frozen_at(start + dt.timedelta(seconds=1)):
        fresh()  # two of the three: its limit
    with clock.frozen_at(start + dt.timedelta(seconds=2)):
        fresh()  # the third, from the same window
    with clock.frozen_at(start + dt.timedelta(seconds=3)):
        fresh()  # nothing new
    asked = [urlsplit(u).path.rsplit("_", 1)[-1] for _, u in stripe_mode.requests]
    assert asked == [str(g.pk) for g in gifts]
    stripe_mode.responses += [(200, _intent(30))]
    with clock.frozen_at(start + dt.timedelta(minutes=10)):
        later = _stripe_gift(campaign, session_id="cs_live_later")
        assert deliver(completed_event(later), secret=WEBHOOK_SECRET).status_code == 200
        fresh()
    assert Donation.objects.get(pk=later.pk).fee_pence == 30
    assert Donation.objects.get(pk=old.pk).fee_pence is None  # never a fresh gift: left to the full run
    assert len(stripe_mode.requests) == 4


def test_a_failure_asking_for_late_fees_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from carefund.web.campaigns import confirmer

    def broken() -> None:
        raise RuntimeError("the provider is down")

    monkeypatch.setattr(confirmer.services, "donation_fees_fill", broken)
    confirmer.fees_fill()
    assert "asking the provider for late fees failed" in caplog.text


def test_the_fees_run_in_a_thread_of_their_own_one_run_at_a_time() -> None:
    import threading

    from carefund.web.campaigns.confirmer import FeesFiller

    release, started = threading.Event(), threading.Event()
    threads: list[str] = []

    def slow_fill() -> None:
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(10)

    filler = FeesFiller(fill=slow_fill)
    assert filler.start() is True
    assert started.wait(10)
    assert filler.start() is False  # still running: the confirmer's loop goes on without starting another
    release.set()
    filler.join(10)
    assert threads == ["carefund-fees-fill"]
    started.clear()
    assert filler.start() is True  # the next run, once the first is over
    filler.join(10)
    assert threads == ["carefund-fees-fill"] * 2


@pytest.mark.django_db
def test_the_fresh_gifts_without_a_fee_are_read_through_the_partial_index(stripe_mode: CannedHTTP) -> None:
    """Each run for fresh gifts reads only the few gifts without a fee, however many gifts there are."""
    import datetime as dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from carefund.core import clock

    if connection.vendor != "sqlite":
        pytest.skip("the plan checked is SQLite's (PostgreSQL chooses by its statistics)")
    gift = _stripe_gift(make_campaign())
    assert deliver(completed_event(gift), secret=WEBHOOK_SECRET).status_code == 200
    stripe_mode.responses.append((200, _intent(None, with_charge=False)))
    with CaptureQueriesContext(connection) as queries:
        services.donation_fees_fill(confirmed_since=clock.now() - dt.timedelta(minutes=1))
    [query] = [q for q in queries.captured_queries if q["sql"].startswith("SELECT") and "fee_pence" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING INDEX donation_fee_unknown" in plan, query["sql"]


@pytest.mark.django_db
def test_the_full_run_goes_on_from_where_it_stopped_so_fees_stripe_never_gives_hide_no_gift(
    stripe_mode: CannedHTTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five gifts whose fee Stripe never gives come first; the full run asks two a run: a sixth gift, whose fee is
    known, is still asked for by the third run (before, every run asked the same first ones)."""
    from carefund.web.campaigns.confirmer import FullFees

    campaign = make_campaign(target_pence=0)
    for i in range(6):
        gift = _stripe_gift(campaign, session_id=f"cs_live_{i}")
        services.donation_record_succeeded(donation_id=gift.pk, amount_total_pence=2000, payment_intent_id=f"pi_{i}")
    asked: list[str] = []

    def lookup(self: Any, intent_id: str, amount: int) -> int | None:
        asked.append(intent_id)
        return 30 if intent_id == "pi_5" else None

    monkeypatch.setattr(StripeGateway, "payment_intent_fee_pence", lookup)
    full = FullFees(limit=2)
    for _ in range(3):
        full()
    assert asked == ["pi_0", "pi_1", "pi_2", "pi_3", "pi_4", "pi_5"]
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 30
    full()
    assert asked[-2:] == ["pi_0", "pi_1"]  # round again
    out = io.StringIO()
    from django.core.management import call_command

    call_command("webhooks", "fees", stdout=out)  # the command asks for every fee still unknown at once
    assert "5 confirmed gift(s) without a fee looked up" in out.getvalue()


@pytest.mark.django_db
def test_a_first_fresh_run_that_hits_its_limit_keeps_its_window(stripe_mode: CannedHTTP) -> None:
    import datetime as dt

    from carefund.core import clock
    from carefund.web.campaigns.confirmer import FreshFees

    campaign = make_campaign()
    start = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    gifts = _three_confirmed_at(campaign, start)
    fresh = FreshFees(limit=2)
    stripe_mode.responses += [(200, _intent(None, with_charge=False))] * 3
    with clock.frozen_at(start + dt.timedelta(seconds=50)):
        fresh()
    with clock.frozen_at(start + dt.timedelta(minutes=5)):  # well past the overlap after the first run
        fresh()
    assert [urlsplit(u).path.rsplit("_", 1)[-1] for _, u in stripe_mode.requests] == [str(g.pk) for g in gifts]


@pytest.mark.django_db
def test_the_servers_fallback_confirmer_asks_for_the_fees_of_the_gifts_it_confirms(
    stripe_mode: CannedHTTP, settings: Any
) -> None:
    """Without the confirmer process, the server's fallback thread confirms the gift and asks for its fee."""
    from carefund.web.campaigns.confirmer import FallbackConfirmer, FreshFees

    settings.WEBHOOK_CONFIRM_AFTER_ANSWER = True
    settings.WEBHOOK_SPOOL_DIR = ""
    settings.WEBHOOK_CONFIRM_FALLBACK_AFTER_SECONDS = 0
    gift = _stripe_gift(make_campaign())
    assert "accepted" in deliver(completed_event(gift), secret=WEBHOOK_SECRET).json()["outcome"]
    stripe_mode.responses.append((200, _intent(45)))
    fresh = FreshFees()
    assert FallbackConfirmer.step(fresh) == 1
    gift.refresh_from_db()
    assert (gift.status, gift.fee_pence) == ("succeeded", 45)
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 45
    assert FallbackConfirmer.step(fresh) == 0  # nothing left: no more requests
    assert len(stripe_mode.requests) == 1


@pytest.mark.django_db
def test_the_reconciliation_page_warns_of_fees_unknown_for_hours(stripe_mode: CannedHTTP) -> None:
    """An unknown fee is missing from both sides of the clearing line, so the page says so on its own."""
    import datetime as dt

    from django.test import Client

    from carefund.campaigns.tests.factories import caseworker
    from carefund.core import clock

    gift = _stripe_gift(make_campaign())
    with clock.frozen_at(clock.now() - dt.timedelta(hours=3)):
        assert deliver(completed_event(gift), secret=WEBHOOK_SECRET).status_code == 200
    staff = Client()
    staff.force_login(caseworker())
    page = staff.get("/staff/reconciliation/").content.decode()
    assert "1 confirmed gift still without the provider's fee" in page
    stripe_mode.responses.append((200, _intent(50)))
    assert services.donation_fees_fill().recorded == 1
    assert "still without the provider" not in staff.get("/staff/reconciliation/").content.decode()


def _finance_officer(username: str = "") -> Any:
    from carefund.campaigns.tests.factories import grant_campaign_roles
    from carefund.care.tests.factories import user_with_role
    from carefund.core.roles import Role

    grant_campaign_roles()
    return user_with_role(Role.FINANCE_OFFICER, username or None)


def _overdue_gift(campaign: Campaign | None = None) -> Donation:
    """A Stripe gift confirmed three hours ago whose fee Stripe never gave."""
    import datetime as dt

    from carefund.core import clock

    gift = _stripe_gift(campaign or make_campaign())
    with clock.frozen_at(clock.now() - dt.timedelta(hours=3)):
        assert deliver(completed_event(gift), secret=WEBHOOK_SECRET).status_code == 200
    gift.refresh_from_db()
    assert (gift.status, gift.fee_pence) == ("succeeded", None)
    return gift


def _fee_transactions() -> int:
    return Transaction.objects.filter(kind="fee").count()


@pytest.mark.django_db
def test_a_finance_officer_records_a_fee_stripe_never_gave_from_the_reconciliation_page(
    stripe_mode: CannedHTTP,
) -> None:
    from django.test import Client

    from carefund.campaigns.tests.factories import caseworker
    from carefund.core.models import AuditEvent

    gift = _overdue_gift()
    form_action = f'action="/staff/gifts/{gift.pk}/fee/"'
    worker = Client()
    worker.force_login(caseworker())
    page = worker.get("/staff/reconciliation/").content.decode()
    assert "1 confirmed gift still without the provider's fee" in page
    assert form_action not in page  # a caseworker sees the warning, not the form
    assert worker.post(f"/staff/gifts/{gift.pk}/fee/", {"fee": "0.48", "source": "x"}).status_code == 403

    officer = _finance_officer()
    finance = Client()
    finance.force_login(officer)
    page = finance.get("/staff/reconciliation/").content.decode()
    assert form_action in page and f"<code>pi_test_{gift.pk}</code>" in page

    response = finance.post(
        f"/staff/gifts/{gift.pk}/fee/", {"fee": "0.48", "source": "  Stripe payout report\nof 3 Nov "}, follow=True
    )
    assert response.redirect_chain == [("/staff/reconciliation/#fees", 302)]
    page = response.content.decode()
    assert f"Recorded the fee of gift #{gift.pk}: £0.48." in page
    assert "still without the provider" not in page and form_action not in page
    gift.refresh_from_db()
    assert gift.fee_pence == 48
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 48
    assert account_balance_pence(name=CLEARING) == 2000 - 48
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2000  # the child's fund is not touched by a fee
    fee_txn = Transaction.objects.get(kind="fee")
    assert fee_txn.memo == f"Payment fee of gift #{gift.pk}, recorded by hand from Stripe payout report of 3 Nov"
    audit = AuditEvent.objects.get(action="donation.fee_recorded_by_hand")
    assert (audit.actor_id, audit.target_id, audit.summary) == (
        officer.pk,
        str(gift.pk),
        "48 pence, from Stripe payout report of 3 Nov",
    )
    # Known now: the automatic runs no longer ask Stripe for it, and a second recording is refused.
    assert services.donation_fees_fill(limit=None).recorded == 0
    assert stripe_mode.requests == []
    again = finance.post(f"/staff/gifts/{gift.pk}/fee/", {"fee": "0.50", "source": "again"}, follow=True)
    assert f"Gift #{gift.pk}: gift #{gift.pk} already has its fee" in again.content.decode()
    assert _fee_transactions() == 1 and account_balance_pence(name=chart.PAYMENT_FEES) == 48
    assert ledger_check() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fee", "source", "says"),
    [
        ("", "payout report", "fee: enter an amount in pounds"),
        ("forty", "payout report", "fee: 'forty' is not an amount in pounds"),
        ("-0.40", "payout report", "fee: '-0.40' is not an amount in pounds"),
        ("20.01", "payout report", "fee: 2001 pence is more than gift"),
        ("0.40", "   ", "source: say where the fee comes from"),
        ("0.40", "x" * 201, "source: at most 200 characters, got 201."),
    ],
)
def test_a_bad_fee_or_source_is_refused_with_what_to_fix_and_nothing_is_recorded(
    stripe_mode: CannedHTTP, fee: str, source: str, says: str
) -> None:
    from django.test import Client

    gift = _overdue_gift()
    finance = Client()
    finance.force_login(_finance_officer())
    page = finance.post(f"/staff/gifts/{gift.pk}/fee/", {"fee": fee, "source": source}, follow=True).content.decode()
    assert says in page.replace("&#x27;", "'") and "Nothing was recorded." in page
    gift.refresh_from_db()
    assert gift.fee_pence is None and _fee_transactions() == 0
    assert "1 confirmed gift still without the provider's fee" in page  # still warned, still offered


@pytest.mark.django_db
def test_only_a_confirmed_online_gift_without_a_fee_can_have_one_recorded_by_hand(stripe_mode: CannedHTTP) -> None:
    import datetime as dt

    from carefund.campaigns.tests.factories import caseworker
    from carefund.core.errors import ConflictError, NotFoundError, PermissionDeniedError

    officer = _finance_officer()
    campaign = make_campaign()
    pending = _stripe_gift(campaign, session_id="cs_live_pending")
    offline = services.donation_record_offline(
        campaign=campaign, amount_pence=1000, kind="cash", received_on=dt.date(2026, 11, 1), actor=caseworker()
    )
    with pytest.raises(ConflictError, match="is not confirmed"):
        services.donation_fee_record_by_hand(donation_id=pending.pk, fee_pence=40, source="report", actor=officer)
    with pytest.raises(ConflictError, match="was not paid online"):
        services.donation_fee_record_by_hand(donation_id=offline.pk, fee_pence=40, source="report", actor=officer)
    with pytest.raises(NotFoundError, match="no gift"):
        services.donation_fee_record_by_hand(donation_id=999_999, fee_pence=40, source="report", actor=officer)
    fresh = _stripe_gift(campaign, session_id="cs_live_fresh")
    assert deliver(completed_event(fresh), secret=WEBHOOK_SECRET).status_code == 200  # confirmed now, fee unknown
    with pytest.raises(ConflictError, match="is still being asked from the provider; record it by hand only if"):
        services.donation_fee_record_by_hand(donation_id=fresh.pk, fee_pence=40, source="report", actor=officer)
    gift = _overdue_gift(campaign)
    for actor in (None, caseworker("another")):
        with pytest.raises(PermissionDeniedError, match=r"campaigns\.record_fee"):
            services.donation_fee_record_by_hand(donation_id=gift.pk, fee_pence=40, source="report", actor=actor)
    assert _fee_transactions() == 0
    # a gift refunded since keeps its fee: the provider kept it
    assert deliver(refund_event(gift), secret=WEBHOOK_SECRET).status_code == 200
    services.donation_fee_record_by_hand(donation_id=gift.pk, fee_pence=40, source="report", actor=officer)
    gift.refresh_from_db()
    assert (gift.status, gift.fee_pence) == ("refunded", 40)
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 40
    # the fresh gift's £20; the refunded one came in and went back, and its fee stays spent
    assert account_balance_pence(name=CLEARING) == 2000 - 40
    assert ledger_check() == []
