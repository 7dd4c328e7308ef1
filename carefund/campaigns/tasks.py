"""Work done after commit: the donor's receipt email."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.dispatch import Signal
from django.urls import reverse
from django_tasks import task

from carefund.campaigns.models import Donation
from carefund.core.money import format_pence

logger = logging.getLogger(__name__)


# Sent while a receipt is written, with the gift (`donation=`): each receiver returns lines to add to it (or none).
# Apps that refer to gifts add what they know of one without campaigns importing them (giftaid: the declaration
# covering it and the Gift Aid it brings; docs/architecture.md, "Dependency rules").
receipt_lines = Signal()


def receipt_body(donation: Donation) -> str:
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
    for receiver, extra in receipt_lines.send_robust(sender=Donation, donation=donation):
        if isinstance(extra, Exception):  # the receipt goes without that part rather than not at all
            logger.error("receipt of gift #%s: %r failed", donation.pk, receiver, exc_info=extra)
        elif extra:
            lines += ["", *extra]
    lines += [
        "",
        "See what your gift paid for, at any time (this link is yours; no sign-in needed):",
        link,
        "",
        settings.CHARITY_NAME,
    ]
    return "\n".join(lines)


@task()
def receipt_send(*, donation_id: int) -> bool:
    """Email the receipt (with the link to the donor's "what my gift paid for" page). Returns whether it was sent."""
    donation = Donation.objects.select_related("campaign").filter(pk=donation_id).first()
    if donation is None or not donation.donor_email:
        return False
    send_mail(
        subject=f"Thank you for your gift to {donation.campaign.title}",
        message=receipt_body(donation),
        from_email=None,
        recipient_list=[donation.donor_email],
    )
    return True


@task()
def receipts_send(*, donation_ids: list[int]) -> int:
    """The receipts of a batch of gifts confirmed together (one task instead of one per gift); returns how many
    were sent. Each is sent as `receipt_send` sends it; one that fails does not stop the others, and the task then
    fails naming the gifts whose receipt was not sent (so the queue shows it)."""
    sent, failed = 0, []
    first_error: Exception | None = None
    for donation_id in donation_ids:
        try:
            sent += 1 if receipt_send.call(donation_id=donation_id) else 0
        except Exception as exc:  # e.g. the mail server refused one address
            logger.exception("the receipt of gift #%s was not sent", donation_id)
            failed.append(donation_id)
            first_error = first_error or exc
    if failed:
        raise RuntimeError(f"receipts not sent for gifts {failed} ({sent} sent)") from first_error
    return sent
