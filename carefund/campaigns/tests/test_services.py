from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from carefund.campaigns import selectors, services
from carefund.campaigns.models import Campaign, CampaignState, Donation, DonationStatus, OfflineBatch
from carefund.campaigns.tests.factories import caseworker, make_campaign, make_pending
from carefund.care.tests.factories import ChildFactory, user_with_role
from carefund.core.errors import PermissionDeniedError, StateTransitionError, ValidationError
from carefund.core.models import AuditEvent
from carefund.core.roles import Role
from carefund.ledger import chart
from carefund.ledger.models import Transaction
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

pytestmark = pytest.mark.django_db


def test_campaign_needs_publicity_consent() -> None:
    worker = caseworker()
    child = ChildFactory(publicity_consent=False)
    with pytest.raises(ValidationError, match="not consented to publicity"):
        services.campaign_create(child=child, title="Help", actor=worker)
    assert Campaign.objects.count() == 0


def test_campaign_create_and_publish() -> None:
    worker = caseworker()
    child = ChildFactory(publicity_consent=True, first_name="James")
    campaign = services.campaign_create(
        child=child, title="Help James walk", media_partner="the Daily Echo", actor=worker
    )
    assert (campaign.slug, campaign.state) == ("help-james-walk", "draft")
    again = services.campaign_create(child=child, title="Help James walk", actor=worker)
    assert again.slug == "help-james-walk-2"
    services.campaign_transition(campaign=campaign, to_state="published", actor=worker)
    campaign.refresh_from_db()
    assert campaign.state == "published" and campaign.published_at is not None
    assert AuditEvent.objects.filter(action="campaign.transition", target_id=str(campaign.pk)).count() == 1


def test_refused_transition_writes_nothing() -> None:
    worker = caseworker()
    campaign = make_campaign(state=CampaignState.CLOSED)
    with pytest.raises(StateTransitionError, match="a closed campaign cannot become published"):
        services.campaign_transition(campaign=campaign, to_state="published", actor=worker)
    campaign.refresh_from_db()
    assert campaign.state == "closed"
    assert not AuditEvent.objects.filter(action="campaign.transition").exists()


def test_publish_refused_when_consent_withdrawn() -> None:
    worker = caseworker()
    campaign = make_campaign(state=CampaignState.DRAFT)
    campaign.child.publicity_consent = False
    campaign.child.save()
    with pytest.raises(ValidationError, match="cannot be published"):
        services.campaign_transition(campaign=campaign, to_state="published", actor=worker)
    campaign.refresh_from_db()
    assert campaign.state == "draft"


def test_guardian_cannot_create_campaign() -> None:
    caseworker()
    guardian = user_with_role(Role.GUARDIAN)
    with pytest.raises(PermissionDeniedError):
        services.campaign_create(child=ChildFactory(publicity_consent=True), title="x", actor=guardian)
    assert Campaign.objects.count() == 0


def test_set_target_and_reached() -> None:
    campaign = make_campaign(target_pence=0)
    services.campaign_set_target(
        campaign=campaign, target_pence=3000, nhs_covers_pence=2_000_000, explanation="NHS pays surgery", actor=None
    )
    campaign.refresh_from_db()
    assert (campaign.target_pence, campaign.nhs_covers_pence, campaign.state) == (3000, 2_000_000, "published")
    d = make_pending(campaign, amount_pence=3000)
    services.donation_record_succeeded(donation_id=d.pk, amount_total_pence=3000, session_id=str(d.checkout_session_id))
    campaign.refresh_from_db()
    assert campaign.state == "target_reached"
    services.campaign_set_target(campaign=campaign, target_pence=6000, nhs_covers_pence=0, explanation="", actor=None)
    campaign.refresh_from_db()
    assert campaign.state == "published"


def test_set_target_refuses_negative() -> None:
    campaign = make_campaign(target_pence=100)
    with pytest.raises(ValidationError, match="target_pence: must be zero or more"):
        services.campaign_set_target(campaign=campaign, target_pence=-1, nhs_covers_pence=0, explanation="", actor=None)
    campaign.refresh_from_db()
    assert campaign.target_pence == 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount_pence": 99}, "amount: the smallest gift is £1"),
        ({"amount_pence": 10_000_001}, "amount: the largest gift online is £100,000"),
        ({"amount_pence": 500, "message": "<script>alert(1)</script>"}, "message: plain text only"),
        ({"amount_pence": 500, "costs_contribution_pence": -1}, "costs_contribution: enter zero"),
    ],
)
def test_pending_gift_refusals_write_nothing(kwargs: dict[str, object], message: str) -> None:
    campaign = make_campaign()
    with pytest.raises(ValidationError, match=message):
        services.donation_create_pending(campaign=campaign, gateway="test", **kwargs)  # type: ignore[arg-type]
    assert Donation.objects.count() == 0


