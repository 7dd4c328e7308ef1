"""Finding 6 of issue 16: login lockouts per address across usernames as well as per username; giving limited per
address; a Content-Security-Policy on every page (no inline script left); HSTS when HTTPS is on; no-store on every
page with personal or health data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from carefund.campaigns.models import Donation
from carefund.campaigns.tests.factories import make_campaign, make_pending

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def test_one_password_sprayed_over_many_usernames_is_stopped(django_user_model, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 5
    django_user_model.objects.create_user("real", password="correct-horse-battery")
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    answers = [
        attacker.post("/login/", {"username": f"user{n}", "password": "Summer2026!"}).status_code for n in range(30)
    ]
    # the fifth failure locks the address: it and every later try, whatever the username, are refused
    assert answers[:4] == [200] * 4 and set(answers[4:]) == {429}
    assert attacker.post("/login/", {"username": "real", "password": "correct-horse-battery"}).status_code == 429
    assert "_auth_user_id" not in attacker.session
    neighbour = Client(REMOTE_ADDR="198.51.100.2")  # another address is not affected
    assert neighbour.post("/login/", {"username": "real", "password": "correct-horse-battery"}).status_code == 302


def test_one_username_tried_from_many_addresses_is_locked(django_user_model, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 5
    django_user_model.objects.create_user("target", password="correct-horse-battery")
    for n in range(5):
        Client(REMOTE_ADDR=f"192.0.2.{n + 1}").post("/login/", {"username": "target", "password": "wrong"})
    fresh = Client(REMOTE_ADDR="192.0.2.99")
    assert fresh.post("/login/", {"username": "target", "password": "correct-horse-battery"}).status_code == 429


def test_giving_is_limited_per_address(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GIVE_RATE_LIMIT = "3/h"
    campaign = make_campaign()
    gift = {"preset": "other", "custom_amount": "10", "donor_name": "Ann", "donor_email": "ann@example.org"}
    donor = Client(REMOTE_ADDR="203.0.113.50")
    answers = [donor.post(f"/campaigns/{campaign.slug}/give/", gift).status_code for _ in range(4)]
    assert answers == [302, 302, 302, 429]
    assert Donation.objects.count() == 3
    assert Client(REMOTE_ADDR="203.0.113.51").post(f"/campaigns/{campaign.slug}/give/", gift).status_code == 302
    assert donor.get(f"/campaigns/{campaign.slug}/give/").status_code == 200  # reading the page is not limited


def test_the_giving_limit_holds_across_server_processes(settings) -> None:  # type: ignore[no-untyped-def]
    """Under gunicorn each worker is a process with its own memory: the counts must be in the shared database."""
    from django.core.cache import caches

    settings.GIVE_RATE_LIMIT = "2/h"
    campaign = make_campaign()
    gift = {"preset": "other", "custom_amount": "10", "donor_name": "Ann", "donor_email": "ann@example.org"}
    donor = Client(REMOTE_ADDR="203.0.113.60")
    assert [donor.post(f"/campaigns/{campaign.slug}/give/", gift).status_code for _ in range(2)] == [302, 302]
    caches["default"].clear()  # the next request is served by another process: its memory holds none of the counts
    assert donor.post(f"/campaigns/{campaign.slug}/give/", gift).status_code == 429
    assert Donation.objects.count() == 2


def test_every_page_has_a_csp_and_no_inline_script(django_user_model) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign()
    for url in ("/", f"/campaigns/{campaign.slug}/", f"/campaigns/{campaign.slug}/give/", "/login/", "/economics/sdr/"):
        response = Client().get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert "unsafe-eval" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
        inline = [s for s in re.findall(r"<script([^>]*)>", response.content.decode()) if "src=" not in s]
        assert all('type="application/json"' in s for s in inline), (url, inline)


def test_hsts_and_secure_cookies_when_https_is_on() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "HTTPS", "DEBUG"))}
    run = subprocess.run(
        [sys.executable, "-c", code],
        env=env | {"DJANGO_SETTINGS_MODULE": "config.settings", "HTTPS": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.stdout.split() == ["31536000", "True", "True", "True"], run.stderr


def test_hsts_header_is_sent_over_https(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SECURE_HSTS_SECONDS = 31536000
    assert Client().get("/", secure=True)["Strict-Transport-Security"] == "max-age=31536000"


def test_pages_with_personal_data_are_never_stored(django_user_model) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign()
    public = Client().get(f"/campaigns/{campaign.slug}/")
    assert "no-store" not in public.get("Cache-Control", "")
    gift = make_pending(campaign)
    donor_page = Client().get(f"/gifts/{gift.receipt_token}/")
    assert "no-store" in donor_page["Cache-Control"] and "private" in donor_page["Cache-Control"]
    staff = Client()
    staff.force_login(django_user_model.objects.create_user("someone", password="x"))
    for url in ("/", f"/campaigns/{campaign.slug}/"):
        assert "no-store" in staff.get(url)["Cache-Control"], url
    sent = Client().post(f"/campaigns/{campaign.slug}/give/", {"donor_name": "Ann", "donor_email": "ann@example.org"})
    assert sent.status_code == 400 and "no-store" in sent["Cache-Control"]
