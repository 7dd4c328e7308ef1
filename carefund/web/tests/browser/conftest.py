"""Browser tests: Playwright driving Debian's chromium against a demo site served by gunicorn (server.py).

Marked `browser`: `make test` leaves them out, `make test-browser` installs chromium and axe-core and runs them
(docs/adr/0041-browser-tests.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from carefund.web.tests.browser.server import AXE, CHROMIUM, CHROMIUM_ARGS, demo_site, missing_tools

# Playwright's sync API runs an event loop in this thread; the tests themselves never touch the database.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    missing = missing_tools()
    if missing:
        pytest.fail(f"the browser tests need {', '.join(missing)}: run `make test-browser`, which installs them")
    with demo_site() as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """A browser tab on the demo site that records every request it makes to another host."""

    page: Any
    base_url: str
    foreign: list[str] = field(default_factory=list)

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("load")
        return response

    def tap(self, locator: Any) -> None:
        """Tap what `locator` finds and wait for the page it leads to."""
        with self.page.expect_navigation():
            locator.tap()
        self.page.wait_for_load_state("load")

    def sign_in(self, username: str) -> None:
        self.go("/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", f"demo-{username}-carefund")
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("load")

    def overflow_px(self) -> int:
        """How far the page is wider than the window (0: no horizontal scrolling)."""
        return int(self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))

    def axe_serious(self) -> list[str]:
        """The serious and critical accessibility violations axe-core finds on the page, one line each."""
        self.page.add_script_tag(content=AXE.read_text())
        result = self.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        return [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]


@pytest.fixture
def visit(site_url: str, browser: Any) -> Iterator[Callable[..., Visit]]:
    contexts: list[Any] = []

    def open_tab(*, viewport: dict[str, int] = DESKTOP, phone: bool = False) -> Visit:
        # bypass_csp: the test injects axe-core into pages whatever Content-Security-Policy they send
        context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, bypass_csp=True)
        contexts.append(context)
        tab = Visit(context.new_page(), site_url)
        host = urlsplit(site_url).netloc

        def record(request: Any) -> None:
            parts = urlsplit(request.url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != host:
                tab.foreign.append(request.url)

        tab.page.on("request", record)
        return tab

    yield open_tab
    for context in contexts:
        context.close()
