"""Campaign pages, giving, the test gateway's checkout, the Stripe webhook, the donor's page and staff pages.
Thin: parse, call one service or selector, render. A campaign that is not public is a 404."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from carefund.campaigns import rules, selectors, services
from carefund.campaigns.cache import campaign_public_cache_get_or_compute
from carefund.campaigns.gateways import PaymentsUnavailableError, active_gateway, is_test_payments
from carefund.campaigns.gateways.test import TestGateway, checkout_completed_event, event_payload
from carefund.campaigns.models import Campaign, Donation, DonationStatus
from carefund.core import clock
from carefund.core.errors import DomainError, NotFoundError, PermissionDeniedError
from carefund.core.errors import ValidationError as DomainValidationError
from carefund.core.money import format_pence, parse_pounds
from carefund.funding.tasks import waterfall_recompute_after_commit
from carefund.giftaid.claim_selectors import GiftAidSplit, gift_aid_split_for_campaign
from carefund.petitions.selectors import petition_for_campaign
from carefund.web.campaigns.forms import (
    CampaignCreateForm,
    CampaignPhotoForm,
    CampaignUpdateForm,
    GiveForm,
    OfflineBatchForm,
    OfflineGiftForm,
    offline_declaration_form,
)
from carefund.web.middleware import is_over_limit

logger = logging.getLogger(__name__)


def surplus_policy_text() -> str:
    """The published surplus statement (funding's, when that app provides it), else the default statement."""
    try:
        from carefund.funding.selectors import surplus_policy_text as funding_text
    except ImportError:
        return rules.DEFAULT_SURPLUS_STATEMENT
    return funding_text() or rules.DEFAULT_SURPLUS_STATEMENT


def gift_aid_split(campaign_id: int) -> GiftAidSplit:
    """The campaign's Gift Aid: still to claim, claimed from HMRC and not yet paid, and paid (the JSON API shows the
    same split)."""
    return gift_aid_split_for_campaign(campaign_id=campaign_id)


def _public_campaign(slug: str) -> Campaign:
    try:
        return selectors.campaign_get_public(slug=slug)
    except NotFoundError:
        raise Http404("No such campaign.") from None


@dataclass(frozen=True)
class CampaignPageParts:
    """The parts of the public campaign page that may lag a few seconds, as plain picklable values: computed at
    most once per `CAMPAIGN_PAGE_CACHE_SECONDS` per campaign and server process (`campaigns.cache`; the rule is in
    docs/campaigns.md). The money raised is not among them: the page reads it live."""

    gift_aid_to_come_pence: int  # all of it: to claim, claimed and received
    gifts: tuple[dict[str, Any], ...]
    updates: tuple[selectors.PublicUpdate, ...]
    surplus_policy_text: str
    photos: tuple[selectors.PublicPhoto, ...] = ()
    supporters: int = 0  # how many people gave (selectors.supporters_count)
    # of the Gift Aid: claimed from HMRC and not yet paid, and received from HMRC
    gift_aid_claimed_pence: int = 0
    gift_aid_received_pence: int = 0
    gift_aid_to_claim_pence: int = 0
    # the campaign's petition (e.g. for SDR on the NHS), linked from the page: slug, action and count
    petition: dict[str, object] | None = None


def campaign_page_parts(campaign: Campaign) -> CampaignPageParts:
    """Compute the cacheable parts afresh (the Gift Aid query is the costly one: it grows with the gifts)."""
    split = gift_aid_split(campaign.pk)
    return CampaignPageParts(
        gift_aid_claimed_pence=split.claimed_pence,
        gift_aid_received_pence=split.paid_pence,
        gift_aid_to_claim_pence=split.to_claim_pence,
        gift_aid_to_come_pence=split.total_pence,
        gifts=tuple(
            {
                "donor": g.donor,
                "amount": format_pence(g.amount_pence),
                "message": g.message,
                "received_on": g.received_on,
            }
            for g in selectors.recent_gifts_public(campaign=campaign)
        ),
        updates=tuple(selectors.updates_public(campaign=campaign)),
        surplus_policy_text=surplus_policy_text(),
        photos=tuple(selectors.photos_public(campaign=campaign)),
        supporters=selectors.supporters_count(campaign_id=campaign.pk),
        petition=_petition_link(campaign.pk),
    )


def _petition_link(campaign_id: int) -> dict[str, object] | None:
    petition = petition_for_campaign(campaign_id=campaign_id)
    if petition is None:
        return None
    return {"slug": petition.slug, "action": petition.action, "signature_count": petition.signature_count}


def campaign_context(campaign: Campaign, request: HttpRequest) -> dict[str, Any]:
    """The campaign page's context: the money raised read live (one indexed SUM), the rest from the cache."""
    parts = campaign_public_cache_get_or_compute(campaign_id=campaign.pk, compute=lambda: campaign_page_parts(campaign))
    progress = selectors.campaign_progress(campaign=campaign, gift_aid_to_come_pence=parts.gift_aid_to_come_pence)
    url = request.build_absolute_uri(reverse("campaigns:page", kwargs={"slug": campaign.slug}))
    raised_share = min(100, progress.raised_pence * 100 // progress.target_pence) if progress.target_pence else 0
    return {
        "campaign": campaign,
        "child_name": campaign.child.public_name,
        "progress": progress,
        "raised_share": raised_share,
        "gift_aid_share": max(0, progress.percent - raised_share),
        "raised": format_pence(progress.raised_pence),
        "gift_aid": format_pence(progress.gift_aid_to_come_pence),
        "gift_aid_claimed": format_pence(parts.gift_aid_claimed_pence) if parts.gift_aid_claimed_pence else "",
        "gift_aid_received": format_pence(parts.gift_aid_received_pence) if parts.gift_aid_received_pence else "",
        "gift_aid_to_claim": format_pence(parts.gift_aid_to_claim_pence) if parts.gift_aid_to_claim_pence else "",
        "target": format_pence(progress.target_pence),
        "nhs_covers": format_pence(progress.nhs_covers_pence),
        "remaining": format_pence(progress.remaining_pence),
        "gifts": parts.gifts,
        "supporters": parts.supporters,
        "updates": parts.updates,
        "surplus_policy_text": parts.surplus_policy_text,
        "photos": parts.photos,
        "petition": parts.petition,
        "share_image_url": (
            request.build_absolute_uri(
                reverse("campaigns:photo", kwargs={"slug": campaign.slug, "token": parts.photos[0].token})
            )
            if parts.photos
            else ""
        ),
        "share_url": url,
        "can_give": campaign.state in rules.GIVING_STATES,
        "can_post_update": _may_post_update(request, campaign),
    }


def _may_post_update(request: HttpRequest, campaign: Campaign) -> bool:
    user = request.user
    return user.is_authenticated and services.campaign_may_edit_story(campaign=campaign, actor=user)


def campaign_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _public_campaign(slug)
    return render(request, "web/campaigns/page.html", campaign_context(campaign, request))


def _declaration_form(request: HttpRequest, amount_pence: int | None) -> Any:
    from carefund.giftaid.forms import DeclarationFields

    wants = request.method == "POST" and bool(request.POST.get("ga-wants_gift_aid"))
    fields = DeclarationFields(request.POST if wants else None, prefix="ga", amount_pence=amount_pence)
    fields.use_required_attribute = False  # Gift Aid is optional: the browser must not insist on its box or fields
    return fields, wants


# what a caseworker types into the offline form's declaration (the scope and date have defaults)
_DECLARATION_NAMES = ("title", "first_name", "last_name", "house_name_or_number", "address", "postcode")


def _declaration_record(donation: Donation, fields: dict[str, Any], *, declared_on: Any, actor: Any = None) -> None:
    """Record the Gift Aid declaration a declaration form's cleaned `fields` describe, made with `donation`."""
    from carefund.giftaid.services import declaration_record

    declaration_record(
        donation=donation,
        title=fields["title"],
        first_name=fields["first_name"],
        last_name=fields["last_name"],
        house_name_or_number=fields["house_name_or_number"],
        address=fields["address"],
        postcode=fields["postcode"],
        scope=fields["scope"],
        declared_on=declared_on,
        actor=actor,
    )


_TOO_MANY_GIFTS = (
    "Many gifts have been started from your connection in the last hour, so we have paused giving from it for a "
    "while. Please try again later, or contact us if you are giving for a group."
)


def give(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _public_campaign(slug)
    if campaign.state not in rules.GIVING_STATES:
        raise Http404("This campaign is not taking gifts.")
    try:
        gateway = active_gateway()
    except PaymentsUnavailableError as exc:
        # DEBUG off and no Stripe: the test gateway (whose secret is public) must never stand in for real payments
        context = {"campaign": campaign, "payments_unavailable": exc.message}
        return render(request, "web/campaigns/give.html", context, status=503)
    if request.method == "POST" and is_over_limit(request, group="give", rate=settings.GIVE_RATE_LIMIT):
        context = {"campaign": campaign, "payments_unavailable": _TOO_MANY_GIFTS}
        return render(request, "web/campaigns/give.html", context, status=429)
    form = GiveForm(request.POST or None)
    amount = None
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data.get("amount_pence")
    declaration, wants_gift_aid = _declaration_form(request, amount)
    if request.method == "POST" and form.is_valid() and (not wants_gift_aid or declaration.is_valid()):
        data = form.cleaned_data
        try:
            with transaction.atomic():
                donation = services.donation_create_pending(
                    campaign=campaign,
                    amount_pence=data["amount_pence"],
                    costs_contribution_pence=data["costs_contribution"],
                    donor_name=data["donor_name"],
                    donor_email=data["donor_email"],
                    is_anonymous=data["is_anonymous"],
                    message=data["message"],
                    gateway=gateway.name,
                )
                if wants_gift_aid:
                    _declaration_record(donation, declaration.cleaned_data, declared_on=clock.today())
            thanks = request.build_absolute_uri(reverse("campaigns:thanks", kwargs={"token": donation.receipt_token}))
            cancel = request.build_absolute_uri(reverse("campaigns:page", kwargs={"slug": campaign.slug}))
            started = services.checkout_start(donation=donation, success_url=thanks, cancel_url=cancel, gateway=gateway)
        except DomainError as exc:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, exc.message)
        else:
            return redirect(started.redirect_url)
    context = {
        "campaign": campaign,
        "form": form,
        "declaration": declaration,
        "error_forms": [f for f in (form, declaration if wants_gift_aid else None) if f is not None and f.errors],
        "min_gift": format_pence(rules.MIN_GIFT_PENCE),
        "max_gift": format_pence(rules.MAX_GIFT_PENCE),
    }
    bad = request.method == "POST" and (bool(form.errors) or bool(wants_gift_aid and declaration.errors))
    return render(request, "web/campaigns/give.html", context, status=400 if bad else 200)


def _test_gateway_or_404() -> TestGateway:
    if not is_test_payments():
        raise Http404("The test gateway is off: Stripe keys are set, or DEBUG and PAYMENTS_TEST_MODE are off.")
    gateway = active_gateway()
    assert isinstance(gateway, TestGateway)
    return gateway


def test_gateway_checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    """The test gateway's own checkout page. Paying sends a signed, Stripe-shaped event through the same webhook
    path as Stripe's (`services.webhook_receive`: verify, check, store and queue; the worker confirms the gift)."""
    gateway = _test_gateway_or_404()
    try:
        donation = selectors.donation_get_by_session(session_id=session_id)
    except NotFoundError:
        raise Http404("No such checkout.") from None
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            return redirect("campaigns:page", slug=donation.campaign.slug)
        payload = checkout_completed_event(donation, fee_pence=rules.test_gateway_fee_pence(donation.total_pence))
        # the thank-you page says the gift is being confirmed and looks again until the worker has confirmed it
        result = services.webhook_receive(payload=payload, signature_header=gateway.sign(payload), gateway=gateway)
        if result.status_code != 200:
            messages.error(request, f"The test payment was not accepted: {result.outcome}")
        return redirect("campaigns:thanks", token=donation.receipt_token)
    return render(
        request,
        "web/campaigns/test_checkout.html",
        {"donation": donation, "total": format_pence(donation.total_pence)},
    )


def thanks(request: HttpRequest, token: str) -> HttpResponse:
    try:
        donation = selectors.donation_get_by_receipt_token(token=token)
    except NotFoundError:
        raise Http404("No such gift.") from None
    from carefund.giftaid.selectors import gift_aid_due_for_donation

    confirmed = donation.status == DonationStatus.SUCCEEDED
    gift_aid = gift_aid_due_for_donation(donation=donation) if confirmed else 0
    return render(
        request,
        "web/campaigns/thanks.html",
        {
            "donation": donation,
            "confirmed": confirmed,
            "costs": format_pence(donation.costs_contribution_pence) if donation.costs_contribution_pence else "",
            "gift_aid": format_pence(gift_aid) if gift_aid else "",
            # the webhook may still be on its way, or queued for the worker: the page looks again until it is
            "pending": donation.status == DonationStatus.PENDING,
            "amount": format_pence(donation.amount_pence),
            "show_gateway_banner": donation.gateway == "test",
        },
    )


def gift_page(request: HttpRequest, token: str) -> HttpResponse:
    """The donor's page "what my gift paid for", reached through the unguessable link in the receipt."""
    from carefund.ledger.selectors import gift_unspent_pence, gift_uses

    try:
        donation = selectors.donation_get_by_receipt_token(token=token)
    except NotFoundError:
        raise Http404("No such gift.") from None
    uses: list[Any] = []
    unspent = 0
    if donation.ledger_transaction_id and donation.status == DonationStatus.SUCCEEDED:
        # the gift's money, and after a dispute the charity won, the same money given back by the provider
        sources = [donation.ledger_transaction_id, donation.reinstated_transaction_id]
        uses = [
            {"memo": u.memo, "on_date": u.on_date, "amount": format_pence(u.amount_pence)}
            for source in sources
            if source is not None
            for u in gift_uses(transaction_id=source)
        ]
        unspent = sum(gift_unspent_pence(transaction_id=source) for source in sources if source is not None)
    from carefund.giftaid.selectors import declaration_made_with, gift_aid_due_for_donation

    gift_aid = gift_aid_due_for_donation(donation=donation)
    return render(
        request,
        "web/campaigns/gift.html",
        {
            "fee": None if donation.fee_pence is None else format_pence(donation.fee_pence),
            "online": bool(donation.payment_intent_id),
            # the declaration made with this gift, which the donor may cancel here
            "declaration": declaration_made_with(donation=donation),
            "donation": donation,
            "amount": format_pence(donation.amount_pence),
            "uses": uses,
            "unspent": format_pence(unspent),
            "gift_aid": format_pence(gift_aid) if gift_aid else "",
            "refunded": format_pence(donation.refunded_pence) if donation.refunded_pence else "",
            "show_gateway_banner": donation.gateway == "test",
        },
    )


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """POST /webhooks/stripe/: the raw body and its signature go to the one webhook path (store and queue); never a
    500 for bad input."""
    try:
        result = services.webhook_receive(
            # META rather than request.headers, which builds a mapping of every header on first use
            payload=request.body,
            signature_header=request.META.get("HTTP_STRIPE_SIGNATURE", ""),
        )
    except PaymentsUnavailableError:
        # no gateway to verify with: nothing can be trusted, nothing is recorded
        return JsonResponse({"outcome": "unverified: payments are not configured on this site"}, status=400)
    except DatabaseError:
        # Not bad input: the provider should retry, and nothing was recorded (the transaction rolled back).
        return JsonResponse({"outcome": "the database is unavailable; nothing was recorded, retry later"}, status=503)
    return JsonResponse({"outcome": result.outcome}, status=result.status_code)


@require_POST
def gift_aid_cancel(request: HttpRequest, token: str) -> HttpResponse:
    """POST /gifts/<token>/gift-aid/cancel/: the donor cancels, from today, the Gift Aid declaration they made with
    this gift; the unguessable link is the authority, as for the gift's page."""
    from carefund.giftaid.services import declaration_cancel_by_donor

    try:
        donation = selectors.donation_get_by_receipt_token(token=token)
    except NotFoundError:
        raise Http404("No such gift.") from None
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that you want to cancel your Gift Aid declaration.")
    else:
        try:
            declaration = declaration_cancel_by_donor(donation=donation)
        except DomainError as exc:
            messages.error(request, f"Your Gift Aid declaration was not changed: {exc.message}.")
        else:
            cancelled_on = declaration.cancelled_on or clock.today()  # set by the cancellation
            messages.success(
                request,
                f"Your Gift Aid declaration is cancelled from {date_format(cancelled_on, 'j F Y')}. This "
                "gift and the gifts you made before then keep their Gift Aid; gifts from then on have none.",
            )
    return redirect("campaigns:gift_page", token=token)


# --- Staff pages --------------------------------------------------------------------------------------------------


def _staff_campaign(request: HttpRequest, slug: str) -> Campaign:
    try:
        return selectors.campaign_get_for_staff(user=request.user, slug=slug)
    except PermissionDeniedError:
        raise PermissionDenied("You may not see campaign gifts.") from None
    except NotFoundError:
        raise Http404("No such campaign.") from None


@login_required
def staff_campaigns(request: HttpRequest) -> HttpResponse:
    try:
        campaigns = selectors.campaigns_for_staff(user=request.user)
    except PermissionDeniedError:
        raise PermissionDenied("You may not see campaign gifts.") from None
    can_create = request.user.has_perm("campaigns.add_campaign")
    form = CampaignCreateForm(request.POST or None) if can_create else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("You may not create campaigns.")
        if form.is_valid():
            try:
                campaign = services.campaign_create(**form.cleaned_data, actor=request.user)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                # the campaign's target comes from the child's funding waterfall: set it now, not on the next
                # "Recompute now" (a campaign made after its care plan showed a target of £0.00 until then)
                waterfall_recompute_after_commit(child_id=campaign.child_id, reason="campaign created")
                messages.success(request, f"Created the draft campaign {campaign.title}.")
                return redirect("campaigns:staff_list")
    rows = [
        {
            "campaign": c,
            "next_states": [
                (state, TRANSITION_LABELS.get(state, state))
                for state in sorted(rules.ALLOWED_TRANSITIONS.get(c.state, ()))
            ],
        }
        for c in campaigns
    ]
    return render(
        request,
        "web/campaigns/staff_list.html",
        {
            "rows": rows,
            "form": form,
            "can_change": request.user.has_perm("campaigns.change_campaign"),
        },
        status=400 if form is not None and form.errors else 200,
    )


# What each button that moves a campaign to a state says.
TRANSITION_LABELS = {
    "draft": "Back to draft",
    "published": "Publish",
    "target_reached": "Mark the target reached",
    "closed": "Close",
}


@login_required
@require_POST
def staff_transition(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _staff_campaign(request, slug)
    try:
        services.campaign_transition(campaign=campaign, to_state=request.POST.get("to_state", ""), actor=request.user)
    except PermissionDeniedError:
        raise PermissionDenied("You may not change a campaign's state.") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        waterfall_recompute_after_commit(child_id=campaign.child_id, reason=f"campaign {campaign.state}")
    return redirect("campaigns:staff_list")


def campaign_photo(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """GET /campaigns/<slug>/photos/<token>.jpg: a photo of a public campaign (kept re-encoded: always a JPEG)."""
    try:
        image = selectors.photo_get_public(slug=slug, token=token)
    except NotFoundError:
        raise Http404("No such photo.") from None
    response = HttpResponse(image, content_type="image/jpeg")
    # an hour: a removed photo leaves browsers and shares soon, and its address is never reused
    response["Cache-Control"] = "public, max-age=3600"
    return response


@login_required
def campaign_photos(request: HttpRequest, slug: str) -> HttpResponse:
    """The child's family or a caseworker adds photos to the campaign's page, or removes them."""
    campaign = Campaign.objects.select_related("child").filter(slug=slug).first()
    if campaign is None or not services.campaign_may_edit_story(campaign=campaign, actor=request.user):
        raise Http404("No such campaign.")
    form = CampaignPhotoForm()
    status = 200
    if request.method == "POST" and request.POST.get("remove"):
        try:
            services.campaign_photo_remove(campaign=campaign, token=request.POST["remove"], actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "The photo is removed from the page.")
        return redirect("campaigns:photos", slug=campaign.slug)
    if request.method == "POST":
        form = CampaignPhotoForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["image"]
            try:
                if problem := rules.photo_size_problem(upload.size):  # refused before it is read into memory
                    raise DomainValidationError(problem, field="image")
                services.campaign_photo_add(
                    campaign=campaign,
                    data=upload.read(),
                    alt_text=form.cleaned_data["alt_text"],
                    caption=form.cleaned_data["caption"],
                    actor=request.user,
                )
            except DomainError as exc:
                field = exc.field if exc.field in form.fields else None
                form.add_error(field, exc.message.split(": ", 1)[-1] if field else exc.message)
            else:
                messages.success(request, "The photo is on the page.")
                return redirect("campaigns:photos", slug=campaign.slug)
        status = 400
    return render(
        request,
        "web/campaigns/photos.html",
        {
            "campaign": campaign,
            "form": form,
            "photos": selectors.photos_public(campaign=campaign),
            "room": rules.PHOTOS_PER_CAMPAIGN,
        },
        status=status,
    )


@login_required
def campaign_update_new(request: HttpRequest, slug: str) -> HttpResponse:
    """An update by the child's guardian or a caseworker."""
    campaign = Campaign.objects.select_related("child").filter(slug=slug).first()
    if campaign is None:
        raise Http404("No such campaign.")
    form = CampaignUpdateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update_post(campaign=campaign, body=form.cleaned_data["body"], actor=request.user)
        except PermissionDeniedError:
            raise Http404("No such campaign.") from None
        except DomainError as exc:
            form.add_error("body", exc.message)
        else:
            messages.success(request, "Your update is posted.")
            return redirect("campaigns:page", slug=campaign.slug)
    return render(
        request,
        "web/campaigns/update_new.html",
        {"campaign": campaign, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
def staff_gifts(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _staff_campaign(request, slug)
    from carefund.giftaid.selectors import gift_aid_due_for_donation

    gifts = selectors.gifts_for_campaign(user=request.user, campaign=campaign)
    rows: list[dict[str, Any]] = [
        {
            "gift": g,
            "gift_aid": format_pence(due) if (due := gift_aid_due_for_donation(donation=g)) else "",
            "amount": format_pence(g.amount_pence),
            "costs": format_pence(g.costs_contribution_pence) if g.costs_contribution_pence else "",
            "fee": format_pence(g.fee_pence) if g.fee_pence else "",
            "refunded": format_pence(g.refunded_pence) if g.refunded_pence else "",
            "refunded_gift": format_pence(g.refunded_gift_pence),
            "dispute_fees": format_pence(g.dispute_fees_pence) if g.dispute_fees_pence else "",
        }
        for g in gifts
    ]
    refunds = [
        r
        for r in rows
        if r["gift"].status in (DonationStatus.REFUNDED, DonationStatus.DISPUTED)
        or r["gift"].refunded_pence
        or r["gift"].dispute_fees_pence
        or r["gift"].reinstated_transaction_id
    ]
    return render(
        request,
        "web/campaigns/staff_gifts.html",
        {
            "campaign": campaign,
            "rows": rows,
            "refunds": refunds,
            "can_moderate": request.user.has_perm("campaigns.moderate_message"),
            "can_record": request.user.has_perm("campaigns.record_offline_gift"),
        },
    )


@login_required
@require_POST
def staff_moderate(request: HttpRequest, pk: int) -> HttpResponse:
    donation = Donation.objects.select_related("campaign").filter(pk=pk).first()
    if donation is None:
        raise Http404("No such gift.")
    try:
        services.donation_message_moderate(
            donation=donation, approve=request.POST.get("decision") == "approve", actor=request.user
        )
    except PermissionDeniedError:
        raise PermissionDenied("You may not moderate messages.") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("campaigns:staff_gifts", slug=donation.campaign.slug)


@login_required
def staff_offline(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _staff_campaign(request, slug)
    if not request.user.has_perm("campaigns.record_offline_gift"):
        raise PermissionDenied("You may not record offline gifts.")
    from carefund.giftaid.selectors import gift_aid_due_for_donation

    single = OfflineGiftForm(request.POST if request.POST.get("form") == "single" else None, prefix="one")
    # a Gift Aid declaration the donor made with the single gift (giftaid records it, in the same transaction)
    wants_gift_aid = request.POST.get("form") == "single" and bool(request.POST.get("ga-wants_gift_aid"))
    amount = single.cleaned_data.get("amount") if request.method == "POST" and single.is_valid() else None
    declaration = offline_declaration_form(request.POST if wants_gift_aid else None, amount_pence=amount)
    batch = OfflineBatchForm(request.POST if request.POST.get("form") == "batch" else None, prefix="batch")
    if request.method == "POST":
        try:
            if (
                request.POST.get("form") == "single"
                and single.is_valid()
                and (not wants_gift_aid or declaration.is_valid())
            ):
                d = single.cleaned_data
                if not wants_gift_aid and any(
                    request.POST.get(f"ga-{name}", "").strip() for name in _DECLARATION_NAMES
                ):
                    raise DomainValidationError(
                        "Gift Aid: the declaration's fields are filled in but its box is not ticked; tick it to record "
                        "the declaration, or clear the fields to record the gift without one.",
                        field="wants_gift_aid",
                    )
                with transaction.atomic():  # the gift and its declaration, or neither
                    gift = services.donation_record_offline(
                        campaign=campaign,
                        amount_pence=d["amount"],
                        kind=d["kind"],
                        received_on=d["received_on"],
                        donor_name=d["donor_name"],
                        donor_email=d["donor_email"],
                        reference=d["reference"],
                        actor=request.user,
                    )
                    said = ""
                    if wants_gift_aid:
                        g = declaration.cleaned_data
                        _declaration_record(gift, g, declared_on=g["declared_on"], actor=request.user)
                        due = gift_aid_due_for_donation(donation=gift)
                        said = f" with its Gift Aid declaration ({format_pence(due)} of Gift Aid to claim)"
                waterfall_recompute_after_commit(child_id=campaign.child_id, reason="an offline gift was recorded")
                messages.success(request, f"Recorded {format_pence(d['amount'])}{said}.")
                return redirect("campaigns:staff_gifts", slug=campaign.slug)
            if request.POST.get("form") == "batch" and batch.is_valid():
                d = batch.cleaned_data
                services.offline_batch_record(
                    campaign=campaign,
                    description=d["description"],
                    stated_total_pence=d["stated_total"],
                    received_on=d["received_on"],
                    lines=[services.OfflineLine(**line) for line in d["lines"]],
                    actor=request.user,
                )
                waterfall_recompute_after_commit(
                    child_id=campaign.child_id, reason="a batch of offline gifts was recorded"
                )
                messages.success(request, f"Recorded a batch of {len(d['lines'])} gifts.")
                return redirect("campaigns:staff_gifts", slug=campaign.slug)
        except DomainError as exc:
            form = single if request.POST.get("form") == "single" else batch
            form.add_error(None, exc.message)
    bad = request.method == "POST"
    return render(
        request,
        "web/campaigns/staff_offline.html",
        {"campaign": campaign, "single": single, "batch": batch, "declaration": declaration},
        status=400 if bad else 200,
    )


@login_required
def staff_reconciliation(request: HttpRequest) -> HttpResponse:
    try:
        lines = selectors.reconciliation(user=request.user)
        webhooks = selectors.webhook_queue_status(user=request.user)
    except PermissionDeniedError:
        raise PermissionDenied("You may not see the reconciliation.") from None
    rows = [
        {
            "line": line,
            "expected": format_pence(line.expected_pence),
            "ledger": format_pence(line.ledger_pence),
            "difference": format_pence(line.difference_pence),
        }
        for line in lines
    ]
    overdue_fees = []
    if webhooks.fees_overdue and request.user.has_perm("campaigns.record_fee"):
        overdue_fees = [
            {"donation": d, "total": format_pence(d.total_pence)}
            for d in selectors.fees_overdue_for_finance(user=request.user)
        ]
    more_overdue = webhooks.fees_overdue - len(overdue_fees) if overdue_fees else 0
    return render(
        request,
        "web/campaigns/staff_reconciliation.html",
        {
            "rows": rows,
            "webhooks": webhooks,
            "overdue_fees": overdue_fees,
            "more_overdue": more_overdue,
            "fee_source_max": services.FEE_SOURCE_MAX,
            "can_release": request.user.has_perm("campaigns.record_fee"),
            "test_gateway": is_test_payments(),
            "site_url": settings.SITE_URL,
        },
    )


@login_required
@require_POST
def staff_fee_record(request: HttpRequest, pk: int) -> HttpResponse:
    """A finance officer records, from the provider's own records, the fee of a gift the provider never gave."""
    if not request.user.has_perm("campaigns.record_fee"):
        raise PermissionDenied("You may not record payment fees.")
    try:
        fee = parse_pounds(request.POST.get("fee", ""), field="fee")
        services.donation_fee_record_by_hand(
            donation_id=pk, fee_pence=fee, source=request.POST.get("source", ""), actor=request.user
        )
    except PermissionDeniedError:
        raise PermissionDenied("You may not record payment fees.") from None
    except DomainError as exc:
        messages.error(request, f"Gift #{pk}: {exc.message} Nothing was recorded.")
    else:
        messages.success(request, f"Recorded the fee of gift #{pk}: {format_pence(fee)}.")
    return redirect(reverse("campaigns:staff_reconciliation") + "#fees")


@login_required
@require_POST
def staff_payout_release(request: HttpRequest, payout_id: str) -> HttpResponse:
    """A finance officer posts a payout held because the clearing account did not cover it, once it does."""
    if not request.user.has_perm("campaigns.record_fee"):
        raise PermissionDenied("You may not release payouts.")
    try:
        payout = services.payout_release(payout_id=payout_id, actor=request.user)
    except PermissionDeniedError:
        raise PermissionDenied("You may not release payouts.") from None
    except DomainError as exc:
        messages.error(request, f"Payout {payout_id}: {exc.message} Nothing was posted.")
    else:
        messages.success(request, f"Posted payout {payout_id} of {format_pence(payout.amount_pence)} to the bank.")
    return redirect(reverse("campaigns:staff_reconciliation") + "#held")


@login_required
@require_POST
def test_gateway_payout(request: HttpRequest) -> HttpResponse:
    """The test gateway pays its whole clearing balance into the bank, as a signed payout.paid event through the
    webhook path (what Stripe does every few days)."""
    from carefund.ledger import chart
    from carefund.ledger.selectors import account_balance_pence

    gateway = _test_gateway_or_404()
    if not request.user.has_perm("campaigns.view_gifts"):
        raise PermissionDenied("You may not record payouts.")
    balance = account_balance_pence(name=chart.clearing_account("test"))
    if balance <= 0:
        messages.error(request, "The test gateway's clearing balance is empty: nothing to pay out.")
        return redirect("campaigns:staff_reconciliation")
    payload = event_payload(
        event_type="payout.paid",
        data_object={
            "id": f"po_test_{secrets.token_hex(8)}",
            "object": "payout",
            "amount": balance,
            "currency": "gbp",
            "arrival_date": int(clock.now().timestamp()),
        },
    )
    result = services.webhook_receive(payload=payload, signature_header=gateway.sign(payload), gateway=gateway)
    if result.status_code == 200:
        messages.success(request, f"Test payout of {format_pence(balance)} received; it is posted in a moment.")
    else:
        messages.error(request, f"The test payout was refused: {result.outcome}")
    return redirect("campaigns:staff_reconciliation")
