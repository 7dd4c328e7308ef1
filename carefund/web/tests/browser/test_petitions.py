"""Petitions on a 360 px phone, by taps and typing: from the campaign to its petition, a first try with mistakes
(the summary of errors takes the focus), then signing; the petition page, the embeddable widget and a moderator's
queue pass axe-core at both widths and never scroll sideways."""

from __future__ import annotations

from typing import Any

import pytest

from carefund.web.tests.browser.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser


def test_a_supporter_finds_and_signs_the_petition_on_a_phone(visit: Any) -> None:
    tab = visit(viewport=PHONE, phone=True)
    page = tab.page
    tab.go("/")
    tab.tap(page.locator(".cards h3 a").first)  # James's campaign links to his mother's petition
    tab.tap(page.get_by_role("link", name="Fund SDR on the NHS for every child who needs it"))
    assert "signatures" in page.inner_text("main")
    assert tab.overflow_px() <= 0
    assert tab.axe_serious() == []
    tab.tap(page.get_by_role("link", name="Sign this petition"))
    assert tab.axe_serious() == []

    page.get_by_label("Full name").tap()
    page.keyboard.type("=Sam Signer")
    tab.tap(page.get_by_role("button", name="Sign"))
    assert page.title().startswith("Error: ")
    summary = page.locator(".error-summary").inner_text()
    assert "Full name: Your name must not start with = + - or @." in summary
    assert "Only British citizens or UK residents can sign" in summary
    assert tab.overflow_px() <= 0

    page.get_by_label("Full name").fill("Sam Signer")
    page.locator("#id_email").fill("sam@example.org")
    page.get_by_label("Email again (to check it)").fill("sam@example.org")
    page.get_by_label("I am a British citizen or I live in the UK").check()
    page.get_by_label("Postcode (if you live in the UK)").fill("ct21 5ab")
    tab.tap(page.get_by_role("button", name="Sign"))
    assert "check your email" in page.inner_text("h1").lower()
    assert tab.axe_serious() == []
    assert tab.foreign == []


def test_the_widget_and_the_moderators_queue_pass_axe(visit: Any) -> None:
    for viewport, phone in ((PHONE, True), (DESKTOP, False)):
        tab = visit(viewport=viewport, phone=phone)
        tab.go("/petitions/")
        href = tab.page.locator(".petition-list h2 a").first.get_attribute("href")
        tab.go(f"{href}widget/")
        assert "Sign this petition" in tab.page.inner_text("body")
        assert tab.axe_serious() == []
        tab.sign_in("trustee")
        tab.go("/staff/petitions/")
        assert tab.axe_serious() == []
        assert tab.overflow_px() <= 0
