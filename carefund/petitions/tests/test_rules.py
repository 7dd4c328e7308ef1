"""The pure rules, exactly (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from carefund.petitions import rules
from carefund.petitions.rules import EarlierSignature, FieldError, SigningOutcome

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        ("Jo.Bloggs+petition@GMail.com", "jobloggs@gmail.com"),
        ("jo.bloggs@googlemail.com", "jobloggs@gmail.com"),
        ("jo.bloggs+x+y@example.org", "jo.bloggs@example.org"),
        ("Jo.Bloggs@Example.org", "jo.bloggs@example.org"),
    ],
)
def test_canonical_email_strips_tags_everywhere_and_dots_only_where_ignored(email, canonical):
    assert rules.canonical_email(email) == canonical


def test_email_domain_is_the_canonical_domain():
    assert rules.email_domain("a@GoogleMail.com") == "gmail.com"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter your name."),
        ("   ", "Enter your name."),
        ("x" * 256, "Your name must be 255 characters or fewer."),
        ("Visit www.spam.example", "Your name must not contain a web address."),
        ("Jo http://x", "Your name must not contain a web address."),
        ("cheap-pills.com", "Your name must not contain a web address."),
        ("=HYPERLINK(1)", "Your name must not start with = + - or @."),
        ("+44 Jo", "Your name must not start with = + - or @."),
        ("-Jo", "Your name must not start with = + - or @."),
        ("@jo", "Your name must not start with = + - or @."),
    ],
)
def test_bad_names_are_refused_with_what_to_fix(value, message):
    with pytest.raises(FieldError) as info:
        rules.clean_name(value)
    assert info.value.message == message
    assert info.value.field == "name"


def test_a_name_is_tidied_and_may_be_255_long():
    assert rules.clean_name("  Sarah   Hartley ") == "Sarah Hartley"
    assert rules.clean_name("y" * 255) == "y" * 255
    assert rules.clean_name("Anne-Marie O'Neil") == "Anne-Marie O'Neil"


def test_email_must_be_typed_twice_the_same():
    assert rules.clean_email(" a@b.org ", "A@B.ORG") == "a@b.org"
    with pytest.raises(FieldError) as info:
        rules.clean_email("a@b.org", "a@c.org")
    assert info.value.field == "email_confirmation"
    with pytest.raises(FieldError, match=r"like name@example\.com"):
        rules.clean_email("not-an-email")
    with pytest.raises(FieldError, match=r"Enter your email address\."):
        rules.clean_email("")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ct21 5ab", "CT215AB"),
        ("SW1A-1AA", "SW1A1AA"),
        ("bfpo 1234", "BFPO1234"),
        ("GIR 0AA", "GIR0AA"),
        ("L1 8JQ", "L18JQ"),
    ],
)
def test_uk_postcodes_are_normalised(raw, clean):
    assert rules.clean_postcode(raw, location_code="GB") == clean


@pytest.mark.parametrize("raw", ["", "12345", "CT21 5CI", "ABC", "SW1A 1AAA"])
def test_bad_uk_postcodes_are_refused(raw):
    with pytest.raises(FieldError) as info:
        rules.clean_postcode(raw, location_code="GB")
    assert info.value.field == "postcode"


def test_postcode_is_not_needed_abroad():
    assert rules.clean_postcode("75001", location_code="FR") == ""


def test_format_postcode():
    assert rules.format_postcode("CT215AB") == "CT21 5AB"
    assert rules.format_postcode("L18JQ") == "L1 8JQ"
    assert rules.format_postcode("BFPO1234") == "BFPO1234"


def test_location_must_be_a_two_letter_code():
    assert rules.clean_location(" fr ") == "FR"
    with pytest.raises(FieldError):
        rules.clean_location("France")


def test_petition_text_lengths_follow_e_petitions():
    ok = rules.clean_petition_text(action="a" * 80, background="b" * 300, additional_details="c" * 800)
    assert (len(ok.action), len(ok.background), len(ok.additional_details)) == (80, 300, 800)
    with pytest.raises(FieldError) as info:
        rules.clean_petition_text(action="a" * 81, background="b", additional_details="")
    assert (info.value.field, info.value.message) == (
        "action",
        "What the petition asks for must be 80 characters or fewer.",
    )
    with pytest.raises(FieldError) as info:
        rules.clean_petition_text(action="a", background="b" * 301, additional_details="")
    assert info.value.field == "background"
    with pytest.raises(FieldError) as info:
        rules.clean_petition_text(action="a", background="b", additional_details="c" * 801)
    assert info.value.field == "additional_details"
    with pytest.raises(FieldError) as info:
        rules.clean_petition_text(action="", background="b", additional_details="")
    assert info.value.message == "Enter what the petition asks for."
    with pytest.raises(FieldError) as info:
        rules.clean_petition_text(action="=cmd", background="b", additional_details="")
    assert info.value.message == "Start with a word, not = + - or @."


def test_details_keep_their_paragraphs():
    assert (
        rules.clean_petition_text(action="a", background="b", additional_details=" one\n\ntwo ").additional_details
        == "one\n\ntwo"
    )


def _e(name, postcode="CT215AB", slot=1):
    return EarlierSignature(name=name, postcode=postcode, household_slot=slot)


def test_household_first_signature_takes_slot_one():
    d = rules.household_decide(name="Sarah", postcode="CT215AB", earlier=())
    assert (d.outcome, d.household_slot) == (SigningOutcome.NEW, 1)


def test_household_second_person_same_postcode_may_sign():
    d = rules.household_decide(name="Tom", postcode="CT215AB", earlier=(_e("Sarah"),))
    assert (d.outcome, d.household_slot) == (SigningOutcome.NEW, 2)
    # the slot left free is the one taken (slot 1 anonymised or kept: the other is used)
    assert rules.household_decide(name="Tom", postcode="CT215AB", earlier=(_e("Sarah", slot=2),)).household_slot == 1


def test_household_second_person_other_postcode_is_refused():
    assert (
        rules.household_decide(name="Tom", postcode="NG72UH", earlier=(_e("Sarah"),)).outcome == SigningOutcome.REFUSED
    )


def test_household_third_person_is_refused():
    earlier = (_e("Sarah"), _e("Tom", slot=2))
    assert rules.household_decide(name="Amy", postcode="CT215AB", earlier=earlier).outcome == SigningOutcome.REFUSED


def test_household_same_name_is_a_duplicate_whatever_the_case_and_spaces():
    d = rules.household_decide(name=" sarah  ", postcode="NG72UH", earlier=(_e("Tom", slot=1), _e("Sarah", slot=2)))
    assert d.outcome == SigningOutcome.DUPLICATE
    assert d.earlier == _e("Sarah", slot=2)


LIMITS = rules.RateLimits()


def _recent(burst=1, sustained=1, domain=1, allowed=True):
    return rules.RecentSigning(ip_burst=burst, ip_sustained=sustained, domain_recent=domain, domain_allowed=allowed)


def test_rate_limit_defaults_are_e_petitions():
    assert (LIMITS.burst_rate, LIMITS.burst_seconds, LIMITS.sustained_rate, LIMITS.sustained_seconds) == (1, 60, 5, 300)
    assert (LIMITS.creator_rate, LIMITS.creator_seconds, LIMITS.domain_rate, LIMITS.domain_seconds) == (
        2,
        300,
        100,
        3600,
    )


def test_rate_limits_hold_bursts_at_exact_boundaries():
    assert not rules.is_suspect(recent=_recent(burst=1, sustained=5), limits=LIMITS)
    assert rules.is_suspect(recent=_recent(burst=2, sustained=2), limits=LIMITS)
    assert rules.is_suspect(recent=_recent(burst=1, sustained=6), limits=LIMITS)
    assert not rules.is_suspect(recent=_recent(domain=101, allowed=True), limits=LIMITS)
    assert not rules.is_suspect(recent=_recent(domain=100, allowed=False), limits=LIMITS)
    assert rules.is_suspect(recent=_recent(domain=101, allowed=False), limits=LIMITS)
    off = rules.RateLimits(enabled=False)
    assert not rules.is_suspect(recent=_recent(burst=50, sustained=50, domain=500, allowed=False), limits=off)


def test_creator_rate_limit():
    assert not rules.creator_over_limit(created_recently=1, limits=LIMITS)
    assert rules.creator_over_limit(created_recently=2, limits=LIMITS)
    assert not rules.creator_over_limit(created_recently=9, limits=rules.RateLimits(enabled=False))


def _t(r=None, d=None):
    return rules.Thresholds(response=10, debate=100, response_reached_at=r, debate_reached_at=d)


def test_thresholds_are_stamped_when_reached_and_keep_the_first_stamp():
    later = T0 + dt.timedelta(hours=1)
    assert rules.thresholds_after(count=9, thresholds=_t(), now=T0) == _t()
    assert rules.thresholds_after(count=10, thresholds=_t(), now=T0) == _t(r=T0)
    assert rules.thresholds_after(count=99, thresholds=_t(r=T0), now=later) == _t(r=T0)
    assert rules.thresholds_after(count=100, thresholds=_t(r=T0), now=later) == _t(r=T0, d=later)


def test_thresholds_are_cleared_when_invalidation_drops_below():
    assert rules.thresholds_after(count=99, thresholds=_t(r=T0, d=T0), now=T0) == _t(r=T0)
    assert rules.thresholds_after(count=9, thresholds=_t(r=T0, d=T0), now=T0) == _t()


def test_progress_to_the_next_threshold():
    assert rules.progress(count=0, response=10, debate=100) == rules.Progress(0, 10, 0)
    assert rules.progress(count=9, response=10, debate=100) == rules.Progress(9, 10, 90)
    assert rules.progress(count=10, response=10, debate=100) == rules.Progress(10, 100, 10)
    assert rules.progress(count=100, response=10, debate=100) == rules.Progress(100, None, 100)


def test_closes_after_the_duration():
    assert rules.closes_at(opened_at=T0, duration_days=182) == T0 + dt.timedelta(days=182)


def test_anonymisation_is_due_at_the_end_of_retention():
    assert not rules.is_anonymisation_due(ended_at=None, retention_days=182, now=T0)
    ended = T0 - dt.timedelta(days=182)
    assert rules.is_anonymisation_due(ended_at=ended, retention_days=182, now=T0)
    assert not rules.is_anonymisation_due(ended_at=ended + dt.timedelta(seconds=1), retention_days=182, now=T0)


def test_edit_lock_of_another_moderator_lapses():
    assert not rules.is_locked_by_other(locked_by_id=None, locked_at=None, user_id=1, now=T0, lock_seconds=900)
    assert not rules.is_locked_by_other(locked_by_id=1, locked_at=T0, user_id=1, now=T0, lock_seconds=900)
    assert rules.is_locked_by_other(locked_by_id=2, locked_at=T0, user_id=1, now=T0, lock_seconds=900)
    at_limit = T0 + dt.timedelta(seconds=900)
    assert not rules.is_locked_by_other(locked_by_id=2, locked_at=T0, user_id=1, now=at_limit, lock_seconds=900)
    assert rules.is_locked_by_other(
        locked_by_id=2, locked_at=T0, user_id=1, now=at_limit - dt.timedelta(seconds=1), lock_seconds=900
    )
