"""The webhook spool (carefund/campaigns/spool.py; docs/adr/0020-payment-webhooks.md, "The spool"): a server process
appends the paid checkout completions it answered to its own segment file; the confirmer moves them into the
database queue, in the transaction that posts them, and deletes the segments it has read to the end. The answer
through the real endpoint with the spool is tested on PostgreSQL (test_postgres.py), where a test can run outside a
transaction; here the pieces are called as the server calls them."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, OperationalError, connection
from django.test.utils import CaptureQueriesContext

from carefund.campaigns import services, spool
from carefund.campaigns.gateways.test import TestGateway
from carefund.campaigns.models import Donation, DonationStatus, WebhookEvent, WebhookEventState, WebhookSpoolSegment
from carefund.campaigns.tests.factories import SECRET, completed_event, make_campaign, make_pending, sign_payload
from carefund.core import clock
from carefund.ledger.integrity import ledger_check
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import fund_balance_pence
from carefund.web.campaigns import confirmer

pytestmark = pytest.mark.django_db


@pytest.fixture
def spool_dir(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.WEBHOOK_CONFIRM_AFTER_ANSWER = True
    settings.WEBHOOK_SPOOL_DIR = str(tmp_path / "spool")
    yield tmp_path / "spool"
    spool.writer(settings.WEBHOOK_SPOOL_DIR).close()


def _event(payload: bytes) -> Any:
    gateway = TestGateway(webhook_secret=SECRET, tolerance_seconds=300)
    return gateway.verify_webhook(payload=payload, signature_header=sign_payload(payload, secret=SECRET))


def _lines(directory: Path) -> list[dict[str, Any]]:
    out = []
    for name in spool.segments(directory):
        out += [json.loads(line) for line in (directory / name).read_bytes().splitlines()]
    return out


# --- the files --------------------------------------------------------------------------------------------------


def test_lines_are_read_back_whole_and_a_line_still_being_written_is_left(tmp_path: Path) -> None:
    writer = spool.SpoolWriter(tmp_path)
    writer.append({"n": 1})
    writer.append({"n": 2, "text": "£5 for James"})
    name = writer.segment
    with open(tmp_path / name, "ab") as handle:
        handle.write(b'{"n": 3')  # a write in progress
    lines = spool.read(tmp_path, {}, limit=10)
    assert [line.record for line in lines] == [{"n": 1}, {"n": 2, "text": "£5 for James"}]
    assert lines[-1].end == len(b'{"n":1}\n{"n":2,"text":"\\u00a35 for James"}\n')
    # from a position: only what follows it; with a limit: no more than it
    assert [line.record for line in spool.read(tmp_path, {name: lines[0].end}, limit=10)] == [lines[1].record]
    assert len(spool.read(tmp_path, {}, limit=1)) == 1
    assert spool.unread(tmp_path, {name: lines[-1].end}) == {name: len(b'{"n": 3')}
    writer.close()


def test_a_malformed_line_is_skipped_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / f"{'0' * 20}-host-1{spool.SUFFIX}").write_bytes(b'not json\n["a list"]\n{"n": 1}\n')
    lines = spool.read(tmp_path, {}, limit=10)
    assert [line.record for line in lines] == [None, None, {"n": 1}]
    assert "is not a JSON object" in caplog.text


def test_a_segment_is_sealed_only_when_its_writer_let_go(tmp_path: Path) -> None:
    writer = spool.SpoolWriter(tmp_path)
    writer.append({"n": 1})
    path = tmp_path / writer.segment
    assert not spool.sealed(path)
    assert spool.finished(tmp_path, {writer.segment: path.stat().st_size}) == []  # read to the end but still open
    assert path.exists()
    writer.close()
    assert spool.sealed(path)
    assert spool.finished(tmp_path, {}) == []  # sealed but not read yet
    assert spool.finished(tmp_path, {path.name: path.stat().st_size}) == [path.name]
    assert not path.exists()
    # a position whose segment is gone is reported too, for the caller to forget
    assert spool.finished(tmp_path, {"gone.jsonl": 10}) == ["gone.jsonl"]


def test_a_writer_starts_a_new_segment_after_the_rotation_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "ROTATE_BYTES", 20)
    writer = spool.SpoolWriter(tmp_path)
    writer.append({"n": 1, "pad": "x" * 20})
    first = writer.segment
    writer.append({"n": 2})
    assert writer.segment != first
    assert spool.sealed(tmp_path / first) and not spool.sealed(tmp_path / writer.segment)
    assert [line.record["n"] for line in spool.read(tmp_path, {}, limit=10)] == [1, 2]  # type: ignore[index]
    writer.close()


def test_a_line_torn_by_a_writer_that_died_is_dropped_with_its_sealed_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / f"{'0' * 20}-host-1{spool.SUFFIX}"
    path.write_bytes(b'{"n": 1}\n{"n": 2, "ev')  # no process holds it: sealed
    lines = spool.read(tmp_path, {}, limit=10)
    assert [line.record for line in lines] == [{"n": 1}]
    assert spool.finished(tmp_path, {path.name: lines[-1].end}) == [path.name]
    assert "after the last whole line dropped" in caplog.text


def test_a_writer_after_a_fork_writes_to_a_segment_of_its_own_and_lets_go_of_the_parents(tmp_path: Path) -> None:
    writer = spool.SpoolWriter(tmp_path)
    writer.append({"who": "parent"})
    parents = writer.segment
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a new segment, then it waits while the parent checks
        try:
            writer.append({"who": "child"})
            os.write(ready_w, b"1")
            os.read(done_r, 1)
            os._exit(0 if writer.segment != parents else 1)
        except BaseException:
            os._exit(2)
    try:
        assert os.read(ready_r, 1) == b"1"
        writer.append({"who": "parent again"})
        writer.close()
        # the child still runs and holds its own segment, but not the parent's: that one is sealed
        assert spool.sealed(tmp_path / parents)
        [childs] = [name for name in spool.segments(tmp_path) if name != parents]
        assert not spool.sealed(tmp_path / childs)
    finally:
        os.write(done_w, b"1")
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / parents).read_bytes() == b'{"who":"parent"}\n{"who":"parent again"}\n'
    assert (tmp_path / childs).read_bytes() == b'{"who":"child"}\n'


# --- answering through the spool ----------------------------------------------------------------------------------


def test_a_paid_checkout_is_answered_from_the_spool_and_nothing_is_written_to_the_database(spool_dir: Path) -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500, costs=100)
    result = services._spool_checkout(_event(completed_event(gift, event_id="evt_s1", fee_pence=58)), "test")
    assert result is not None and result.status_code == 200 and result.queued
    assert result.outcome == f"accepted: gift #{gift.pk} is being confirmed"
    assert not WebhookEvent.objects.exists()
    assert Donation.objects.get(pk=gift.pk).status == DonationStatus.PENDING
    [line] = _lines(spool_dir)
    assert line["event_id"] == "evt_s1" and line["gateway"] == "test"
    assert line["body"]["object"]["carefund_fee_pence"] == 58  # the test gateway states its fee in the event
    assert line["body"]["object"]["amount_total"] == 2600
    assert line["body"]["object"]["metadata"] == {"donation_id": str(gift.pk)}
    assert "customer_details" not in line["body"]["object"]  # only what the confirmation reads


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount_total": 999}, "amount_total: the provider took 999 pence"),
        ({"session_id": "cs_forged", "tagged": False}, "session: this checkout was not created by carefund"),
    ],
)
def test_what_the_confirmation_would_refuse_gets_a_400_and_is_not_spooled(
    spool_dir: Path, change: dict[str, Any], message: str
) -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    result = services._spool_checkout(_event(completed_event(gift, **change)), "test")
    assert result is not None and result.status_code == 400 and message in result.outcome
    assert _lines(spool_dir) == []


def test_a_gift_already_confirmed_is_answered_as_a_duplicate_and_not_spooled(spool_dir: Path) -> None:
    """When the gift is read (no tag of carefund's on the checkout); see below for one carefund's tag vouches for."""
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    services._spool_checkout(_event(completed_event(gift, event_id="evt_first")), "test")
    confirmer.drain()
    result = services._spool_checkout(_event(completed_event(gift, event_id="evt_later", tagged=False)), "test")
    assert result is not None and (result.status_code, result.queued) == (200, False)
    assert result.outcome == f"duplicate: gift #{gift.pk} is already confirmed"
    assert [line["event_id"] for line in _lines(spool_dir)] == ["evt_first"]


def test_the_read_before_the_answer_finds_the_gifts_and_a_database_error_there_is_djangos(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gifts are read through the driver's cursor (services._gifts_seen): what exists is found, what does not is
    absent, and a failure there still raises Django's DatabaseError (the view answers 503), with nothing spooled."""
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500, costs=100)
    seen = services._gifts_seen([gift.pk, gift.pk + 1000])
    assert set(seen) == {gift.pk}
    assert (seen[gift.pk].total_pence, seen[gift.pk].status) == (2600, DonationStatus.PENDING)
    assert seen[gift.pk].checkout_session_id == gift.checkout_session_id
    monkeypatch.setattr(services, "_PRECHECK_COLUMNS", "id, no_such_column")
    with pytest.raises(DatabaseError):  # Django's (OperationalError on SQLite, ProgrammingError on PostgreSQL)
        services._spool_checkout(_event(completed_event(gift, event_id="evt_broken", tagged=False)), "test")
    assert _lines(spool_dir) == []


