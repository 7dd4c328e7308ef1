"""Each signed-in person's start page, "what needs me": the work waiting for them, each line a link to where it is
done, gathered from the areas' permission-checked selectors (an area a person may not act in gives nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from carefund.campaigns import selectors as campaign_selectors
from carefund.campaigns.models import CampaignState
from carefund.care import selectors as care_selectors
from carefund.core.money import format_pence
from carefund.core.permissions import is_staff_reader
from carefund.funding import selectors as funding_selectors
from carefund.giftaid import claim_selectors as giftaid_selectors
from carefund.ledger import selectors as ledger_selectors
from carefund.outcomes import selectors as outcome_selectors
from carefund.petitions import selectors as petition_selectors


@dataclass(frozen=True)
class Task:
    text: str
    url: str


@dataclass
class StartPage:
    tasks: list[Task] = field(default_factory=list)
    children: list[dict[str, Any]] = field(default_factory=list)


def _fund_links(child: Any, *, with_funding: bool) -> dict[str, Any]:
    campaign = child.campaigns.exclude(state=CampaignState.DRAFT).order_by("-created_at").first()
    return {
        "name": child.full_name,
        "record": reverse("care:child", args=[child.pk]),
        "funding": reverse("funding-child", args=[child.pk]) if with_funding else None,
        "plans": [(plan.title, reverse("care:plan", args=[plan.pk])) for plan in child.care_plans.all()],
        "campaign": reverse("campaigns:page", kwargs={"slug": campaign.slug}) if campaign else None,
    }


def _finance_tasks(user: Any) -> list[Task]:
    tasks = []
    for invoice in funding_selectors.invoices_to_approve_for_user(user=user):
        tasks.append(
            Task(
                f"Approve invoice {invoice.number} from {invoice.provider.name} for "
                f"{invoice.care_plan.child.full_name}: {format_pence(invoice.amount_pence)}",
                reverse("funding-child", args=[invoice.care_plan.child_id]),
            )
        )
    for transfer in funding_selectors.transfers_to_approve_for_user(user=user):
        tasks.append(
            Task(
                f"Approve the surplus transfer of {format_pence(transfer.amount_pence)} from "
                f"{transfer.source_child.full_name}'s fund",
                reverse("funding-surplus"),
            )
        )
    for entry in ledger_selectors.journal_entries_to_decide_for_user(user=user):
        tasks.append(Task(f"Decide the journal entry “{entry.memo}”", reverse("ledger:journal")))
    if user.has_perm("campaigns.record_fee"):
        overdue = campaign_selectors.fees_overdue_for_finance(user=user)
        if overdue:
            tasks.append(
                Task(
                    f"Record the card fee of {len(overdue)} gift{'s' if len(overdue) != 1 else ''} the payment "
                    "provider has not reported",
                    reverse("campaigns:staff_reconciliation"),
                )
            )
    return [*tasks, *_giftaid_tasks(user)]


def _giftaid_tasks(user: Any) -> list[Task]:
    """Gift Aid claims a second person must file or record HMRC's payment of, and gifts whose deadline is near."""
    tasks = []
    for claim, action in giftaid_selectors.claims_to_act_on_for_user(user=user):
        text = (
            f"Confirm the filing of Gift Aid claim {claim.pk} with HMRC (made by {claim.created_by})"
            if action == "submit"
            else f"Record HMRC's payment of Gift Aid claim {claim.pk}: {format_pence(claim.expected_pence)} expected"
        )
        tasks.append(Task(text, reverse("giftaid:claim", args=[claim.pk])))
    if user.has_perm("giftaid.add_claim"):
        near = giftaid_selectors.deadlines_near_for_user(user=user)
        if near:
            tasks.append(
                Task(
                    f"Claim Gift Aid on {len(near)} gift{'s' if len(near) != 1 else ''} whose claim deadline is "
                    "within 90 days",
                    reverse("giftaid:claims"),
                )
            )
    return tasks


