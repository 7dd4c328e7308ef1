"""The header menu: one registry of entries, each shown to the people whose permissions open its page.

An entry names a URL by its name and is shown only when that name resolves, so an area whose pages are not built
yet (petitions, outcomes) can be named here, or registered by its own pages' module with `nav_register`, and
appears the day its URL exists. An entry shown to everyone needs no permission; `perms` are alternatives (any one
opens the page), so the menu never links to a page that would answer 403 or 404
(docs/adr/0040-navigation-and-start-pages.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    order: int
    perms: tuple[str, ...] = ()  # any one of these; empty: everyone
    signed_in: bool = False  # only for people signed in
    staff_only: bool = False  # the back office (Django's is_staff)


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str


_REGISTRY: dict[str, NavEntry] = {}


def nav_register(entry: NavEntry) -> None:
    """Add (or replace, by URL name) an entry of the header menu."""
    _REGISTRY[entry.url_name] = entry


for _entry in (
    NavEntry("What needs me", "start", 10, signed_in=True),
    NavEntry("Campaigns", "home", 20),
    NavEntry("Children", "care:children", 30, perms=("care.view_child",)),
    NavEntry("Staff campaigns", "campaigns:staff_list", 40, perms=("campaigns.view_campaign",)),
    NavEntry("Programmes", "funding-programmes", 50, perms=("funding.view_programme",)),
    NavEntry(
        "Surplus", "funding-surplus", 60, perms=("funding.add_surplustransfer", "funding.approve_surplustransfer")
    ),
    NavEntry("Reconciliation", "campaigns:staff_reconciliation", 70, perms=("campaigns.record_fee",)),
    NavEntry("Ledger", "ledger:balances", 80, perms=("ledger.view_account",)),
    NavEntry("Journal", "ledger:journal", 90, perms=("ledger.view_journalentry",)),
    NavEntry("Gift Aid", "giftaid:claims", 95, perms=("giftaid.view_claim",)),
    # Other areas' pages: shown only once their URL exists (issue 18 builds petitions; outcomes follows).
    NavEntry("Petitions", "petitions:list", 100),
    NavEntry("Evaluation", "outcomes:evaluation", 110, perms=("outcomes.view_evaluation",)),
    NavEntry("Follow-up", "outcomes:follow_up_index", 115, perms=("outcomes.view_follow_up",)),
    NavEntry("Cost-effectiveness", "economics:sdr", 120),
    NavEntry("Back office", "admin:index", 200, staff_only=True),
):
    nav_register(_entry)


def _visible(entry: NavEntry, user: Any) -> bool:
    signed_in = bool(user is not None and getattr(user, "is_authenticated", False))
    if (entry.signed_in or entry.perms or entry.staff_only) and not signed_in:
        return False
    if entry.staff_only and not getattr(user, "is_staff", False):
        return False
    return not entry.perms or any(user.has_perm(perm) for perm in entry.perms)


def nav_for_user(user: Any) -> list[NavLink]:
    """The header menu of `user` (anonymous included), in order; entries whose URL does not exist are left out."""
    links = []
    for entry in sorted(_REGISTRY.values(), key=lambda e: (e.order, e.label)):
        if not _visible(entry, user):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        links.append(NavLink(entry.label, url))
    return links
