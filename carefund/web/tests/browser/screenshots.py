"""`make screenshots`: the main pages of each kind of visitor at 360 and 1280 px, as PNGs in a folder (by default
docs/screenshots/), taken from a freshly loaded demo site. Run: python -m carefund.web.tests.browser.screenshots DIR"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from carefund.web.tests.browser.conftest import DESKTOP, PHONE, Visit
from carefund.web.tests.browser.pages import main_pages
from carefund.web.tests.browser.server import CHROMIUM, CHROMIUM_ARGS, demo_site

WHO = ("public", "guardian", "caseworker", "finance1", "commissioner", "economist", "trustee")


def _name(who: str, path: str, width: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
    return f"{who}--{slug}--{width}.png"


def main(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    written = 0
    with demo_site() as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for who in WHO:
            for viewport, phone in ((PHONE, True), (DESKTOP, False)):
                context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
                tab = Visit(context.new_page(), base_url)
                for path in main_pages(tab, who):
                    tab.go(path)
                    tab.page.screenshot(path=str(folder / _name(who, path, viewport["width"])), full_page=True)
                    written += 1
                context.close()
        browser.close()
    print(f"{written} screenshots in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