def _campaign_tasks(user: Any) -> list[Task]:
    tasks = []
    if user.has_perm("campaigns.moderate_message"):
        waiting: dict[str, int] = {}
        for gift in campaign_selectors.messages_to_moderate(user=user):
            waiting[gift.campaign.slug] = waiting.get(gift.campaign.slug, 0) + 1
        for slug, count in sorted(waiting.items()):
            tasks.append(
                Task(
                    f"Read the donors' messages waiting to appear on campaign {slug}: {count}",
                    reverse("campaigns:staff_gifts", kwargs={"slug": slug}),
                )
            )
    if user.has_perm("campaigns.change_campaign"):
        for campaign in campaign_selectors.campaigns_for_staff(user=user).filter(state=CampaignState.DRAFT):
            tasks.append(
                Task(
                    f"Campaign “{campaign.title}” is a draft: publish it when it is ready",
                    reverse("campaigns:staff_list"),
                )
            )
    return tasks


def _commissioner_tasks(user: Any) -> list[Task]:
    return [
        Task(
            f"Decide {request.care_plan.child.full_name}'s request to {request.programme.name}",
            reverse("funding-programme", args=[request.programme_id]),
        )
        for request in funding_selectors.funding_requests_to_decide_for_user(user=user)
    ]


def _petition_tasks(user: Any) -> list[Task]:
    if not user.has_perm("petitions.moderate_petition"):
        return []
    tasks = [
        Task(f"Moderate the petition “{petition.action}”", reverse("petitions:staff_petition", args=[petition.slug]))
        for petition in petition_selectors.moderation_queue(user=user)[:20]
    ]
    held = petition_selectors.petitions_with_held_signatures(user=user)
    tasks += [
        Task(
            f"Review {n} held signature{'s' if n != 1 else ''} on the petition “{action}”",
            reverse("petitions:staff_petition", args=[slug]),
        )
        for slug, action, n in held
    ]
    return tasks


def _outcomes_tasks(user: Any) -> list[Task]:
    tasks = []
    if user.has_perm("outcomes.add_observation"):
        for centre in outcome_selectors.clinician_centres(user=user):
            rows = outcome_selectors.follow_up_rows(centre=centre)
            if rows:
                tasks.append(
                    Task(
                        f"{len(rows)} outcomes measurement{'s' if len(rows) != 1 else ''} due or overdue at "
                        f"{centre.name}",
                        reverse("outcomes:follow_up", kwargs={"centre_pk": centre.pk}),
                    )
                )
    if user.has_perm("outcomes.record_consent") and user.has_perm("outcomes.view_observation"):
        undecided = outcome_selectors.enrolments_for_user(user=user).filter(
            consent_given_at__isnull=True, consent_withdrawn_at__isnull=True, programme__is_synthetic=False
        )
        if not user.has_perm("outcomes.add_observation"):  # a guardian decides; clinicians see it on the page
            for enrolment in undecided:
                tasks.append(
                    Task(
                        f"Decide whether {enrolment.child.first_name}'s measurements may help the national evaluation",
                        reverse("outcomes:child", args=[enrolment.child_id]),
                    )
                )
    return tasks


def start_page_for_user(user: Any) -> StartPage:
    """The work waiting for `user`; a guardian's or clinician's own children with the links to each one's pages
    (staff reach every child through the Children page instead)."""
    page = StartPage(
        tasks=[
            *_finance_tasks(user),
            *_campaign_tasks(user),
            *_commissioner_tasks(user),
            *_petition_tasks(user),
            *_outcomes_tasks(user),
        ]
    )
    if user.has_perm("care.view_child") and not is_staff_reader(user):
        children = care_selectors.children_for_user(user=user).prefetch_related("care_plans", "campaigns")
        with_funding = user.has_perm("funding.view_waterfallrun")
        page.children = [_fund_links(child, with_funding=with_funding) for child in children[:50]]
    return page
