"""Each role lands on its start page after signing in and reaches every page of its menu from there."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

# What each demo login's menu must offer (labels of the header menu), and what it must not.
MENUS = {
    "guardian": ({"What needs me", "Campaigns", "Children"}, {"Ledger", "Surplus", "Reconciliation"}),
    "clinician": ({"What needs me", "Children"}, {"Ledger", "Surplus", "Programmes"}),
    "caseworker": ({"What needs me", "Children", "Staff campaigns", "Surplus", "Programmes"}, {"Ledger", "Journal"}),
    "finance1": ({"What needs me", "Reconciliation", "Ledger", "Journal", "Surplus"}, set()),
    "commissioner": ({"What needs me", "Programmes", "Children"}, {"Surplus", "Ledger"}),
    "economist": ({"What needs me", "Cost-effectiveness"}, {"Children", "Ledger"}),
    "trustee": ({"Children", "Staff campaigns", "Programmes", "Surplus", "Ledger", "Journal", "Back office"}, set()),
}


def _menu(page: Any) -> dict[str, str]:
    links = page.locator("nav[aria-label=Main] ul.menu a")
    return {links.nth(i).inner_text(): links.nth(i).get_attribute("href") for i in range(links.count())}


@pytest.mark.parametrize("username", sorted(MENUS))
def test_each_role_lands_on_its_start_page_and_reaches_its_pages(visit: Any, username: str) -> None:
    tab = visit()
    tab.sign_in(username)
    assert tab.page.url == f"{tab.base_url}/start/"
    assert tab.page.locator("h1").inner_text() == "What needs you"
    menu = _menu(tab.page)
    must, must_not = MENUS[username]
    assert must <= set(menu), f"{username}'s menu lacks {must - set(menu)}"
    assert not (must_not & set(menu)), f"{username}'s menu offers {must_not & set(menu)}"
    for label, href in menu.items():
        if href.startswith("/admin/"):
            continue  # the back office is Django's own
        tab.go("/start/")
        tab.page.locator("nav[aria-label=Main] ul.menu").get_by_role("link", name=label, exact=True).click()
        tab.page.wait_for_load_state("load")
        # the page itself, or one below it that it sends the person on to (a clinician with one centre goes
        # straight from the follow-up index to that centre's list)
        expected = f"{tab.base_url}{href}"
        assert tab.page.url == expected or (href != "/" and tab.page.url.startswith(expected)), label
        title = tab.page.title()
        assert not title.startswith(("Page not found", "You cannot open this page", "Something went wrong")), (
            f"{username}: {label} -> {title}"
        )
        assert tab.page.locator("h1").count() == 1, f"{username}: {label} has no heading"
    assert tab.foreign == []


def test_a_guardian_goes_from_the_start_page_to_the_childs_record_plan_funding_and_campaign(visit: Any) -> None:
    tab = visit()
    tab.sign_in("guardian")
    card = tab.page.locator(".card").filter(has_text="James")
    for name in ("Record", "Funding: who pays for what", "Campaign page"):
        card.get_by_role("link", name=name).click()
        tab.page.wait_for_load_state("load")
        assert tab.page.locator("h1").count() == 1, name
        tab.go("/start/")
    card.get_by_role("link", name="Care plan:", exact=False).first.click()
    tab.page.wait_for_load_state("load")
    assert "/care-plans/" in tab.page.url
    # and on: the plan links to who pays for it
    tab.page.get_by_role("link", name="Who pays for this plan", exact=False).click()
    tab.page.wait_for_load_state("load")
    assert tab.page.url.endswith("/funding/")
