"""Background work for petitions (the one task queue, django-tasks): emails, the batch counter, response emails.

Emails are sent after the signing transaction commits; a mail server that refuses fails the task (the queue shows
it) without touching the signature."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.core.mail.message import EmailMessage
from django.db import transaction
from django.urls import reverse
from django_tasks import task

from carefund.core import clock
from carefund.petitions.counting import petition_count_refresh
from carefund.petitions.models import Petition, Signature, SignatureState

RESPONSE_BATCH = 500
CONFIRMATION_BATCH = 500


def _url(name: str, **kwargs: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, kwargs=kwargs)


def confirmation_body(signature: Signature) -> str:
    petition = signature.petition
    lines = [
        f"Dear {signature.name},",
        "",
        f'Please confirm your signature on the petition "{petition.action}" by opening this link and pressing',
        "the button on the page:",
        _url("petitions:confirm", token=signature.token),
        "",
        "Your signature counts only once you confirm it. If you did not sign, ignore this email.",
    ]
    if signature.is_creator:
        lines += [
            "",
            f"You started this petition. Once you confirm, ask {petition.sponsors_required} people to support it"
            if petition.sponsors_required
            else "You started this petition. Once you confirm, a moderator checks it before it opens.",
        ]
        if petition.sponsors_required:
            lines += [
                "by sending them this link (they confirm their email too); then a moderator checks it:",
                _url("petitions:sponsor", slug=petition.slug, token=petition.sponsor_token),
            ]
        lines += [
            "",
            "Your private page for this petition (its counts by area, to hand in): keep this link to yourself.",
            _url("petitions:creator", slug=petition.slug, token=petition.creator_token),
        ]
    lines += ["", settings.CHARITY_NAME]
    return "\n".join(lines)


@task()
def signature_confirmation_send(*, signature_id: int) -> bool:
    signature = Signature.objects.select_related("petition").filter(pk=signature_id).first()
    if signature is None or signature.state != SignatureState.PENDING or not signature.email:
        return False
    send_mail(
        subject=_confirmation_subject(signature),
        message=confirmation_body(signature),
        from_email=None,
        recipient_list=[signature.email],
    )
    return True


def _confirmation_subject(signature: Signature) -> str:
    return f"Please confirm your signature: {signature.petition.action}"


@task()
def signature_confirmations_send() -> int:
    """Email the confirmation link of every signature taken since the last batch (`confirmation_due`), up to 500 at
    a time over one mail connection, marking each as sent in the same transaction; queue the next batch if there
    may be more. Signing queues this at most once per second and server process (`signing`), so a burst of
    signers costs one task a second, not one each. A signature confirmed or invalidated meanwhile gets no email."""
    with transaction.atomic():
        batch = list(
            Signature.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("petition")
            .filter(confirmation_due=True)
            .order_by("id")[:CONFIRMATION_BATCH]
        )
        if not batch:
            return 0
        messages = [
            EmailMessage(subject=_confirmation_subject(s), body=confirmation_body(s), to=[s.email])
            for s in batch
            if s.state == SignatureState.PENDING and s.email
        ]
        if messages:
            get_connection().send_messages(messages)
        Signature.objects.filter(id__in=[s.pk for s in batch]).update(confirmation_due=False)
    if len(batch) == CONFIRMATION_BATCH:
        transaction.on_commit(lambda: signature_confirmations_send.enqueue(), robust=True)
    return len(messages)


@task()
def signature_duplicate_send(*, signature_id: int, to: str) -> bool:
    """The email a repeat signer gets (the page showed them nothing different): what to do next."""
    signature = Signature.objects.select_related("petition").filter(pk=signature_id).first()
    if signature is None or not to:
        return False
    petition = signature.petition
    lines = [
        f'Someone (probably you) tried to sign the petition "{petition.action}" again with this email address.',
        "",
        "Each person can sign once. Up to two people who live at the same address may sign from one email address.",
    ]
    if signature.state == SignatureState.PENDING and signature.email.lower() == to.lower():
        lines += [
            "",
            "Your signature is not confirmed yet. Confirm it here:",
            _url("petitions:confirm", token=signature.token),
        ]
    lines += ["", _url("petitions:page", slug=petition.slug), "", settings.CHARITY_NAME]
    send_mail(
        subject=f"You have already signed: {petition.action}",
        message="\n".join(lines),
        from_email=None,
        recipient_list=[to],
    )
    return True


@task()
def petition_count_refresh_task(*, petition_id: int) -> int:
    return petition_count_refresh(petition_id=petition_id)


@task()
def petition_response_email_batch(*, petition_id: int) -> int:
    """Email the response to the next batch of signers who asked to hear (confirmed, not yet emailed), marking
    each as emailed in the same transaction, then queue the next batch: each signer gets it once."""
    petition = Petition.objects.filter(pk=petition_id).first()
    if petition is None or petition.responded_at is None:
        return 0
    with transaction.atomic():
        batch = list(
            Signature.objects.select_for_update()
            .filter(
                petition=petition,
                notify_by_email=True,
                state=SignatureState.VALIDATED,
                response_emailed_at__isnull=True,
                anonymised_at__isnull=True,
            )
            .order_by("id")[:RESPONSE_BATCH]
        )
        if not batch:
            return 0
        body = "\n".join(
            [
                f'{petition.responded_by} has responded to the petition "{petition.action}", which you signed:',
                "",
                petition.response_summary,
                "",
                "Read the whole response:",
                _url("petitions:page", slug=petition.slug),
                "",
                settings.CHARITY_NAME,
            ]
        )
        subject = f"Response to the petition: {petition.action}"
        messages = [EmailMessage(subject=subject, body=body, to=[s.email]) for s in batch]
        get_connection().send_messages(messages)
        Signature.objects.filter(id__in=[s.pk for s in batch]).update(response_emailed_at=clock.now())
    if len(batch) == RESPONSE_BATCH:
        transaction.on_commit(lambda: petition_response_email_batch.enqueue(petition_id=petition_id), robust=True)
    return len(batch)
