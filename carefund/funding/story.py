"""The seed story, played with real dates through the real services only (`carefund story`, `carefund demo`).

The story is written as it first happened, from April 2015 (below), and is played from a start date that keeps
its events' order and spacing: by default it ends a month before today, so the demo reads true whenever it is
run (James is three when it starts; the children's ages, the eligibility windows and the surplus ranking hold
today). NHS England's request goes to the programme open on the request day: the CtE when played from 2015, the
2018 routine commissioning when played from today.

In April 2015, in the NHS England Commissioning through Evaluation era (sources.md: CtE 2014), James (3, GMFCS III,
Hythe) is recommended SDR at the Nottingham centre. The Daily Echo backs his campaign for £50,000: the plan's
£50,110 including surgery of £10,000 (care.pathways: the NHS price is not published, so £10,000 is an
assumption). Readers give £50,000. Nottingham's CtE allocation is not used up, so NHS England pays the surgery;
the waterfall is recomputed and the campaign's target drops to what the charity must pay. The surgery is done in
June 2015, the rehabilitation runs for two years, each invoice is entered, approved by a second finance officer
and paid from James's fund. In July 2017 the money left over goes, under the published surplus policy, to the
child ranked most urgent (the ranking is kept with its reasons), with two approvals; James's donors are told."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test.utils import override_settings

from carefund.care.demo import seed_care
from carefund.care.models import CarePlan, CarePlanItem, Child
from carefund.core import clock
from carefund.core.models import AuditEvent
from carefund.core.money import format_pence
from carefund.core.roles import Role
from carefund.core.services import audit_record
from carefund.funding import selectors, services, surplus
from carefund.funding.demo import seed_programmes
from carefund.funding.models import Allocation

STORY_ACTION = "story.played"
# The story as written: its dates are moved together to the start it is played from (`play_story(start=...)`).
STORY_START = dt.datetime(2015, 4, 1, 9, 0)
# The appeal raises £50,000: the all-in family target for SDR of about £50,000 (sources.md: Family fundraising targets, http://gracesfund.org/sdr.html).
RAISED_PENCE = 5_000_000
NHS_REQUEST_DAY = dt.date(2015, 4, 20)
NHS_DECISION_DAY = dt.date(2015, 4, 24)
TRANSFER_DAY = dt.date(2017, 7, 3)
# Played from today, the story's last event (the surplus transfer) is this long ago.
ENDS_BEFORE_TODAY = dt.timedelta(days=30)


def default_start(today: dt.date) -> dt.datetime:
    """The start that ends the story ENDS_BEFORE_TODAY before `today`."""
    day = today - ENDS_BEFORE_TODAY - (TRANSFER_DAY - STORY_START.date())
    return dt.datetime(day.year, day.month, day.day, STORY_START.hour, STORY_START.minute)


# The charity's own policy choices (not domain facts): a 10% contingency on what a plan still needs.
SURPLUS_CONTINGENCY_BASIS_POINTS = 1000
SURPLUS_WORDING = (
    "Every gift for a child is held in that child's restricted fund and spent only on their care plan. If more is "
    "raised than the plan needs (for example because the NHS pays for the surgery), the money left over, less a 10% "
    "contingency while treatment continues, goes to other children in urgent need of SDR, chosen by a published "
    "ranking (an eligibility window about to close, a booked surgery with a gap, time waiting, the size of the gap) "
    "and approved by two people; donors are told what happened and why. If not enough is raised, the fund pays for "
    "as much of the plan as it can, in date order. (Code of Fundraising Practice 2.7.5.)"
)
# James's gifts: Daily Echo readers and local events (fictional donors), £50,000 in all.
GIFTS: tuple[tuple[dt.date, str, str, str, int], ...] = (
    (
        dt.date(2015, 4, 3),
        "Daily Echo readers' appeal, first week",
        "echo-readers@example.org",
        "bank_transfer",
        1_250_000,
    ),
    (
        dt.date(2015, 4, 10),
        "Hythe Primary School sponsored walk",
        "hythe-primary@example.org",
        "event_takings",
        430_000,
    ),
    (dt.date(2015, 4, 17), "Folkestone Rotary Club", "rotary@example.org", "cheque", 500_000),
    (
        dt.date(2015, 4, 24),
        "Daily Echo readers' appeal, second week",
        "echo-readers@example.org",
        "bank_transfer",
        980_000,
    ),
    (dt.date(2015, 5, 1), "Hythe bake sale", "bakesale@example.org", "cash", 140_000),
    (dt.date(2015, 5, 15), "A local business", "business@example.org", "bank_transfer", 1_000_000),
    (
        dt.date(2015, 5, 29),
        "Daily Echo readers' appeal, final total",
        "echo-readers@example.org",
        "bank_transfer",
        0,  # the rest of the £50,000
    ),
)


@dataclass
class StoryEvent:
    on: dt.date
    text: str


@dataclass
class StoryResult:
    events: list[StoryEvent] = field(default_factory=list)
    children: list[dict[str, Any]] = field(default_factory=list)


def is_played() -> bool:
    return AuditEvent.objects.filter(action=STORY_ACTION).exists()


def _moment(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, 0)


def _staff(users: dict[str, Any]) -> dict[str, Any]:
    """The story's staff: the demo accounts when they exist, otherwise people who cannot sign in."""
    wanted = {
        "caseworker": Role.CASEWORKER,
        "finance1": Role.FINANCE_OFFICER,
        "finance2": Role.FINANCE_OFFICER,
        "commissioner": Role.COMMISSIONER,
        "trustee": Role.TRUSTEE,
    }
    staff: dict[str, Any] = {}
    for key, role in wanted.items():
        user = users.get(key)
        if user is None:
            user, created = get_user_model().objects.get_or_create(
                username=f"story-{key}", defaults={"email": f"story-{key}@carefund.invalid", "is_staff": True}
            )
            if created:
                user.set_unusable_password()
                user.save()
            user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        staff[key] = get_user_model().objects.get(pk=user.pk)  # fresh permission cache
    return staff