def test_no_gifts_to_a_draft_campaign() -> None:
    campaign = make_campaign(state=CampaignState.DRAFT)
    with pytest.raises(ValidationError, match="not taking gifts"):
        services.donation_create_pending(campaign=campaign, amount_pence=500, gateway="test")
    assert Donation.objects.count() == 0


def test_succeeded_posts_once_with_costs_and_fee(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign()
    d = make_pending(campaign, amount_pence=2500, costs=300)
    with django_capture_on_commit_callbacks(execute=True):
        services.donation_record_succeeded(
            donation_id=d.pk, amount_total_pence=2800, fee_pence=62, session_id=str(d.checkout_session_id)
        )
    for _ in range(2):
        services.donation_record_succeeded(
            donation_id=d.pk, amount_total_pence=2800, fee_pence=62, session_id=str(d.checkout_session_id)
        )
    d.refresh_from_db()
    assert d.status == "succeeded" and d.fee_pence == 62
    assert fund_balance_pence(child_id=campaign.child_id) == 2500
    assert account_balance_pence(name=chart.GENERAL_FUND) == -300
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 2800 - 62
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 62
    assert Transaction.objects.count() == 1
    assert len(mail.outbox) == 1
    assert d.receipt_token in mail.outbox[0].body
    assert mail.outbox[0].to == ["ann@example.org"]
    assert "Gift Aid" not in mail.outbox[0].body  # no declaration covers it


def test_wrong_amount_refused_and_nothing_posted() -> None:
    d = make_pending(make_campaign(), amount_pence=2500)
    with pytest.raises(ValidationError, match="the provider took 100 pence but the gift was for 2500 pence"):
        services.donation_record_succeeded(
            donation_id=d.pk, amount_total_pence=100, session_id=str(d.checkout_session_id)
        )
    d.refresh_from_db()
    assert d.status == "pending" and Transaction.objects.count() == 0


def test_gifts_confirmed_together_each_refused_alone_and_the_others_posted_once(
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    campaign = make_campaign(target_pence=3000)
    gifts = [make_pending(campaign, amount_pence=p) for p in (1000, 2000, 500, 700)]

    def completion(d: Donation, **kwargs: object) -> services.CheckoutCompletion:
        fields: dict[str, object] = {"amount_total_pence": d.total_pence, "session_id": str(d.checkout_session_id)}
        return services.CheckoutCompletion(donation_id=d.pk, **(fields | kwargs))  # type: ignore[arg-type]

    ok1, ok2, wrong_amount, bad_fee = gifts
    with django_capture_on_commit_callbacks(execute=True):
        results = services.donations_record_succeeded(
            [
                completion(ok1, fee_pence=34),
                completion(wrong_amount, amount_total_pence=1),
                completion(ok2),
                completion(bad_fee, fee_pence=701),
                completion(ok1, fee_pence=34),  # the same payment again (another event id): posted once
                completion(ok2, session_id="cs_someone_else"),
            ]
        )
    assert [type(r).__name__ for r in results] == [
        "Donation",
        "ValidationError",
        "Donation",
        "ValidationError",
        "Donation",
        "NotFoundError",
    ]
    assert {d.pk: d.status for d in Donation.objects.filter(pk__in=[g.pk for g in gifts])} == {
        ok1.pk: "succeeded",
        ok2.pk: "succeeded",
        wrong_amount.pk: "pending",
        bad_fee.pk: "pending",
    }
    assert Transaction.objects.count() == 2
    assert fund_balance_pence(child_id=campaign.child_id) == 3000
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == 3000 - 34
    assert Campaign.objects.get(pk=campaign.pk).state == CampaignState.TARGET_REACHED
    assert AuditEvent.objects.filter(action="donation.succeeded").count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([ok1.donor_email, ok2.donor_email])
    # the refused ones are confirmed on their own later, once their completion is right
    services.donations_record_succeeded([completion(wrong_amount), completion(bad_fee, fee_pence=30)])
    assert fund_balance_pence(child_id=campaign.child_id) == 4200 and Transaction.objects.count() == 4


def test_refund_reverses_and_is_idempotent() -> None:
    campaign = make_campaign()
    d = make_pending(campaign, amount_pence=2500, costs=500)
    services.donation_record_succeeded(
        donation_id=d.pk, amount_total_pence=3000, fee_pence=65, session_id=str(d.checkout_session_id)
    )
    services.donation_reverse(donation_id=d.pk, reason="Refund", to_status=DonationStatus.REFUNDED)
    services.donation_reverse(donation_id=d.pk, reason="Refund", to_status=DonationStatus.REFUNDED)
    d.refresh_from_db()
    assert d.status == "refunded" and d.reversal_transaction is not None
    assert fund_balance_pence(child_id=campaign.child_id) == 0
    assert account_balance_pence(name=chart.GENERAL_FUND) == 0
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == -65  # the provider kept its fee
    assert account_balance_pence(name=chart.PAYMENT_FEES) == 65
    assert d.fee_kept_transaction is not None
    assert Transaction.objects.count() == 3  # the gift, its reversal, the fee kept


def test_refund_of_a_gift_already_spent_is_booked_with_general_funds_bearing_the_shortfall() -> None:
    from carefund.ledger.integrity import ledger_check
    from carefund.ledger.services import PostingSpec, ledger_post

    campaign = make_campaign()
    d = make_pending(campaign, amount_pence=2500, costs=500)
    services.donation_record_succeeded(
        donation_id=d.pk, amount_total_pence=3000, fee_pence=65, session_id=str(d.checkout_session_id)
    )
    # The child's fund pays a provider £20 of the £25 before the donor's bank refunds the gift.
    ledger_post(
        kind="payment",
        postings=[
            PostingSpec(account=chart.child_fund(campaign.child_id), amount_pence=2000),
            PostingSpec(account=chart.provider_payable(1), amount_pence=-2000),
        ],
        memo="Physiotherapy",
        on_date=dt.date.today(),
        idempotency_key="spend-before-refund",
    )
    for _ in range(2):  # the provider may deliver the refund twice
        services.donation_reverse(donation_id=d.pk, reason="Refund", to_status=DonationStatus.REFUNDED)
    d.refresh_from_db()
    assert d.status == "refunded"
    assert fund_balance_pence(child_id=campaign.child_id) == 0  # gave back the £5 it still held, never below zero
    # General funds lose the £20 already spent and give back the £5 costs contribution.
    assert account_balance_pence(name=chart.GENERAL_FUND) == 2000
    assert account_balance_pence(name="Assets:Clearing:TestGateway") == -65
    assert d.reversal_transaction is not None and d.reversal_transaction.metadata["borne_by_general_fund_pence"] == 2000
    assert AuditEvent.objects.filter(action="donation.refund_shortfall", target_id=str(d.pk)).count() == 1
    assert Transaction.objects.count() == 4  # gift, payment, refund, fee kept
    # the provider gave the whole £30 back and kept its fee: its balance is 65p short, which its next payout settles
    assert ledger_check() == []


def test_offline_gift_posts_to_bank_and_records_who() -> None:
    worker = caseworker()
    campaign = make_campaign()
    d = services.donation_record_offline(
        campaign=campaign,
        amount_pence=2000,
        kind="cheque",
        received_on=dt.date(2026, 5, 1),
        reference="000123",
        actor=worker,
    )
    assert (d.status, d.entered_by, d.received_on) == ("succeeded", worker, dt.date(2026, 5, 1))
    assert account_balance_pence(name=chart.BANK) == 2000
    assert fund_balance_pence(child_id=campaign.child_id) == 2000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "card"}, "kind: 'card' is not an offline gift kind"),
        ({"amount_pence": 0}, "amount: must be more than zero, got 0 pence"),
        ({"received_on": dt.date(2999, 1, 1)}, "received_on: a gift cannot be received in the future"),
    ],
)
def test_offline_refusals_write_nothing(kwargs: dict[str, object], message: str) -> None:
    worker = caseworker()
    campaign = make_campaign()
    args: dict[str, object] = {"amount_pence": 100, "kind": "cash", "received_on": dt.date(2026, 1, 1)} | kwargs
    with pytest.raises(ValidationError, match=message):
        services.donation_record_offline(campaign=campaign, actor=worker, **args)  # type: ignore[arg-type]
    assert Donation.objects.count() == 0 and Transaction.objects.count() == 0


