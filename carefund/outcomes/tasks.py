"""Background work for the registry: remind each centre of the children due or overdue for a time point.

`carefund outcomes remind` enqueues `follow_up_remind` (run it daily from cron or a systemd timer); the task worker
sends each centre's clinicians one email with the counts and the link to their follow-up list. The email names no
child (email is not a safe place for health data): the list is behind sign-in."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django_tasks import task

from carefund.care.models import Provider
from carefund.core.services import audit_record
from carefund.outcomes.models import Enrolment
from carefund.outcomes.rules import FollowUpStatus
from carefund.outcomes.selectors import follow_up_rows


@task()
def follow_up_remind() -> int:
    """Email every centre with children due or overdue; returns the number of emails sent."""
    sent = 0
    centres = Provider.objects.filter(pk__in=Enrolment.objects.values("centre_id")).order_by("name")
    for centre in centres:
        rows = follow_up_rows(centre=centre)
        recipients = [u.email for u in centre.clinicians.all() if u.email and u.is_active]
        if not rows or not recipients:
            continue
        due = sum(1 for r in rows if r.status is FollowUpStatus.DUE)
        overdue = len(rows) - due
        link = settings.SITE_URL.rstrip("/") + reverse("outcomes:follow_up", kwargs={"centre_pk": centre.pk})
        send_mail(
            subject=f"Outcomes follow-up at {centre.name}: {due} due, {overdue} overdue",
            message=(
                f"{due} measurement visit(s) are due now and {overdue} are overdue at {centre.name}.\n\n"
                f"See who and when (sign-in needed): {link}\n\n"
                "A visit outside its window cannot count for that time point, so please book those due soon."
            ),
            from_email=None,
            recipient_list=recipients,
        )
        audit_record(
            actor=None,
            action="outcomes.follow_up_reminded",
            target=centre,
            summary=f"{due} due, {overdue} overdue",
            details={"recipients": len(recipients)},
        )
        sent += 1
    return sent
