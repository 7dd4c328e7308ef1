"""Gift Aid claims through their services: what a claim takes and leaves out, the lifecycle with four eyes, the
ledger postings, and the Gift Aid given back after a refund or dispute."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from carefund.campaigns.services import donation_partial_refund, donation_reverse
from carefund.core.errors import (
    ConflictError,
    FourEyesError,
    PermissionDeniedError,
    StateTransitionError,
    ValidationError,
)
from carefund.core.models import AuditEvent
from carefund.giftaid import claim_selectors
from carefund.giftaid.claims import (
    OVERCLAIMED,
    claim_create,
    claim_record_paid,
    claim_reject,
    claim_submit,
)
from carefund.giftaid.models import Claim, ClaimGift, ClaimState, LeftOutGift, Repayment
from carefund.giftaid.services import declaration_cancel
from carefund.giftaid.tests.claim_factories import declared_gift, gift, make_campaign, officer
from carefund.giftaid.tests.factories import make_user
from carefund.ledger import chart
from carefund.ledger.integrity import ledger_check
from carefund.ledger.selectors import account_balance_pence, fund_balance_pence

pytestmark = pytest.mark.django_db
END = dt.date(2026, 11, 30)


def _nothing_written() -> None:
    assert Claim.objects.count() == 0
    assert ClaimGift.objects.count() == 0
    assert LeftOutGift.objects.count() == 0


def test_claim_takes_declared_gifts_and_lists_what_it_leaves_out():
    campaign = make_campaign()
    a = declared_gift(campaign, amount_pence=10_000)
    b = declared_gift(campaign, amount_pence=2_550, first_name="Tom", last_name="Baker")
    plain = gift(campaign, amount_pence=5_000)
    later = declared_gift(campaign, amount_pence=7_000, on=dt.date(2026, 12, 1))  # after the period end
    claim = claim_create(period_end=END, actor=officer())
    assert claim.state == ClaimState.DRAFT
    assert (claim.gifts_count, claim.amount_pence, claim.gift_aid_pence) == (2, 12_550, 2_500 + 637)
    assert claim.lines_count == 2 and claim.aggregated_lines == 0
    assert claim.earliest_donation_date == dt.date(2026, 6, 15)
    assert set(ClaimGift.objects.filter(claim=claim).values_list("donation_id", flat=True)) == {a.pk, b.pk}
    assert claim_selectors.claim_summary(claim)["left_out"] == [{"donation": plain.pk, "reason": "no_declaration"}]
    assert not ClaimGift.objects.filter(donation=later).exists()
    assert AuditEvent.objects.filter(action="giftaid.claim_create").count() == 1


def test_a_gift_is_in_one_claim_only():
    campaign = make_campaign()
    declared_gift(campaign)
    first = claim_create(period_end=END, actor=officer())
    with pytest.raises(ValidationError, match="Nothing to claim"):
        claim_create(period_end=END, actor=officer())
    assert Claim.objects.count() == 1
    # and the database refuses a second active row for the same gift
    row = ClaimGift.objects.get(claim=first)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimGift.objects.create(
            claim=first,
            donation_id=row.donation_id,
            child_id=row.child_id,
            amount_pence=1,
            gift_aid_pence=0,
            received_on=row.received_on,
        )


def test_a_claim_made_at_the_same_moment_as_another_is_refused_whole(monkeypatch):
    """Two claims made at once may both read a gift as unclaimed; the second to write it is refused by the database,
    reported as a conflict to try again, and writes nothing (its rows are written in bulk, not through the ORM)."""
    from carefund.campaigns.models import Donation
    from carefund.giftaid import claims

    campaign = make_campaign()
    taken = declared_gift(campaign)
    declared_gift(campaign, first_name="Bob", last_name="Jones")
    claim_create(period_end=END, actor=officer())
    gifts = ClaimGift.objects.count()
    declared_gift(campaign, first_name="Cat", last_name="Brown")
    # the other claim's gift still looks unclaimed to this one, as it would have a moment before
    monkeypatch.setattr(
        claims,
        "unclaimed_gifts",
        lambda received_by: Donation.objects.filter(received_on__lte=received_by).order_by("id"),
    )
    with pytest.raises(ConflictError, match="try again"):
        claim_create(period_end=END, actor=officer())
    assert Claim.objects.count() == 1 and ClaimGift.objects.count() == gifts
    assert ClaimGift.objects.filter(donation=taken).count() == 1


def test_nothing_to_claim_is_refused_with_the_reason_and_writes_nothing():
    campaign = make_campaign()
    gift(campaign)
    with pytest.raises(ValidationError) as caught:
        claim_create(period_end=END, actor=officer())
    assert "Nothing to claim" in caught.value.message
    assert "1 left out because no Gift Aid declaration covers it" in caught.value.message
    _nothing_written()


def test_future_period_end_and_no_permission_are_refused():
    with pytest.raises(ValidationError, match="in the future"):
        claim_create(period_end=dt.date(2099, 1, 1), actor=officer())
    with pytest.raises(PermissionDeniedError):
        claim_create(period_end=END, actor=make_user())
    _nothing_written()


def test_refunded_cancelled_and_out_of_time_gifts_are_left_out_with_reasons():
    campaign = make_campaign()
    refunded = declared_gift(campaign)
    donation_reverse(donation_id=refunded.pk, reason="Refund", to_status="refunded")
    old = declared_gift(campaign, on=dt.date(2022, 3, 1))  # tax year to 5 April 2022: deadline 5 April 2026
    kept = declared_gift(campaign)
    claim = claim_create(period_end=END, actor=officer())
    assert claim_selectors.claim_summary(claim)["left_out"] == [
        {"donation": refunded.pk, "reason": "refunded"},
        {"donation": old.pk, "reason": "out_of_time"},
    ]
    assert list(ClaimGift.objects.values_list("donation_id", flat=True)) == [kept.pk]


def test_cancelled_declaration_is_named():
    from carefund.giftaid.rules import Scope
    from carefund.giftaid.services import declaration_record

    campaign = make_campaign()
    first = gift(campaign, email="jo@example.org", name="Jo Bloggs", on=dt.date(2026, 5, 1))
    declaration = declaration_record(
        donation=first,
        title="",
        first_name="Jo",
        last_name="Bloggs",
        house_name_or_number="1",
        address="A Road",
        postcode="S1 2AB",
        scope=Scope.THIS_AND_FUTURE,
        declared_on=dt.date(2026, 5, 1),
    )
    declaration_cancel(
        declaration=declaration,
        on_date=dt.date(2026, 6, 1),
        reason="donor asked",
        actor=make_user(perms=("giftaid.cancel_declaration",)),
    )
    after = gift(campaign, email="jo@example.org", name="Jo Bloggs", on=dt.date(2026, 7, 1))
    claim = claim_create(period_end=END, actor=officer())
    assert claim.gifts_count == 1  # the gift made with the declaration keeps its Gift Aid
    assert claim_selectors.claim_summary(claim)["left_out"] == [{"donation": after.pk, "reason": "cancelled"}]


def test_small_gifts_with_details_hmrc_would_refuse_are_aggregated_and_larger_ones_left_out():
    campaign = make_campaign()
    # "Ann-Marie" passes; a last name with a digit does not
    small = [declared_gift(campaign, amount_pence=2_000, last_name="Sm1th") for _ in range(3)]
    large = declared_gift(campaign, amount_pence=2_001, last_name="Sm1th")
    fine = declared_gift(campaign, amount_pence=500)
    claim = claim_create(period_end=END, actor=officer())
    assert claim.aggregated_lines == 1 and claim.lines_count == 2
    rows = ClaimGift.objects.filter(claim=claim)
    assert {r.donation_id for r in rows if r.aggregated} == {g.pk for g in small}
    assert {r.line for r in rows if r.aggregated} == {2}  # after the individual row
    assert rows.get(donation=fine).line == 1
    assert claim_selectors.claim_summary(claim)["left_out"] == [{"donation": large.pk, "reason": "details_incomplete"}]


def test_sponsored_gifts_are_marked(settings):
    campaign = make_campaign()
    sponsored = declared_gift(campaign, reference="Sponsored walk, 3 May")
    claim = claim_create(period_end=END, actor=officer())
    assert ClaimGift.objects.get(claim=claim, donation=sponsored).sponsored is True


def _filed(campaign=None, **kw):
    campaign = campaign or make_campaign()
    donation = declared_gift(campaign, **kw)
    maker, checker = officer(), officer()
    claim = claim_create(period_end=END, actor=maker)
    claim = claim_submit(claim_id=claim.pk, hmrc_reference="HMRC-123", actor=checker)
    return campaign, donation, claim, maker, checker


def test_submission_needs_a_second_person_and_a_reference_and_posts_gift_aid_to_the_childs_fund():
    campaign = make_campaign()
    declared_gift(campaign, amount_pence=10_000)
    maker = officer()
    claim = claim_create(period_end=END, actor=maker)
    fund_before = fund_balance_pence(child_id=campaign.child_id)
    with pytest.raises(FourEyesError):
        claim_submit(claim_id=claim.pk, hmrc_reference="X1", actor=maker)
    with pytest.raises(ValidationError, match="HMRC reference is required"):
        claim_submit(claim_id=claim.pk, hmrc_reference="  ", actor=officer())
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.DRAFT
    assert account_balance_pence(name=chart.GIFT_AID_RECEIVABLE) == 0
    claim = claim_submit(claim_id=claim.pk, hmrc_reference="X1", actor=officer())
    assert claim.state == ClaimState.SUBMITTED and claim.hmrc_reference == "X1"
    assert fund_balance_pence(child_id=campaign.child_id) == fund_before + 2_500
    assert account_balance_pence(name=chart.GIFT_AID_RECEIVABLE) == 2_500
    assert claim_selectors.gift_aid_claimed_for_child(child_id=campaign.child_id).claimed_pence == 2_500
    with pytest.raises(StateTransitionError):
        claim_submit(claim_id=claim.pk, hmrc_reference="X1", actor=officer())
    assert ledger_check() == []


def test_four_eyes_is_enforced_by_the_database_too():
    campaign = make_campaign()
    declared_gift(campaign)
    maker = officer()
    claim = claim_create(period_end=END, actor=maker)
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.objects.filter(pk=claim.pk).update(submitted_by=maker)


def test_payment_moves_receivable_to_bank_and_a_difference_needs_a_reason():
    campaign, _, claim, maker, checker = _filed(amount_pence=10_000)
    bank_before = account_balance_pence(name=chart.BANK)
    with pytest.raises(FourEyesError):
        claim_record_paid(claim_id=claim.pk, paid_pence=2_500, paid_on=dt.date.today(), actor=maker)
    with pytest.raises(ValidationError, match="Reason for the difference"):
        claim_record_paid(claim_id=claim.pk, paid_pence=2_400, paid_on=dt.date.today(), actor=checker)
    assert account_balance_pence(name=chart.BANK) == bank_before
    claim = claim_record_paid(
        claim_id=claim.pk, paid_pence=2_400, paid_on=dt.date.today(), actor=checker, difference_reason="HMRC letter"
    )
    assert claim.state == ClaimState.PAID and claim.difference_reason == "HMRC letter"
    assert account_balance_pence(name=chart.BANK) == bank_before + 2_400
    assert account_balance_pence(name=chart.GIFT_AID_RECEIVABLE) == 0
    assert claim_selectors.gift_aid_claimed_for_campaign(campaign_id=campaign.pk).paid_pence == 2_500
    assert ledger_check() == []


def test_rejection_returns_gifts_to_the_pool_and_takes_the_gift_aid_back():
    campaign, donation, claim, maker, checker = _filed(amount_pence=10_000)
    fund = fund_balance_pence(child_id=campaign.child_id)
    with pytest.raises(ValidationError, match="Reason for the rejection"):
        claim_reject(claim_id=claim.pk, reason="", actor=checker)
    claim = claim_reject(claim_id=claim.pk, reason="HMRC found an error", actor=checker)
    assert claim.state == ClaimState.REJECTED
    assert fund_balance_pence(child_id=campaign.child_id) == fund - 2_500
    assert account_balance_pence(name=chart.GIFT_AID_RECEIVABLE) == 0
    again = claim_create(period_end=END, actor=maker)
    assert list(ClaimGift.objects.filter(claim=again).values_list("donation_id", flat=True)) == [donation.pk]
    with pytest.raises(StateTransitionError):
        claim_reject(claim_id=claim.pk, reason="twice", actor=checker)
    assert ledger_check() == []


def test_a_refund_after_submission_repays_gift_aid_and_the_next_claim_carries_it():
    campaign, donation, _claim, maker, checker = _filed(amount_pence=10_000)
    fund = fund_balance_pence(child_id=campaign.child_id)
    donation_reverse(donation_id=donation.pk, reason="Refund", to_status="refunded")
    repayment = Repayment.objects.get()
    assert repayment.amount_pence == 2_500 and repayment.kind == "refund"
    assert account_balance_pence(name=OVERCLAIMED) == -2_500
    # the fund gave back the gift (10,000) and its Gift Aid (2,500)
    assert fund_balance_pence(child_id=campaign.child_id) == fund - 10_000 - 2_500
    assert claim_selectors.gift_aid_claimed_for_child(child_id=campaign.child_id).claimed_pence == 0
    declared_gift(campaign, amount_pence=20_000)
    following = claim_create(period_end=END, actor=maker)
    assert following.overclaimed_pence == 2_500
    assert following.expected_pence == 5_000 - 2_500
    claim_submit(claim_id=following.pk, hmrc_reference="R2", actor=checker)
    assert account_balance_pence(name=OVERCLAIMED) == 0
    assert account_balance_pence(name=chart.GIFT_AID_RECEIVABLE) == 2_500 + 2_500
    assert ledger_check() == []


def test_a_partial_refund_repays_only_the_gift_aid_of_the_part_refunded():
    _campaign, donation, _claim, _maker, _checker = _filed(amount_pence=10_000)
    donation_partial_refund(donation_id=donation.pk, refunded_pence=4_000)
    assert list(Repayment.objects.values_list("amount_pence", flat=True)) == [1_000]
    donation_reverse(donation_id=donation.pk, reason="Refund", to_status="refunded")
    assert list(Repayment.objects.values_list("amount_pence", flat=True)) == [1_000, 1_500]
    assert ClaimGift.objects.get(donation=donation).repaid_pence == 2_500
    assert ledger_check() == []


def test_a_refund_of_a_gift_in_a_draft_stops_its_submission():
    campaign = make_campaign()
    donation = declared_gift(campaign)
    maker = officer()
    claim = claim_create(period_end=END, actor=maker)
    donation_reverse(donation_id=donation.pk, reason="Dispute", to_status="disputed")
    assert Repayment.objects.count() == 0
    with pytest.raises(ConflictError, match=f"#{donation.pk}"):
        claim_submit(claim_id=claim.pk, hmrc_reference="X", actor=officer())
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.DRAFT
    assert account_balance_pence(name=chart.GIFT_AID_RECEIVABLE) == 0


def test_a_spent_fund_repays_from_general_funds():
    campaign, donation, _claim, _maker, _checker = _filed(amount_pence=10_000)
    # the fund holds 12,500; the refund takes 10,000 back: spend what is left, so the Gift Aid cannot come from it
    from carefund.ledger.services import PostingSpec, ledger_post

    ledger_post(
        kind="payment",
        postings=[
            PostingSpec(chart.child_fund(campaign.child_id), 2_500),
            PostingSpec(chart.provider_payable(1), -2_500),
        ],
        memo="physio",
        on_date=dt.date.today(),
        idempotency_key="spend",
    )
    donation_reverse(donation_id=donation.pk, reason="Refund", to_status="refunded")
    repayment = Repayment.objects.get()
    assert repayment.borne_by_general_fund is True
    assert fund_balance_pence(child_id=campaign.child_id) == 0
    assert ledger_check() == []


def test_gasds_collections_are_claimed_within_ten_times_gift_aid():
    campaign = make_campaign()
    declared_gift(campaign, amount_pence=10_000)
    bucket = gift(campaign, amount_pence=150_000, kind="bucket_collection", name="", email="x@example.org")
    claim = claim_create(period_end=END, actor=officer())
    # 10 x £100 of Gift Aid gifts = £1,000 of small donations; top-up 25% of it
    assert claim.gasds_donations_pence == 100_000
    assert claim.gasds_pence == 25_000
    assert ClaimGift.objects.get(donation=bucket).scheme == "gasds"
    assert claim.expected_pence == 2_500 + 25_000


def test_deadlines_within_90_days_are_warned_of_and_listed_on_the_page():
    from django.test import Client
    from django.utils import timezone

    from carefund.core import clock

    campaign = make_campaign()
    with clock.frozen_at(timezone.make_aware(dt.datetime(2027, 2, 1, 12))):
        near = declared_gift(campaign, amount_pence=4_000, on=dt.date(2022, 6, 1))  # claim by 5 April 2027
        declared_gift(campaign, on=dt.date(2023, 6, 1))  # claim by 5 April 2028: not yet
        user = officer()
        warnings = claim_selectors.deadlines_near_for_user(user=user)
        assert [(w.donation_id, w.deadline, w.gift_aid_pence) for w in warnings] == [
            (near.pk, dt.date(2027, 4, 5), 1_000)
        ]
        client = Client()
        client.force_login(user)
        page = client.get("/giftaid/claims/").content.decode()
        assert f"Gift #{near.pk} received 1 June 2022: £10.00 Gift Aid, claim by <strong>5 April 2027</strong>" in page
        with pytest.raises(PermissionDeniedError):
            claim_selectors.deadlines_near_for_user(user=make_user())


def test_payment_date_and_reference_are_checked_and_nothing_is_posted():
    _, _, claim, _, checker = _filed()
    before = account_balance_pence(name=chart.BANK)
    with pytest.raises(ValidationError, match="Date paid must be between"):
        claim_record_paid(claim_id=claim.pk, paid_pence=2_500, paid_on=dt.date(2099, 1, 1), actor=checker)
    with pytest.raises(ValidationError, match="Amount paid must be more than"):
        claim_record_paid(claim_id=claim.pk, paid_pence=0, paid_on=dt.date.today(), actor=checker)
    assert account_balance_pence(name=chart.BANK) == before
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.SUBMITTED
    campaign = make_campaign()
    declared_gift(campaign)
    draft = claim_create(period_end=END, actor=officer())
    with pytest.raises(ValidationError, match="at most 40 characters"):
        claim_submit(claim_id=draft.pk, hmrc_reference="R" * 41, actor=checker)


def test_withdrawing_a_draft_frees_its_gifts_and_the_overclaims_it_carried():
    _campaign, donation, _claim, maker, _checker = _filed(amount_pence=10_000)
    donation_reverse(donation_id=donation.pk, reason="Refund", to_status="refunded")
    declared_gift(make_campaign(), amount_pence=40_000)
    draft = claim_create(period_end=END, actor=maker)
    assert draft.overclaimed_pence == 2_500
    claim_reject(claim_id=draft.pk, reason="made in error", actor=maker)  # a draft may be withdrawn by its maker
    assert Repayment.objects.get().carried_into is None
    again = claim_create(period_end=END, actor=maker)
    assert again.overclaimed_pence == 2_500 and again.gifts_count == 1
    assert ledger_check() == []


def test_rejecting_a_submitted_claim_after_a_repayment_keeps_the_books_whole():
    campaign, donation, claim, _maker, checker = _filed(amount_pence=10_000)
    donation_partial_refund(donation_id=donation.pk, refunded_pence=4_000)
    claim_reject(claim_id=claim.pk, reason="HMRC: declarations missing", actor=checker)
    assert account_balance_pence(name=chart.GIFT_AID_RECEIVABLE) == 0
    assert account_balance_pence(name=OVERCLAIMED) == 0
    assert Repayment.objects.get().released is True
    assert claim_selectors.gift_aid_claimed_for_child(child_id=campaign.child_id) == claim_selectors.GiftAidClaimed(
        0, 0
    )
    assert ledger_check() == []


def test_rejecting_a_claim_that_carried_an_overclaim_makes_it_owed_again():
    _campaign, donation, _claim, maker, checker = _filed(amount_pence=10_000)
    donation_reverse(donation_id=donation.pk, reason="Refund", to_status="refunded")
    declared_gift(make_campaign(), amount_pence=40_000)
    carrying = claim_create(period_end=END, actor=maker)
    claim_submit(claim_id=carrying.pk, hmrc_reference="R2", actor=checker)
    assert account_balance_pence(name=OVERCLAIMED) == 0
    claim_reject(claim_id=carrying.pk, reason="HMRC rejected it", actor=checker)
    assert account_balance_pence(name=OVERCLAIMED) == -2_500
    assert Repayment.objects.get().carried_into is None
    assert ledger_check() == []
