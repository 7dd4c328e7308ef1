"""Work for the task worker: the donor's receipt, payment events, the fees of a payout, and the daily sweep."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.dispatch import Signal
from django.urls import reverse
from django_tasks import task

from carefund.campaigns.models import Donation
from carefund.core.money import format_pence

logger = logging.getLogger(__name__)


# Sent while receipts are written, with their gifts (`donations=`, a list): each receiver returns, by gift id, lines to
# add to that gift's receipt (a gift it has nothing to say about is left out), and reads what it needs for all the
# gifts at once. Apps that refer to gifts add what they know of one without campaigns importing them (giftaid: the
# declaration covering it and the Gift Aid it brings; docs/architecture.md, "Dependency rules").
receipt_lines = Signal()


def receipt_body(donation: Donation) -> str:
    """The receipt of one gift (`receipt_bodies`)."""
    return receipt_bodies([donation])[donation.pk]


def receipt_bodies(donations: list[Donation]) -> dict[int, str]:
    """The receipts of gifts, by gift id: what other apps add (`receipt_lines`) asked once for all of them."""
    extras: dict[int, list[str]] = {d.pk: [] for d in donations}
    for receiver, answer in receipt_lines.send_robust(sender=Donation, donations=donations):
        if isinstance(answer, Exception):  # the receipts go without that part rather than not at all
            for donation in donations:
                logger.error("receipt of gift #%s: %r failed", donation.pk, receiver, exc_info=answer)
            continue
        for pk, lines in (answer or {}).items():
            if lines and pk in extras:
                extras[pk] += ["", *lines]
    return {d.pk: _receipt_text(d, extras[d.pk]) for d in donations}


def _receipt_text(donation: Donation, extra: list[str]) -> str:
    link = settings.SITE_URL.rstrip("/") + reverse("campaigns:gift_page", kwargs={"token": donation.receipt_token})
    lines = [
        f"Dear {donation.donor_name or 'friend'},",
        "",
        f"Thank you for your gift of {format_pence(donation.amount_pence)} to {donation.campaign.title}.",
    ]
    if donation.costs_contribution_pence:
        lines.append(f"Thank you too for {format_pence(donation.costs_contribution_pence)} towards our costs.")
    lines.append(f"Received on {donation.received_on:%d %B %Y}, gift reference #{donation.pk}.")
    if donation.gateway == "test":
        lines += ["", "TEST PAYMENT: no real money moved. This gift was made through carefund's test gateway."]
    lines += extra
    charity = settings.CHARITY_NAME + (
        f", registered charity number {settings.CHARITY_NUMBER}" if settings.CHARITY_NUMBER else ""
    )
    lines += [
        "",
        "See what your gift paid for, at any time (this link is yours; no sign-in needed):",
        link,
        "",
        f"Questions? Reply to this email: it reaches {settings.CHARITY_EMAIL}.",
        charity,
    ]
    return "\n".join(lines)


@task()
def receipts_send(*, donation_ids: list[int]) -> int:
    """Email each gift's receipt (with the link to the donor's "what my gift paid for" page); one task for the gifts
    a batch of payment events confirmed. A failure to send one does not stop the others: the task then fails,
    naming them, as the queue shows. Returns how many were sent."""
    sent, failed = 0, []
    donations = list(
        Donation.objects.select_related("campaign").filter(pk__in=donation_ids).exclude(donor_email="").order_by("pk")
    )
    bodies = receipt_bodies(donations)
    for donation in donations:
        try:
            EmailMessage(
                subject=f"Thank you for your gift to {donation.campaign.title}",
                body=bodies[donation.pk],
                to=[donation.donor_email],
                reply_to=[settings.CHARITY_EMAIL],  # the sender is a no-reply address; replies reach people
            ).send()
            sent += 1
        except Exception:
            logger.exception("receipt of gift #%s not sent", donation.pk)
            failed.append(donation.pk)
    if failed:
        raise RuntimeError(f"the receipts of gifts {failed} could not be sent ({sent} sent)")
    return sent


@task(priority=10)  # before the other tasks (receipts, recomputations): the donors' pages wait for these
def webhook_event_apply(*, event_pk: int, attempts: int = 0) -> str:
    """Apply a stored payment event (the webhook put this task on the queue in the event's own transaction), and
    with it the others waiting (`services.webhook_event_process`)."""
    from carefund.campaigns.services import webhook_event_process

    return webhook_event_process(event_pk=event_pk, attempts=attempts)


@task()
def payout_fees_fill(*, payout_id: str) -> int:
    """Post the fees of the gifts a payout paid out, as the provider lists them; returns how many were posted. A
    failure (the provider unreachable) fails the task, which the queue shows; `carefund webhooks fees PAYOUT`
    asks again."""
    from carefund.campaigns.services import payout_fees_record

    return payout_fees_record(payout_id=payout_id).recorded


@task()
def checkouts_sweep_daily() -> str:
    """Daily (`carefund webhooks sweep`, from cron): confirm gifts whose event never arrived, requeue events whose
    task was lost, and expire test checkouts left unpaid for a day."""
    from carefund.campaigns.services import checkouts_expire, checkouts_sweep

    report = checkouts_sweep()
    expired = checkouts_expire()
    return (
        f"{report.asked} completed checkout(s) listed, {report.confirmed} gift(s) confirmed, {report.refused} "
        f"refused, {report.requeued} event(s) requeued; {expired} test checkout(s) expired"
    )
