"""The pages, the JSON and the signing API, as a person or a program meets them."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from carefund.petitions.counting import petition_count_refresh
from carefund.petitions.models import Petition, PetitionState, Signature, SignatureState
from carefund.petitions.signing import signature_confirm, signature_sign
from carefund.petitions.tests.factories import make_petition, moderator, postcodes, signer

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Jo Bloggs",
    "email": "jo@example.org",
    "email_confirmation": "jo@example.org",
    "uk_citizen_or_resident": "on",
    "location": "GB",
    "postcode": "ct21 5ab",
    "notify_by_email": "on",
}


def _shown_count(page: str) -> int:
    """The signature count a petition page shows."""
    return int(re.search(r'aria-live="polite">([\d,]+)</span>', page).group(1).replace(",", ""))


def _link(body: str) -> str:
    """The path of the confirmation link in an email."""
    return re.search(r"https?://[^/\s]+(/petitions/confirm/\S+/)", body).group(1)


def test_sign_confirm_and_see_the_count_move(client: Client, django_capture_on_commit_callbacks):
    postcodes()
    petition = make_petition()
    page = client.get(reverse("petitions:page", kwargs={"slug": petition.slug}))
    assert page.status_code == 200
    assert "Sign this petition" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("petitions:sign", kwargs={"slug": petition.slug}), FORM)
    assert response.status_code == 302
    assert response["Location"] == reverse("petitions:check_email", kwargs={"slug": petition.slug})
    path = _link(mail.outbox[0].body)
    # a mail scanner's GET changes nothing
    assert client.get(path).status_code == 200
    assert Signature.objects.get().state == SignatureState.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(path)
    assert confirmed.status_code == 302
    assert client.post(path).status_code == 302  # again: the same answer, counted once
    assert Petition.objects.get(pk=petition.pk).signature_count == 1
    cache.clear()  # the page's counts by area are kept PETITION_PAGE_CACHE_SECONDS (5 s): as if they ran out
    page = client.get(reverse("petitions:page", kwargs={"slug": petition.slug})).content.decode()
    assert "Folkestone and Hythe" in page
    assert "NHS Kent and Medway Integrated Care Board" in page
    assert "South East" in page


def test_a_duplicate_signer_sees_the_same_page(client: Client):
    petition = make_petition()
    url = reverse("petitions:sign", kwargs={"slug": petition.slug})
    first = client.post(url, FORM, REMOTE_ADDR="192.0.2.1")
    again = client.post(url, {**FORM, "email": "Jo+x@example.org", "email_confirmation": "Jo+x@example.org"})
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    assert Signature.objects.count() == 1


def test_bad_input_shows_what_to_fix_and_writes_nothing(client: Client):
    petition = make_petition()
    url = reverse("petitions:sign", kwargs={"slug": petition.slug})
    response = client.post(url, {**FORM, "name": "@evil", "postcode": "nope"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Full name: Your name must not start with = + - or @." in text
    response = client.post(url, {**FORM, "uk_citizen_or_resident": ""})
    assert "Only British citizens or UK residents can sign" in response.content.decode()
    response = client.post(url, {**FORM, "postcode": "nope"})
    assert "Enter a real UK postcode, like SW1A 1AA." in response.content.decode()
    assert not Signature.objects.exists()


def test_unknown_removed_and_hidden_petitions(client: Client):
    assert client.get("/petitions/nothing-here/").status_code == 404
    hidden = make_petition(state=PetitionState.HIDDEN, rejection_code="offensive")
    assert client.get(reverse("petitions:page", kwargs={"slug": hidden.slug})).status_code == 404
    removed = make_petition(state=PetitionState.REMOVED)
    assert client.get(reverse("petitions:page", kwargs={"slug": removed.slug})).status_code == 410
    assert client.get(reverse("petitions:json", kwargs={"slug": removed.slug})).status_code == 410
    assert client.get("/petitions/nothing-here.json").status_code == 404


def test_list_and_search(client: Client):
    make_petition(action="Fund SDR on the NHS")
    make_petition(action="Open a hydrotherapy pool", state=PetitionState.CLOSED)
    make_petition(action="Something pending", state=PetitionState.SPONSORED)
    text = client.get("/petitions/").content.decode()
    assert "Fund SDR on the NHS" in text and "hydrotherapy" not in text and "pending" not in text
    text = client.get("/petitions/?state=closed").content.decode()
    assert "hydrotherapy" in text and "Fund SDR" not in text
    text = client.get("/petitions/?state=all&q=hydro").content.decode()
    assert "hydrotherapy" in text and "Fund SDR" not in text


def test_petition_json_has_e_petitions_shape_and_no_personal_data(client: Client):
    postcodes()
    petition = make_petition()
    for n, postcode in enumerate(["CT21 5AB", "CT21 4JF", "NG7 2UH"]):
        r = signature_sign(petition=petition, data=signer(n, postcode=postcode), ip=None)
        signature_confirm(token=Signature.objects.get(pk=r.signature_id).token)
    petition_count_refresh(petition_id=petition.pk)
    response = client.get(f"/petitions/{petition.slug}.json")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    body = response.json()
    a = body["data"]["attributes"]
    assert a["signature_count"] == 3
    assert a["signatures_by_constituency"][0] == {
        "name": "Folkestone and Hythe",
        "ons_code": "E14001237",
        "mp": None,
        "signature_count": 2,
    }
    assert a["signatures_by_country"] == [{"name": "United Kingdom", "code": "GB", "signature_count": 3}]
    assert {r["name"] for r in a["signatures_by_icb"]} == {
        "NHS Kent and Medway Integrated Care Board",
        "NHS Nottingham and Nottinghamshire Integrated Care Board",
    }
    assert {(r["name"], r["signature_count"]) for r in a["signatures_by_region"]} == {
        ("South East", 2),
        ("Midlands", 1),
    }
    assert a["updated_at"] is not None
    raw = response.content.decode()
    assert "signer0@example.org" not in raw and "Signer 0" not in raw and "CT21" not in raw


def test_petitions_json_lists_and_refuses_bad_parameters(client: Client):
    make_petition(action="Fund SDR on the NHS")
    body = client.get("/petitions.json?state=open").json()
    assert [p["attributes"]["action"] for p in body["data"]] == ["Fund SDR on the NHS"]
    assert body["links"]["next"] is None
    assert client.get("/petitions.json?state=bogus").status_code == 400
    assert client.get("/petitions.json?page=x").status_code == 400


def test_api_sign_answers_202_and_sends_the_same_email(client: Client, django_capture_on_commit_callbacks):
    petition = make_petition()
    url = f"/api/petitions/{petition.slug}/signatures"
    payload = {
        "name": "Jo",
        "email": "jo@example.org",
        "postcode": "CT21 5AB",
        "location": "GB",
        "uk_citizen_or_resident": True,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, json.dumps(payload), content_type="application/json")
    assert response.status_code == 202
    assert mail.outbox[0].subject.startswith("Please confirm your signature")
    again = client.post(url, json.dumps(payload), content_type="application/json")
    assert again.status_code == 202 and again.json() == response.json()
    assert Signature.objects.count() == 1


def test_api_bad_input_is_4xx_and_writes_nothing(client: Client):
    petition = make_petition()
    url = f"/api/petitions/{petition.slug}/signatures"
    assert client.post(url, "{not json", content_type="application/json").status_code == 400
    assert client.post(url, json.dumps({"name": "Jo"}), content_type="application/json").status_code == 422
    bad = {"name": "Jo", "email": "jo@example.org", "postcode": "nope", "uk_citizen_or_resident": True}
    response = client.post(url, json.dumps(bad), content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "postcode"
    ok = {**bad, "postcode": "CT21 5AB"}
    assert (
        client.post("/api/petitions/none/signatures", json.dumps(ok), content_type="application/json").status_code
        == 404
    )
    closed = make_petition(state=PetitionState.CLOSED)
    response = client.post(f"/api/petitions/{closed.slug}/signatures", json.dumps(ok), content_type="application/json")
    assert response.status_code == 409
    assert not Signature.objects.exists()


def test_widget_can_be_framed_and_the_page_cannot(client: Client):
    petition = make_petition()
    widget = client.get(reverse("petitions:widget", kwargs={"slug": petition.slug}))
    assert widget.status_code == 200 and "X-Frame-Options" not in widget
    assert "frame-ancestors 'self' https:" in widget["Content-Security-Policy"]  # a newspaper's page may frame it
    assert "Sign this petition" in widget.content.decode()
    again = client.get(reverse("petitions:widget", kwargs={"slug": petition.slug}))  # served from the cache
    assert "frame-ancestors 'self' https:" in again["Content-Security-Policy"]
    page = client.get(reverse("petitions:page", kwargs={"slug": petition.slug}))
    assert page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]


def test_no_inline_script_or_style_on_petition_pages(client: Client):
    petition = make_petition()
    for url in (
        "/petitions/",
        reverse("petitions:page", kwargs={"slug": petition.slug}),
        reverse("petitions:sign", kwargs={"slug": petition.slug}),
        reverse("petitions:new"),
        reverse("petitions:widget", kwargs={"slug": petition.slug}),
    ):
        html = client.get(url).content.decode()
        assert "style=" not in html, url
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, url


def test_create_a_petition_through_the_page(client: Client, django_capture_on_commit_callbacks):
    data = {
        **FORM,
        "action": "Fund SDR on the NHS for every child who needs it",
        "background": "SDR helps children with cerebral palsy walk.",
        "additional_details": "",
        "target": "nhs_england",
        "target_name": "",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("petitions:new"), data)
    assert response.status_code == 302
    petition = Petition.objects.get()
    assert petition.state == PetitionState.PENDING and petition.creator_email == "jo@example.org"
    assert petition.sponsor_token in mail.outbox[0].body
    bad = client.post(reverse("petitions:new"), {**data, "action": "x" * 81})
    assert bad.status_code == 400
    assert "must be 80 characters or fewer" in bad.content.decode()
    assert Petition.objects.count() == 1


def test_creator_csv_has_counts_by_area_only(client: Client):
    postcodes()
    petition = make_petition()
    r = signature_sign(petition=petition, data=signer(1), ip=None)
    signature_confirm(token=Signature.objects.get(pk=r.signature_id).token)
    petition_count_refresh(petition_id=petition.pk)
    url = reverse("petitions:creator_csv", kwargs={"slug": petition.slug, "token": petition.creator_token})
    body = client.get(url).content.decode()
    assert "Parliamentary constituency (2024),E14001237,Folkestone and Hythe,1" in body
    assert "signer1" not in body
    bad = reverse("petitions:creator_csv", kwargs={"slug": petition.slug, "token": "wrong"})
    assert client.get(bad).status_code == 404


def test_moderator_pages_approve_and_invalidate_dry_run(client: Client):
    petition = make_petition(state=PetitionState.SPONSORED)
    mod = moderator()
    client.force_login(mod)
    page = client.get(reverse("petitions:staff_petition", kwargs={"slug": petition.slug}))
    assert page.status_code == 200
    assert Petition.objects.get(pk=petition.pk).locked_by == mod
    response = client.post(reverse("petitions:staff_act", kwargs={"slug": petition.slug, "act": "approve"}))
    assert response.status_code == 302
    assert Petition.objects.get(pk=petition.pk).state == PetitionState.OPEN
    r = signature_sign(petition=petition, data=signer(1, email="a@bots.example"), ip=None)
    dry = client.post(reverse("petitions:staff_invalidate"), {"email_domain": "bots.example", "dry_run": "1"})
    assert "1 signature on 1 petition match" in dry.content.decode()
    assert Signature.objects.get(pk=r.signature_id).state == SignatureState.PENDING


def test_staff_pages_need_the_role(client: Client):
    from carefund.care.tests.factories import UserFactory

    petition = make_petition(state=PetitionState.SPONSORED)
    client.force_login(UserFactory())
    assert client.get(reverse("petitions:staff_queue")).status_code == 403
    assert (
        client.post(reverse("petitions:staff_act", kwargs={"slug": petition.slug, "act": "approve"})).status_code == 403
    )
    assert client.get(reverse("petitions:staff_invalidate")).status_code == 403
    assert Petition.objects.get(pk=petition.pk).state == PetitionState.SPONSORED


def test_moderators_find_the_queue_in_the_menu_and_their_work_on_the_start_page(client: Client):
    petition = make_petition(state=PetitionState.SPONSORED, action="Fund hydrotherapy")
    client.force_login(moderator())
    start = client.get(reverse("start")).content.decode()
    assert "Moderate the petition “Fund hydrotherapy”" in start
    assert reverse("petitions:staff_petition", args=[petition.slug]) in start
    assert reverse("petitions:staff_queue") in start  # the header menu's "Moderate petitions"
    assert reverse("petitions:list") in start  # and "Petitions", for everyone


def test_the_public_menu_shows_petitions_but_not_moderation(client: Client):
    html = client.get("/petitions/").content.decode()
    assert reverse("petitions:staff_queue") not in html


def test_public_answers_are_kept_a_few_seconds_and_a_moderators_change_shows_at_once(client: Client, settings):
    from carefund.web.petitions.data import forget

    settings.PETITION_PAGE_CACHE_SECONDS = 5
    petition = make_petition()
    urls = {
        "json": reverse("petitions:json", kwargs={"slug": petition.slug}),
        "count": reverse("petitions:count", kwargs={"slug": petition.slug}),
        "page": reverse("petitions:page", kwargs={"slug": petition.slug}),
        "widget": reverse("petitions:widget", kwargs={"slug": petition.slug}),
    }
    first = {what: client.get(url) for what, url in urls.items()}
    assert json.loads(first["json"].content)["data"]["attributes"]["signature_count"] == 0
    Petition.objects.filter(pk=petition.pk).update(signature_count=4321, action="Fund SDR for every child now")
    again = {what: client.get(url) for what, url in urls.items()}
    for what in urls:  # the same answer, with its headers, while it is kept
        assert again[what].status_code == 200
        assert again[what].content == first[what].content
        assert again[what]["Content-Type"] == first[what]["Content-Type"]
    assert again["json"]["Access-Control-Allow-Origin"] == "*"
    for what in urls:  # a cache in front of the site may keep them as long
        assert again[what]["Cache-Control"] == "public, max-age=5"
    assert "Cookie" in again["page"]["Vary"]  # never given to a signed-in person instead of their own page
    forget(petition)  # what a moderator's action does in the process that served it
    assert json.loads(client.get(urls["json"]).content)["data"]["attributes"]["signature_count"] == 4321
    assert json.loads(client.get(urls["count"]).content)["signature_count"] == 4321
    assert "4,321" in client.get(urls["widget"]).content.decode()
    assert "Fund SDR for every child now" in client.get(urls["page"]).content.decode()


def test_a_signed_in_person_never_gets_the_kept_page(client: Client, settings):
    settings.PETITION_PAGE_CACHE_SECONDS = 5
    petition = make_petition()
    url = reverse("petitions:page", kwargs={"slug": petition.slug})
    assert client.get(url).status_code == 200  # kept for visitors
    person = moderator("mo-reader")
    client.force_login(person)
    page = client.get(url)
    assert "mo-reader" in page.content.decode()
    assert "no-store" in page["Cache-Control"] and "public" not in page["Cache-Control"]


def test_unknown_or_removed_petitions_are_never_kept(client: Client, settings):
    settings.PETITION_PAGE_CACHE_SECONDS = 5
    petition = make_petition()
    url = reverse("petitions:json", kwargs={"slug": petition.slug})
    assert client.get(url).status_code == 200
    Petition.objects.filter(pk=petition.pk).update(state=PetitionState.REMOVED)
    cache.clear()
    assert client.get(url).status_code == 410
    Petition.objects.filter(pk=petition.pk).update(state=PetitionState.OPEN)
    assert client.get(url).status_code == 200  # the 410 was not kept
    assert client.get(reverse("petitions:json", kwargs={"slug": "no-such-petition"})).status_code == 404


def test_a_new_user_starts_a_petition_that_is_sponsored_approved_signed_counted_and_answered(
    django_capture_on_commit_callbacks,
):
    """The whole life of a petition through its pages and emails, as people new to the site meet it: the creator
    starts it and confirms, five sponsors sign from the creator's link, a moderator approves it, a visitor finds it,
    signs and confirms, sees the count move and their region appear, and reads the response the moderator records
    (emailed once to those who asked). Each person signs from an address of their own (one address signing
    twice in a minute is held by the rate limits)."""
    postcodes()
    creator = Client(REMOTE_ADDR="203.0.113.1")

    def post(path: str, data: dict[str, str] | None, who: Client) -> str:
        """POST, follow the answer's redirect; the emails sent meanwhile are in mail.outbox."""
        with django_capture_on_commit_callbacks(execute=True):
            response = who.post(path, data or {})
        assert response.status_code == 302, response.content.decode()[:500]
        return who.get(response["Location"]).content.decode()

    mail.outbox.clear()
    post(
        reverse("petitions:new"),
        {
            **FORM,
            "name": "Amy Creator",
            "email": "amy@example.org",
            "email_confirmation": "amy@example.org",
            "action": "Fund SDR on the NHS for every child who needs it",
            "background": "SDR helps children with cerebral palsy walk.",
            "additional_details": "",
            "target": "nhs_england",
            "target_name": "",
        },
        creator,
    )
    petition = Petition.objects.get()
    sponsor_link = re.search(r"https?://[^/\s]+(/petitions/\S+/sponsor/\S+/)", mail.outbox[-1].body).group(1)
    post(_link(mail.outbox[-1].body), None, creator)  # the creator confirms their email
    assert Petition.objects.get(pk=petition.pk).state == PetitionState.VALIDATED

    for n in range(petition.sponsors_required):
        who = Client(REMOTE_ADDR=f"203.0.113.{10 + n}")
        assert "Sign" in who.get(sponsor_link).content.decode()
        email = f"sponsor{n}@example.net"
        post(sponsor_link, {**FORM, "name": f"Sponsor {n}", "email": email, "email_confirmation": email}, who)
        post(_link(mail.outbox[-1].body), None, who)
    assert Petition.objects.get(pk=petition.pk).state == PetitionState.SPONSORED

    staff = Client()
    staff.force_login(moderator())
    queue = staff.get(reverse("petitions:staff_queue")).content.decode()
    assert petition.action in queue
    staff.get(reverse("petitions:staff_petition", kwargs={"slug": petition.slug}))  # takes the edit lock
    post(reverse("petitions:staff_act", kwargs={"slug": petition.slug, "act": "approve"}), None, staff)

    visitor = Client(REMOTE_ADDR="198.51.100.7")
    listed = visitor.get(reverse("petitions:list")).content.decode()
    page_path = reverse("petitions:page", kwargs={"slug": petition.slug})
    assert page_path in listed
    page = visitor.get(page_path).content.decode()
    counted_before = _shown_count(page)
    assert counted_before == 6  # the creator and the five sponsors
    assert "https://wa.me/?text=" in page and "North West" not in page  # share links; no signer in the region yet
    signed = post(
        reverse("petitions:sign", kwargs={"slug": petition.slug}),
        {
            **FORM,
            "name": "Vic Visitor",
            "email": "vic@example.com",
            "email_confirmation": "vic@example.com",
            "postcode": "L1 8JQ",
        },
        visitor,
    )
    assert "check your email" in signed.lower()
    link = _link(mail.outbox[-1].body)
    assert visitor.get(link).status_code == 200  # the email's link opens a button; confirming is the POST
    thanks = post(link, None, visitor)
    assert "https://wa.me/?text=" in thanks  # the thank-you page offers the share links
    cache.clear()  # the page is kept PETITION_PAGE_CACHE_SECONDS (5 s): as if they ran out
    page = visitor.get(page_path).content.decode()
    assert _shown_count(page) == counted_before + 1
    assert "North West" in page  # the visitor's region now shows in the chart

    opted_in = Signature.objects.filter(petition=petition, notify_by_email=True, state=SignatureState.VALIDATED)
    outbox_before = len(mail.outbox)
    post(
        reverse("petitions:staff_act", kwargs={"slug": petition.slug, "act": "response"}),
        {"responded_by": "NHS England", "summary": "We will review SDR funding.", "details": "In full."},
        staff,
    )
    page = visitor.get(page_path).content.decode()  # the moderator's change shows at once
    assert "NHS England responded" in page and "We will review SDR funding." in page
    assert opted_in.count() == 7
    assert len(mail.outbox) - outbox_before == 7  # one email to each signer who asked