# --- answering from carefund's tag (services.checkout_metadata, _checkout_vouched) ---------------------------------


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Count the reads of gifts made before answering."""
    reads: list[list[int]] = []
    real = services._gifts_seen

    def counted(ids: Any) -> Any:
        reads.append(list(ids))
        return real(ids)

    monkeypatch.setattr(services, "_gifts_seen", counted)
    return reads


def test_a_checkout_carefunds_tag_vouches_for_is_answered_without_reading_its_gift(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500, costs=100)
    reads = _count_reads(monkeypatch)
    result = services._spool_checkout(_event(completed_event(gift, event_id="evt_tag", fee_pence=58)), "test")
    assert result is not None and (result.status_code, result.queued) == (200, True)
    assert reads == []
    confirmer.drain()
    assert Donation.objects.get(pk=gift.pk).status == DonationStatus.SUCCEEDED
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2500
    assert ledger_check() == []


def test_the_tag_is_djangos_salted_hmac_and_follows_the_secret(settings: Any) -> None:
    """The tag's key is derived once per secret (`_tag_key`), as Django's `salted_hmac` derives it: tags given to
    checkouts before are still recognised, and a new secret gives new tags."""
    from django.utils.crypto import salted_hmac

    def django_tag() -> str:
        return salted_hmac("carefund.campaigns.checkout", "stripe|42|2600", algorithm="sha256").hexdigest()[:32]

    first = services._checkout_tag(donation_id=42, amount_pence=2600, gateway="stripe")
    assert first == django_tag()
    assert services._checkout_tag(donation_id=42, amount_pence=2601, gateway="stripe") != first
    settings.SECRET_KEY = "another-secret-for-this-test-only-0123456789abcdef"
    second = services._checkout_tag(donation_id=42, amount_pence=2600, gateway="stripe")
    assert second == django_tag() and second != first


def _with_metadata(gift: Donation, **change: str) -> bytes:
    body = json.loads(completed_event(gift, event_id="evt_changed"))
    body["data"]["object"]["metadata"].update(change)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "change",
    [
        {"carefund_tag": "0" * 32},  # not carefund's
        {"carefund_amount": "999"},  # the amount taken is not the one carefund tagged
        {"carefund_amount": "2,500"},
        {"donation_id": "999999"},  # the tag is for another gift
    ],
)
def test_a_checkout_whose_tag_does_not_vouch_for_it_is_checked_against_its_gift(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, str]
) -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    reads = _count_reads(monkeypatch)
    result = services._spool_checkout(_event(_with_metadata(gift, **change)), "test")
    assert len(reads) == 1
    if "donation_id" in change:  # the gift read is the one named, which was never created
        assert result is not None and result.status_code == 400
        assert "no online gift #999999 was created here" in result.outcome
    else:  # the gift itself matches: accepted after the read
        assert result is not None and (result.status_code, result.queued) == (200, True)


def test_a_tag_made_for_another_gateway_or_with_another_secret_does_not_vouch(settings: Any) -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    event = _event(completed_event(gift))
    assert services._checkout_vouched(event, "test")
    assert not services._checkout_vouched(event, "stripe")
    settings.SECRET_KEY = "another-secret-after-rotation-" + "x" * 30
    assert not services._checkout_vouched(event, "test")  # then the gift is read, as for a checkout without a tag


def test_a_tagged_checkout_for_a_session_that_is_not_the_gifts_is_accepted_then_refused_by_its_confirmation(
    spool_dir: Path,
) -> None:
    """The tag proves carefund made a checkout for this gift and amount, not that it is the gift's session (a
    checkout whose session id was never saved): the confirmation checks that, records the event refused for a
    finance officer (the reconciliation page lists it) and posts nothing."""
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    result = services._spool_checkout(
        _event(completed_event(gift, event_id="evt_stale", session_id="cs_other")), "test"
    )
    assert result is not None and (result.status_code, result.queued) == (200, True)
    confirmer.drain()
    event = WebhookEvent.objects.get(event_id="evt_stale")
    assert event.state == WebhookEventState.REFUSED
    assert "session: this checkout was not created by carefund" in event.outcome
    assert Donation.objects.get(pk=gift.pk).status == DonationStatus.PENDING
    assert not Transaction.objects.exists()


def test_a_tagged_checkout_for_a_gift_already_confirmed_is_accepted_and_posts_nothing(spool_dir: Path) -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    services._spool_checkout(_event(completed_event(gift, event_id="evt_first")), "test")
    confirmer.drain()
    result = services._spool_checkout(_event(completed_event(gift, event_id="evt_again")), "test")
    assert result is not None and (result.status_code, result.queued) == (200, True)
    confirmer.drain()
    assert Transaction.objects.count() == 1
    assert fund_balance_pence(child_id=gift.campaign.child_id) == 2500
    assert WebhookEvent.objects.get(event_id="evt_again").state == WebhookEventState.APPLIED
    assert ledger_check() == []


def test_a_spool_that_cannot_be_written_sends_the_event_to_the_database_queue(settings: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.WEBHOOK_CONFIRM_AFTER_ANSWER = True
    settings.WEBHOOK_SPOOL_DIR = str(blocker / "spool")
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    event = _event(completed_event(gift, event_id="evt_fallback"))
    assert services._spool_checkout(event, "test") is None  # the caller queues it in the database instead
    [result] = services._queue_events([(event, "test")])
    assert result.queued and WebhookEvent.objects.get(event_id="evt_fallback").state == WebhookEventState.QUEUED


# --- confirming from the spool -------------------------------------------------------------------------------------


def test_the_confirmer_queues_and_posts_spooled_gifts_in_one_pass_and_records_how_far_it_read(spool_dir: Path) -> None:
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=1000 + i) for i in range(3)]
    for gift in gifts:
        services._spool_checkout(_event(completed_event(gift, event_id=f"evt_p{gift.pk}", fee_pence=30)), "test")
    report = confirmer.drain()
    assert (report.applied, report.refused, report.spooled) == (3, 0, 3)
    assert Donation.objects.filter(pk__in=[g.pk for g in gifts], status=DonationStatus.SUCCEEDED).count() == 3
    assert fund_balance_pence(child_id=campaign.child_id) == 3003
    events = WebhookEvent.objects.filter(event_id__startswith="evt_p")
    assert {(e.state, e.payload) for e in events} == {(WebhookEventState.APPLIED, None)}
    [segment] = spool.segments(spool_dir)
    assert WebhookSpoolSegment.objects.get(name=segment).read_to == (spool_dir / segment).stat().st_size
    assert ledger_check() == []
    again = confirmer.drain()  # nothing new: nothing read, nothing posted
    assert (again.count, again.spooled) == (0, 0)
    assert Transaction.objects.count() == 3


def test_plain_spooled_gifts_are_recorded_applied_at_once_with_the_time_they_were_answered(spool_dir: Path) -> None:
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=1000 + i) for i in range(2)]
    answered = clock.now() - dt.timedelta(seconds=5)
    with clock.frozen_at(answered):
        for gift in gifts:
            services._spool_checkout(_event(completed_event(gift, event_id=f"evt_a{gift.pk}", fee_pence=30)), "test")
    with CaptureQueriesContext(connection) as queries:
        report = services.webhook_confirm_queued()
    assert (report.applied, report.spooled) == (2, 2)
    # never written QUEUED and updated afterwards: one INSERT of the applied events, no UPDATE of them
    writes = [q["sql"] for q in queries.captured_queries if "campaigns_webhookevent" in q["sql"]]
    [insert] = [w for w in writes if not w.startswith("SELECT")]
    assert insert.startswith("INSERT INTO campaigns_webhookevent")
    assert "state" not in insert.split("VALUES")[0]  # the column's default: applied
    rows = WebhookEvent.objects.filter(event_id__startswith="evt_a").order_by("pk")
    assert [(e.state, e.outcome, e.received_at, e.payload) for e in rows] == [
        (WebhookEventState.APPLIED, f"gift #{g.pk} confirmed", answered, None) for g in gifts
    ]


def test_a_line_read_again_after_its_event_was_posted_sends_the_batch_through_the_queue_and_posts_nothing_twice(
    spool_dir: Path,
) -> None:
    campaign = make_campaign(target_pence=0)
    first, second = make_pending(campaign, amount_pence=1000), make_pending(campaign, amount_pence=2000)
    services._spool_checkout(_event(completed_event(first, event_id="evt_first", fee_pence=30)), "test")
    assert confirmer.drain().applied == 1
    WebhookSpoolSegment.objects.all().delete()  # the position is lost: the next pass reads the first line again
    services._spool_checkout(_event(completed_event(second, event_id="evt_second", fee_pence=30)), "test")
    report = confirmer.drain()
    assert (report.applied, report.spooled) == (1, 2)  # the second gift; the first line is a duplicate
    assert Donation.objects.get(pk=second.pk).status == DonationStatus.SUCCEEDED
    assert Transaction.objects.count() == 2
    assert fund_balance_pence(child_id=campaign.child_id) == 3000
    assert set(WebhookEvent.objects.values_list("event_id", "state")) == {
        ("evt_first", WebhookEventState.APPLIED),
        ("evt_second", WebhookEventState.APPLIED),
    }
    assert ledger_check() == []


def test_a_line_that_is_not_an_event_is_skipped_and_the_rest_are_posted(
    spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    spool_dir.mkdir(parents=True)
    (spool_dir / f"{'0' * 20}-elsewhere-1{spool.SUFFIX}").write_bytes(b'{"event_id": "evt_no_body"}\n')
    services._spool_checkout(_event(completed_event(gift, event_id="evt_good")), "test")
    report = confirmer.drain()
    assert (report.applied, report.spooled) == (1, 2)
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["evt_good"]
    assert "is not an event; skipped" in caplog.text
    assert confirmer.drain().spooled == 0  # read past it: not read again


def test_an_event_spooled_twice_is_posted_once(spool_dir: Path) -> None:
    campaign = make_campaign(target_pence=0)
    gift = make_pending(campaign, amount_pence=2500)
    payload = completed_event(gift, event_id="evt_twice", fee_pence=58)
    for _ in range(2):  # a provider's retry that arrived before the first was confirmed
        services._spool_checkout(_event(payload), "test")
    report = confirmer.drain()
    assert (report.applied, report.spooled) == (1, 2)
    assert WebhookEvent.objects.filter(event_id="evt_twice").count() == 1
    assert Transaction.objects.count() == 1
    assert fund_balance_pence(child_id=campaign.child_id) == 2500


def test_a_pass_that_fails_writes_nothing_and_the_next_one_reads_the_same_lines(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=1000 + i) for i in range(2)]
    for gift in gifts:
        services._spool_checkout(_event(completed_event(gift, event_id=f"evt_f{gift.pk}")), "test")

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(services, "_confirm_checkouts_together", lost)
        with pytest.raises(OperationalError):
            services.webhook_confirm_queued()
    assert not WebhookEvent.objects.exists()
    assert not WebhookSpoolSegment.objects.exists()
    assert not Transaction.objects.exists()
    report = confirmer.drain()
    assert (report.applied, report.spooled) == (2, 2)
    assert Transaction.objects.count() == 2


def test_the_fallback_takes_only_lines_received_long_enough_ago(spool_dir: Path) -> None:
    campaign = make_campaign(target_pence=0)
    old, new = make_pending(campaign, amount_pence=1000), make_pending(campaign, amount_pence=2000)
    with clock.frozen_at(clock.now() - dt.timedelta(seconds=10)):
        services._spool_checkout(_event(completed_event(old, event_id="evt_old")), "test")
    services._spool_checkout(_event(completed_event(new, event_id="evt_new")), "test")
    report = services.webhook_confirm_queued(older_than=dt.timedelta(seconds=3))
    assert (report.applied, report.spooled) == (1, 1)
    assert Donation.objects.get(pk=old.pk).status == DonationStatus.SUCCEEDED
    assert Donation.objects.get(pk=new.pk).status == DonationStatus.PENDING
    assert confirmer.drain().applied == 1  # the confirmer process takes the rest at once


def test_a_read_segment_is_deleted_once_its_writer_let_go(spool_dir: Path, settings: Any) -> None:
    gift = make_pending(make_campaign(target_pence=0), amount_pence=2500)
    services._spool_checkout(_event(completed_event(gift)), "test")
    confirmer.drain()
    [segment] = spool.segments(spool_dir)
    assert services.webhook_spool_tidy() == 0  # this process may still write to it
    spool.writer(settings.WEBHOOK_SPOOL_DIR).close()
    assert services.webhook_spool_tidy() == 1
    assert spool.segments(spool_dir) == []
    assert not WebhookSpoolSegment.objects.filter(name=segment).exists()


def test_the_confirm_command_drains_the_spool(spool_dir: Path) -> None:
    campaign = make_campaign(target_pence=0)
    for i in range(3):
        gift = make_pending(campaign, amount_pence=500 + i)
        services._spool_checkout(_event(completed_event(gift)), "test")
    out = io.StringIO()
    call_command("webhooks", "confirm", stdout=out)
    assert out.getvalue().startswith("3 queued event(s) applied, 0 refused")
    assert fund_balance_pence(child_id=campaign.child_id) == 1503


def test_the_spool_counts_what_waits_to_be_read_and_when_the_oldest_was_received(tmp_path: Path) -> None:
    writer = spool.SpoolWriter(tmp_path)
    for n, when in enumerate(["2026-11-24T10:00:02+00:00", "2026-11-24T10:00:01+00:00", "2026-11-24T10:00:03+00:00"]):
        writer.append({"n": n, "received_at": when})
    first_end = spool.read(tmp_path, {}, limit=1)[0].end
    with open(tmp_path / writer.segment, "ab") as handle:
        handle.write(b'{"n": 3')  # still being written: not counted
    assert spool.waiting(tmp_path, {}) == spool.Waiting(lines=3, oldest_received_at="2026-11-24T10:00:02+00:00")
    # after the first line has been read, the next unread one is the oldest
    assert spool.waiting(tmp_path, {writer.segment: first_end}) == spool.Waiting(2, "2026-11-24T10:00:01+00:00")
    assert spool.waiting(tmp_path / "none", {}) == spool.Waiting(0, None)
    writer.close()


def test_the_reconciliation_page_shows_gifts_waiting_in_the_spool(spool_dir: Path, client: Any) -> None:
    from carefund.campaigns.tests.factories import caseworker

    campaign = make_campaign(target_pence=0)
    gifts = [make_pending(campaign, amount_pence=1000 + i) for i in range(2)]
    with clock.frozen_at(dt.datetime(2026, 11, 24, 10, 0, 5, tzinfo=dt.UTC)):
        for gift in gifts:
            services._spool_checkout(_event(completed_event(gift, event_id=f"evt_w{gift.pk}")), "test")
    client.force_login(caseworker())
    page = client.get("/staff/reconciliation/").content.decode()
    assert "2 paid checkouts answered and waiting in this server's spool (oldest received 24 Nov 2026 10:00:05)" in page
    confirmer.drain()
    page = client.get("/staff/reconciliation/").content.decode()
    assert "waiting in this server" not in page
