"""The main pages of each kind of visitor, found by following the demo site's own links (no ids guessed)."""

from __future__ import annotations

from typing import Any

# who (a demo login, or None for the public) -> the pages to check, as paths
MAIN_PAGES_OF = ("public", "guardian", "clinician", "caseworker", "finance1", "commissioner", "economist", "trustee")


def _hrefs(page: Any, selector: str) -> list[str]:
    links = page.locator(selector)
    return [links.nth(i).get_attribute("href") for i in range(links.count())]


def main_pages(tab: Any, who: str) -> list[str]:
    """Sign `tab` in as `who` (unless public) and list the paths of their main pages."""
    if who == "public":
        tab.go("/")
        campaign = _hrefs(tab.page, ".cards h3 a")[0]
        return ["/", campaign, f"{campaign}give/", "/economics/sdr/", "/login/"]
    tab.sign_in(who)
    paths = ["/start/", *[h for h in _hrefs(tab.page, "nav[aria-label=Main] ul.menu a") if not h.startswith("/admin/")]]
    paths += _hrefs(tab.page, ".card a")  # a guardian's or clinician's children and their pages
    if "/children/" in paths:
        tab.go("/children/")
        child = _hrefs(tab.page, "main table a")[0]
        tab.go(child)
        paths += [child, *_hrefs(tab.page, "main a[href*='/care-plans/']")[:1]]
        paths += _hrefs(tab.page, "main a[href$='/funding/']")[:1]
    if "/funding/programmes/" in paths:
        tab.go("/funding/programmes/")
        paths += _hrefs(tab.page, "main a[href^='/funding/programmes/']")[:1]
    seen: list[str] = []
    for path in paths:
        if path not in seen:
            seen.append(path)
    return seen