def test_offline_needs_permission() -> None:
    caseworker()
    guardian = user_with_role(Role.GUARDIAN)
    with pytest.raises(PermissionDeniedError):
        services.donation_record_offline(
            campaign=make_campaign(), amount_pence=100, kind="cash", received_on=dt.date(2026, 1, 1), actor=guardian
        )
    assert Donation.objects.count() == 0


def test_batch_must_add_up_and_writes_nothing_when_not() -> None:
    worker = caseworker()
    campaign = make_campaign()
    lines = [services.OfflineLine(1000, "event_takings", "Walkers"), services.OfflineLine(550, "bucket_collection")]
    with pytest.raises(ValidationError, match=r"add up to £15\.50 but the batch says £16\.00"):
        services.offline_batch_record(
            campaign=campaign,
            description="Walk",
            stated_total_pence=1600,
            received_on=dt.date(2026, 5, 3),
            lines=lines,
            actor=worker,
        )
    assert OfflineBatch.objects.count() == 0 and Donation.objects.count() == 0 and Transaction.objects.count() == 0
    batch = services.offline_batch_record(
        campaign=campaign,
        description="Walk",
        stated_total_pence=1550,
        received_on=dt.date(2026, 5, 3),
        lines=lines,
        actor=worker,
    )
    assert batch.lines.count() == 2
    assert fund_balance_pence(child_id=campaign.child_id) == 1550
    lines_by_label = {line.label: line for line in selectors.reconciliation(user=worker)}
    batch_line = next(v for k, v in lines_by_label.items() if k.startswith(f"offline batch #{batch.pk}"))
    assert f"offline batch #{batch.pk} {batch.description} (stated total £15.50)" in lines_by_label
    assert (batch_line.expected_pence, batch_line.ledger_pence, batch_line.matches) == (1550, 1550, True)