def _item_key(item: CarePlanItem) -> tuple[dt.date, int]:
    return (item.planned_date, item.pk)


def _programme_open_on(day: dt.date, *, candidates: tuple[Any, ...]) -> Any:
    """The NHS programme taking requests on `day` (the first of `candidates` open then)."""
    for programme in candidates:
        if programme.starts_on <= day and (programme.ends_on is None or day <= programme.ends_on):
            return programme
    raise ValueError(f"story: no NHS programme takes requests on {day}")


def play_story(*, allow_accounts: bool = False, start: dt.datetime | None = None) -> StoryResult:
    """Play the story on an empty database from `start` (default: so that it ends a month before today), every
    event moved by the same amount from the dates it was written with. Refuses (DomainError) if children already
    exist."""
    from carefund.campaigns.demo import seed_campaigns
    from carefund.campaigns.services import donation_record_offline
    from carefund.care.services import care_plan_item_transition
    from carefund.core.errors import ConflictError

    if is_played():
        raise ConflictError("story: the story has already been played in this database.")
    if Child.objects.exists():
        raise ConflictError("story: the story needs a freshly migrated, empty database (children already exist).")
    result = StoryResult()
    begin = start or default_start(clock.today())
    shift = begin.date() - STORY_START.date()

    def moved(day: dt.date) -> dt.date:
        return day + shift

    def note(day: dt.date, text: str) -> None:
        result.events.append(StoryEvent(day, text))

    # The story's donors are fictional: their emails (receipts, the surplus letter) stay in memory.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"), transaction.atomic():
        # 1 April 2015: the children, their plans and the NHS programmes.
        with clock.frozen_at(begin):
            care = seed_care(allow_accounts=allow_accounts)
            funding = seed_programmes()
            staff = _staff(care.users)
            programme = _programme_open_on(moved(NHS_REQUEST_DAY), candidates=(funding.cte, funding.nhse_2018))
            surplus.surplus_policy_publish(
                wording=SURPLUS_WORDING,
                contingency_basis_points=SURPLUS_CONTINGENCY_BASIS_POINTS,
                eligibility_policy=programme.eligibility_policy,
                actor=staff["trustee"],
            )
            james = care.children["james"]
            plan: CarePlan = care.plans["james"]
            for child_plan in care.plans.values():
                services.waterfall_recompute(care_plan=child_plan, reason="care plan made", actor=staff["caseworker"])
            note(
                clock.today(),
                f"{james.public_name}, {james.age_on(clock.today())}, GMFCS III: SDR plan at {plan.provider.name}, "
                f"{format_pence(plan.total_pence)} including surgery of "
                f"{format_pence(sum(i.cost_pence for i in plan.items.filter(category='surgery')))}.",
            )
            # The campaigns app's demo opens James's campaign with the Daily Echo and its first gifts, online
            # through the test gateway's signed webhook and offline from a sponsored walk.
            campaign = seed_campaigns(child=james, caseworker=staff["caseworker"], with_gifts=True).campaign
            services.waterfall_recompute(care_plan=plan, reason="campaign opened", actor=staff["caseworker"])
            campaign.refresh_from_db()
            note(
                clock.today(),
                f"The Daily Echo backs '{campaign.title}': target {format_pence(campaign.target_pence)}; first gifts "
                f"online and from a sponsored walk: {format_pence(selectors.raised_for_child(james))}.",
            )

        def gifts(until: dt.date | None, after: dt.date | None) -> None:
            for written_day, donor, email, kind, amount in GIFTS:
                if (until is not None and written_day > until) or (after is not None and written_day <= after):
                    continue
                day = moved(written_day)
                if amount == 0:  # the appeal's final total brings the gifts to exactly the £50,000 appealed for
                    amount = RAISED_PENCE - selectors.raised_for_child(james)
                with clock.frozen_at(_moment(day)):
                    donation_record_offline(
                        campaign=campaign,
                        amount_pence=amount,
                        kind=kind,
                        received_on=day,
                        donor_name=donor,
                        donor_email=email,
                        actor=staff["caseworker"],
                    )
                    services.waterfall_recompute(care_plan=plan, reason=f"gift from {donor}", actor=staff["caseworker"])
                    note(day, f"Gift of {format_pence(amount)} from {donor}.")

        # April 2015: the first gifts.
        gifts(until=NHS_REQUEST_DAY, after=None)

        # 20 April 2015: NHS England is asked; Nottingham's CtE allocation is not used up, so it pays the surgery.
        with clock.frozen_at(_moment(moved(NHS_REQUEST_DAY))):
            request = services.funding_request_create(programme=programme, care_plan=plan, actor=staff["caseworker"])
            note(
                clock.today(),
                f"Caseworker asks {programme.name} to fund the surgery at {plan.provider.name}: "
                f"{'eligible' if request.eligible else 'not eligible'}.",
            )
        with clock.frozen_at(_moment(moved(NHS_DECISION_DAY))):
            allocation = Allocation.objects.get(pk=request.allocation_id)
            state = selectors.allocation_state(allocation)
            reason = (
                f"Nottingham's {'CtE' if programme == funding.cte else 'NHS England'} allocation is not used up: "
                f"{allocation.procedures} procedures, "
                f"{state.used_procedures} used, {state.committed_procedures} committed."
            )
            services.funding_request_decide(request=request, approve=True, reason=reason, actor=staff["commissioner"])
            campaign.refresh_from_db()
            note(
                clock.today(),
                f"NHS England approves: {reason} The waterfall is recomputed: the NHS pays "
                f"{format_pence(campaign.nhs_covers_pence)}; the campaign's target becomes "
                f"{format_pence(campaign.target_pence)}.",
            )

        # April-May 2015: the rest of the gifts.
        gifts(until=None, after=NHS_REQUEST_DAY)

        # June 2015 to June 2017: the treatment, delivered, invoiced, approved by a second person and paid.
        items = sorted(plan.items.exclude(state="cancelled"), key=_item_key)
        number = 0
        for item in items:
            with clock.frozen_at(_moment(item.planned_date)):
                for to_state in ("booked", "delivered"):
                    care_plan_item_transition(item=item, to_state=to_state, actor=staff["caseworker"])
                item.refresh_from_db()
            if item.category == "surgery":
                note(item.planned_date, f"SDR surgery at {plan.provider.name}, paid by the NHS ({programme.name}).")
                continue
            # the charity pays what the NHS programme does not (all of it under the CtE, which paid the surgery only)
            charity_pence = selectors.item_charity_amounts(james).get(item.pk, int(item.cost_pence))
            if charity_pence <= 0:
                continue
            invoice_day = item.planned_date + dt.timedelta(days=7)
            with clock.frozen_at(_moment(invoice_day)):
                number += 1
                provider = item.provider or plan.provider
                invoice = services.invoice_enter(
                    provider=provider,
                    care_plan=plan,
                    number=f"STORY-{invoice_day:%Y}-{number:03d}",
                    issued_on=invoice_day,
                    lines=[(item, charity_pence)],
                    actor=staff["finance1"],
                )
                invoice = services.invoice_approve(invoice=invoice, actor=staff["finance2"])
                if invoice.state != "approved":
                    invoice = services.invoice_approve(invoice=invoice, actor=staff["trustee"])
                services.invoice_pay(invoice=invoice, actor=staff["finance2"])
                note(invoice_day, f"Paid {format_pence(charity_pence)} from James's fund: {item.description}.")

        # July 2017: the plan is complete; what is left goes to the child in most urgent need.
        with clock.frozen_at(_moment(moved(TRANSFER_DAY))):
            ranking = selectors.urgency_preview_for_user(user=staff["caseworker"])
            top = ranking.ranked[0] if ranking.ranked else None
            note(
                clock.today(),
                "Urgency ranking previewed: "
                + "; ".join(f"{r.rank}. {r.name} ({r.points} points: {', '.join(r.reasons)})" for r in ranking.ranked)
                + (
                    " | not ranked: " + "; ".join(f"{n}: {why}" for _, n, why in ranking.excluded)
                    if ranking.excluded
                    else ""
                ),
            )
            transfer = surplus.surplus_transfer_propose(
                source_child=james,
                actor=staff["caseworker"],
                reason="James's plan is complete and paid; NHS England paid his surgery, so the money raised for it "
                "was not needed.",
            )
            surplus.surplus_transfer_approve(transfer=transfer, actor=staff["finance2"])
            surplus.surplus_transfer_approve(transfer=transfer, actor=staff["trustee"])
            names = ", ".join(
                f"{line.recipient.public_name} {format_pence(line.amount_pence)}" for line in transfer.lines.all()
            )
            note(
                clock.today(),
                f"Surplus transfer of {format_pence(transfer.amount_pence)} approved by two people and posted: {names}"
                f"{f' (ranked first: {top.name})' if top else ''}. James's donors are emailed.",
            )
            audit_record(actor=None, action=STORY_ACTION, summary="the seed story was played")

    result.events.sort(key=lambda e: e.on)  # stable: same-day events keep the order they happened in
    for child in Child.objects.order_by("pk"):
        result.children.append({"name": child.full_name, **selectors.child_totals(child)})
    return result
