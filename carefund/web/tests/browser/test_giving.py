"""The whole giving flow on a 360 px phone, by taps: campaign, amount, details, Gift Aid, payment, thanks."""

from __future__ import annotations

from typing import Any

import pytest

from carefund.web.tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser


def test_a_donor_gives_on_a_phone_by_taps(visit: Any) -> None:
    tab = visit(viewport=PHONE, phone=True)
    page = tab.page
    tab.go("/")
    tab.tap(page.locator(".cards h3 a").first)
    tab.tap(page.get_by_role("link", name="Give to", exact=False).first)
    assert tab.overflow_px() <= 0

    # A failed first try: the summary of errors takes the focus and the title says so.
    tab.tap(page.get_by_role("button", name="Continue to payment"))
    assert page.title().startswith("Error: ")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    summary = page.locator(".error-summary").inner_text()
    assert "Your email (for your receipt)" in summary and "email" in summary
    assert tab.overflow_px() <= 0

    page.get_by_label("£10").tap()
    page.get_by_label("Your name").tap()
    page.keyboard.type("Sam Donor")
    page.get_by_label("Your email (for your receipt)").tap()
    page.keyboard.type("sam@example.org")
    tab.tap(page.get_by_role("button", name="Continue to payment"))
    assert "Test checkout" in page.title()
    tab.tap(page.get_by_role("button", name="Pay", exact=False))
    page.wait_for_selector("text=is confirmed", timeout=15_000)
    assert "£10.00" in page.inner_text("main")
    assert tab.overflow_px() <= 0
    tab.tap(page.get_by_role("link", name="See what your gift paid for"))
    assert page.locator("h1").count() == 1
    assert tab.foreign == []