def test_message_moderation_and_public_gifts() -> None:
    worker = caseworker()
    campaign = make_campaign()
    d = make_pending(campaign, amount_pence=1000, message="Get well soon", is_anonymous=True)
    services.donation_record_succeeded(donation_id=d.pk, amount_total_pence=1000, session_id=str(d.checkout_session_id))
    gifts = selectors.recent_gifts_public(campaign=campaign)
    assert [(g.donor, g.amount_pence, g.message) for g in gifts] == [("Anonymous", 1000, "")]
    services.donation_message_moderate(donation=d, approve=True, actor=worker)
    gifts = selectors.recent_gifts_public(campaign=campaign)
    assert [(g.donor, g.message) for g in gifts] == [("Anonymous", "Get well soon")]


def test_moderation_needs_permission() -> None:
    caseworker()
    d = make_pending(make_campaign(), amount_pence=1000, message="hi")
    with pytest.raises(PermissionDeniedError):
        services.donation_message_moderate(donation=d, approve=True, actor=user_with_role(Role.GUARDIAN))
    d.refresh_from_db()
    assert d.message_status == "pending"


def test_donors_for_child() -> None:
    campaign = make_campaign()
    for email in ("a@example.org", "A@example.org", "b@example.org"):
        d = make_pending(campaign, amount_pence=500, donor_email=email)
        services.donation_record_succeeded(
            donation_id=d.pk, amount_total_pence=500, session_id=str(d.checkout_session_id)
        )
    make_pending(campaign, amount_pence=500, donor_email="pending@example.org")
    emails = sorted(x["email"].lower() for x in selectors.donors_for_child(child_id=campaign.child_id))
    assert emails == ["a@example.org", "b@example.org"]


def test_update_by_guardian_or_caseworker_only() -> None:
    worker = caseworker()
    campaign = make_campaign()
    guardian = user_with_role(Role.GUARDIAN)
    campaign.child.guardians.add(guardian)
    services.campaign_update_post(campaign=campaign, body="James took 5 steps!", actor=guardian)
    services.campaign_update_post(campaign=campaign, body="Surgery booked.", actor=worker)
    with pytest.raises(PermissionDeniedError):
        services.campaign_update_post(campaign=campaign, body="spam", actor=user_with_role(Role.GUARDIAN))
    assert list(campaign.updates.order_by("pk").values_list("body", flat=True)) == [
        "James took 5 steps!",
        "Surgery booked.",
    ]


