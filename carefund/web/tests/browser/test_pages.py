"""Every main page of every kind of visitor: no horizontal scrolling on a 360 px phone, no serious or critical
accessibility violation (axe-core) on a phone or a desktop, nothing loaded from another host."""

from __future__ import annotations

from typing import Any

import pytest

from carefund.web.tests.browser.conftest import DESKTOP, PHONE
from carefund.web.tests.browser.pages import MAIN_PAGES_OF, main_pages

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("who", MAIN_PAGES_OF)
def test_main_pages_fit_a_phone_pass_axe_and_stay_on_the_site(visit: Any, who: str) -> None:
    phone = visit(viewport=PHONE, phone=True)
    desktop = visit(viewport=DESKTOP)
    paths = main_pages(phone, who)
    if who != "public":
        desktop.sign_in(who)
    assert len(paths) >= 3, paths
    problems = []
    for path in paths:
        response = phone.go(path)
        if response is None or response.status >= 400:
            problems.append(f"{path}: answered {response.status if response else 'nothing'}")
            continue
        if (overflow := phone.overflow_px()) > 0:
            problems.append(f"{path}: {overflow} px wider than a 360 px phone")
        problems += [f"{path} at 360 px: {line}" for line in phone.axe_serious()]
        desktop.go(path)
        problems += [f"{path} at 1280 px: {line}" for line in desktop.axe_serious()]
    assert problems == [], "\n".join(problems)
    assert phone.foreign == [] and desktop.foreign == []


def test_the_api_docs_work_without_the_internet(visit: Any) -> None:
    tab = visit()
    tab.go("/api/")
    assert "/api/openapi.json" in tab.page.inner_text("body")
    tab.go("/api/docs")
    tab.page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "carefund API" in tab.page.inner_text(".swagger-ui .info .title")
    assert tab.foreign == []


def test_error_pages_are_in_the_sites_layout_and_say_what_to_do(visit: Any) -> None:
    tab = visit(viewport=PHONE, phone=True)
    response = tab.go("/no-such-page/")
    assert response.status == 404
    assert tab.page.locator("h1").inner_text() == "Page not found"
    assert tab.page.locator("nav[aria-label=Main]").count() == 1
    assert tab.page.get_by_role("link", name="See the campaigns").count() == 1

    tab.sign_in("guardian")
    response = tab.go("/ledger/")
    assert response.status == 403
    assert tab.page.locator("h1").inner_text() == "You cannot open this page"
    assert "ask the charity's administrator" in tab.page.inner_text("main")
    assert tab.page.get_by_role("link", name="Go to what needs you").count() == 1
    assert tab.overflow_px() <= 0
    assert tab.axe_serious() == []