def test_an_update_whose_audit_fails_is_not_posted(monkeypatch: pytest.MonkeyPatch) -> None:
    campaign = make_campaign()

    def audit_down(**kwargs: object) -> None:
        raise RuntimeError("audit log unavailable")

    from carefund.campaigns.services import campaigns

    monkeypatch.setattr(campaigns, "audit_record", audit_down)
    with pytest.raises(RuntimeError):
        services.campaign_update_post(campaign=campaign, body="Surgery booked.", actor=caseworker())
    assert not campaign.updates.exists()  # the update and its audit are one transaction


class TestBooksStayExact(HypothesisTestCase):
    """Any sequence of gifts, refunds and offline gifts keeps the child's fund equal to the gifts that stand."""

    @settings(max_examples=15, deadline=None)
    @given(
        st.lists(st.tuples(st.integers(100, 500_000), st.integers(0, 1000), st.booleans(), st.booleans()), max_size=6)
    )
    def test_sequence(self, ops: list[tuple[int, int, bool, bool]]) -> None:
        campaign = make_campaign()
        worker = caseworker()
        expected_fund = expected_general = 0
        for amount, costs, refund, offline in ops:
            if offline:
                services.donation_record_offline(
                    campaign=campaign, amount_pence=amount, kind="cash", received_on=dt.date(2026, 1, 1), actor=worker
                )
                expected_fund += amount
                continue
            d = make_pending(campaign, amount_pence=amount, costs=costs)
            services.donation_record_succeeded(
                donation_id=d.pk, amount_total_pence=amount + costs, session_id=str(d.checkout_session_id)
            )
            if refund:
                services.donation_reverse(donation_id=d.pk, reason="Refund", to_status=DonationStatus.REFUNDED)
            else:
                expected_fund += amount
                expected_general += costs
        assert fund_balance_pence(child_id=campaign.child_id) == expected_fund
        assert account_balance_pence(name=chart.GENERAL_FUND) == -expected_general
        assert selectors.raised_pence(campaign_id=campaign.pk) == expected_fund


def test_test_checkouts_left_unpaid_for_a_day_expire_and_leave_staff_lists() -> None:
    from carefund.core import clock

    campaign = make_campaign()
    start = clock.now()
    with clock.frozen_at(start - dt.timedelta(days=1, minutes=1)):
        abandoned = make_pending(campaign, amount_pence=1000)
    with clock.frozen_at(start - dt.timedelta(hours=23)):
        recent = make_pending(campaign, amount_pence=2000)
    stripe_gift = services.donation_create_pending(campaign=campaign, amount_pence=3000, gateway="stripe")
    Donation.objects.filter(pk=stripe_gift.pk).update(created_at=start - dt.timedelta(days=5))
    with clock.frozen_at(start):
        assert services.checkouts_expire() == 1
        assert services.checkouts_expire() == 0
    statuses = dict(Donation.objects.values_list("pk", "status"))
    assert statuses == {abandoned.pk: "expired", recent.pk: "pending", stripe_gift.pk: "pending"}
    listed = list(selectors.gifts_for_campaign(user=caseworker(), campaign=campaign).values_list("pk", flat=True))
    assert sorted(listed) == sorted([recent.pk, stripe_gift.pk])
    [audit] = AuditEvent.objects.filter(action="donation.checkouts_expired")
    assert audit.details == {"donation_ids": [abandoned.pk]}
    assert not Transaction.objects.exists()


def test_a_gift_expired_as_abandoned_whose_donor_paid_after_all_is_posted_once() -> None:
    campaign = make_campaign()
    gift = make_pending(campaign, amount_pence=1000)
    Donation.objects.filter(pk=gift.pk).update(status=DonationStatus.EXPIRED)
    paid = {"donation_id": gift.pk, "amount_total_pence": 1000, "session_id": gift.checkout_session_id}
    confirmed = services.donation_record_succeeded(**paid, gateway="test")
    again = services.donation_record_succeeded(**paid, gateway="test")
    assert confirmed.status == again.status == DonationStatus.SUCCEEDED
    assert Transaction.objects.filter(idempotency_key=f"donation-{gift.pk}").count() == 1
    assert fund_balance_pence(child_id=campaign.child_id) == 1000
