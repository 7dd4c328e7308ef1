"""Campaigns: create, move through their states, set the target the funding waterfall computes, and the story
(updates and photos) the child's family and caseworkers tell."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.utils.text import slugify

from carefund.campaigns import photos, rules, selectors
from carefund.campaigns.cache import campaign_public_cache_invalidate
from carefund.campaigns.models import Campaign, CampaignPhoto, CampaignState, CampaignUpdate
from carefund.campaigns.services._base import require_perm
from carefund.care.models import Child
from carefund.core import clock
from carefund.core.errors import NotFoundError, PermissionDeniedError, StateTransitionError, ValidationError
from carefund.core.people import person_ref
from carefund.core.permissions import has_role
from carefund.core.roles import Role
from carefund.core.services import audit_record


@transaction.atomic
def campaign_create(
    *, child: Child, title: str, story: str = "", media_partner: str = "", slug: str = "", actor: Any
) -> Campaign:
    """A draft campaign for a child's need. Refused without the guardians' publicity consent."""
    require_perm(actor, "campaigns.add_campaign", "create a campaign")
    if not child.publicity_consent:
        raise ValidationError(
            "child: the guardians have not consented to publicity; record their consent before creating a campaign.",
            field="child",
        )
    if not title.strip():
        raise ValidationError("title: give the campaign a title.", field="title")
    base = slugify(slug or title)[:60] or "campaign"
    candidate, n = base, 1
    while Campaign.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    campaign = Campaign.objects.create(
        child=child,
        slug=candidate,
        title=title.strip(),
        story=story,
        media_partner=media_partner,
        created_at=clock.now(),
    )
    audit_record(
        actor=actor, action="campaign.create", target=campaign, summary=f"campaign for {person_ref('child', child.pk)}"
    )
    return campaign


@transaction.atomic
def campaign_transition(*, campaign: Campaign, to_state: str, actor: Any) -> Campaign:
    """Move a campaign along draft -> published -> target_reached -> closed (allowed moves only)."""
    require_perm(actor, "campaigns.change_campaign", "change a campaign's state")
    locked = Campaign.objects.select_for_update().select_related("child").get(pk=campaign.pk)
    return _transition(locked, to_state, actor)


def _transition(locked: Campaign, to_state: str, actor: Any) -> Campaign:
    problem = rules.transition_problem(locked.state, to_state)
    if problem:
        raise StateTransitionError(problem, field="state")
    if to_state == CampaignState.PUBLISHED and not locked.child.publicity_consent:
        raise ValidationError(
            "state: the guardians have not consented to publicity, so the campaign cannot be published.", field="state"
        )
    previous = locked.state
    locked.state = to_state
    if to_state == CampaignState.PUBLISHED and locked.published_at is None:
        locked.published_at = clock.now()
    locked.save(update_fields=["state", "published_at"])
    audit_record(actor=actor, action="campaign.transition", target=locked, summary=f"{previous} -> {to_state}")
    return locked


@transaction.atomic
def campaign_set_target(
    *, campaign: Campaign, target_pence: int, nhs_covers_pence: int, explanation: str, actor: Any
) -> Campaign:
    """Set what the campaign must raise and what the NHS covers (the funding waterfall calls this)."""
    for name, value in (("target_pence", target_pence), ("nhs_covers_pence", nhs_covers_pence)):
        if not rules.is_whole(value) or value < 0:
            raise ValidationError(f"{name}: must be zero or more whole pence, got {value!r}.", field=name)
    locked = Campaign.objects.select_for_update().select_related("child").get(pk=campaign.pk)
    old = (locked.target_pence, locked.nhs_covers_pence)
    locked.target_pence = target_pence
    locked.nhs_covers_pence = nhs_covers_pence
    locked.target_explanation = explanation[:500]
    locked.save(update_fields=["target_pence", "nhs_covers_pence", "target_explanation"])
    audit_record(
        actor=actor,
        action="campaign.set_target",
        target=locked,
        summary=f"target {old[0]} -> {target_pence} pence, NHS covers {old[1]} -> {nhs_covers_pence} pence",
    )
    sync_target_state(locked, actor=actor)
    campaign.target_pence, campaign.nhs_covers_pence = target_pence, nhs_covers_pence
    campaign.target_explanation, campaign.state = locked.target_explanation, locked.state
    return locked


def sync_target_state(locked: Campaign, *, actor: Any) -> None:
    reached = rules.has_reached_target(
        raised_pence=selectors.raised_pence(campaign_id=locked.pk), target_pence=locked.target_pence
    )
    if reached and locked.state == CampaignState.PUBLISHED:
        _transition(locked, CampaignState.TARGET_REACHED, actor)
    elif not reached and locked.state == CampaignState.TARGET_REACHED:
        _transition(locked, CampaignState.PUBLISHED, actor)


def campaign_may_edit_story(*, campaign: Campaign, actor: Any) -> bool:
    """The child's guardians and caseworkers post updates and photos."""
    actor_pk = getattr(actor, "pk", None)
    is_guardian = actor_pk is not None and campaign.child.guardians.filter(pk=actor_pk).exists()
    return is_guardian or has_role(actor, Role.CASEWORKER)


def _require_story_editor(campaign: Campaign, actor: Any, what: str) -> None:
    if not campaign_may_edit_story(campaign=campaign, actor=actor):
        raise PermissionDeniedError(f"only the child's family or a caseworker may {what}.")


@transaction.atomic
def campaign_update_post(*, campaign: Campaign, body: str, actor: Any) -> CampaignUpdate:
    """An update by the child's guardian or a caseworker."""
    _require_story_editor(campaign, actor, "post an update")
    if not body.strip():
        raise ValidationError("body: write the update.", field="body")
    if len(body) > 5000:
        raise ValidationError("body: at most 5,000 characters.", field="body")
    update = CampaignUpdate.objects.create(campaign=campaign, author=actor, body=body.strip(), posted_at=clock.now())
    campaign_public_cache_invalidate(campaign_id=campaign.pk)  # the page shows it (now and again on commit)
    audit_record(actor=actor, action="campaign.update_post", target=campaign, summary=body[:100])
    return update


def campaign_photo_add(
    *, campaign: Campaign, data: bytes, alt_text: str, caption: str = "", actor: Any
) -> CampaignPhoto:
    """A photo for the campaign's page, by the child's guardian or a caseworker: kept re-encoded, upright and
    without metadata (photos.prepare_photo), with a description for people who cannot see it. At most
    rules.PHOTOS_PER_CAMPAIGN a campaign (the campaign row is locked while they are counted)."""
    _require_story_editor(campaign, actor, "add a photo")
    alt_text, caption = alt_text.strip(), caption.strip()
    if not alt_text:
        raise ValidationError(
            "alt_text: say in a few words what the photo shows (read aloud to people who cannot see it).",
            field="alt_text",
        )
    for name, value, most in (
        ("alt_text", alt_text, rules.PHOTO_MAX_ALT_TEXT),
        ("caption", caption, rules.PHOTO_MAX_CAPTION),
    ):
        if len(value) > most:
            raise ValidationError(f"{name}: at most {most} characters, got {len(value)}.", field=name)
        if problem := rules.message_problem(value):
            raise ValidationError(f"{name}:{problem.split(':', 1)[1]}", field=name)
    prepared = photos.prepare_photo(data)  # before the transaction: decoding a large photo takes a moment
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if CampaignPhoto.objects.filter(campaign=campaign).count() >= rules.PHOTOS_PER_CAMPAIGN:
            raise ValidationError(
                f"image: a campaign shows at most {rules.PHOTOS_PER_CAMPAIGN} photos; remove one first.", field="image"
            )
        photo = CampaignPhoto.objects.create(
            campaign=campaign,
            token=secrets.token_urlsafe(16),
            image=prepared.jpeg,
            width=prepared.width,
            height=prepared.height,
            alt_text=alt_text,
            caption=caption,
            added_by=actor,
            added_at=clock.now(),
        )
        campaign_public_cache_invalidate(campaign_id=campaign.pk)
        audit_record(
            actor=actor,
            action="campaign.photo_add",
            target=campaign,
            summary=f"photo {photo.token[:6]}: {alt_text[:80]}",
            details={"token": photo.token, "width": photo.width, "height": photo.height, "bytes": len(prepared.jpeg)},
        )
    return photo


@transaction.atomic
def campaign_photo_remove(*, campaign: Campaign, token: str, actor: Any) -> None:
    """Take a photo off the campaign's page and delete it (its address answers 404 from then on)."""
    _require_story_editor(campaign, actor, "remove a photo")
    photo = CampaignPhoto.objects.filter(campaign=campaign, token=token).only("pk", "alt_text").first()
    if photo is None:
        raise NotFoundError("photo: this campaign has no such photo (already removed?).", field="token")
    alt_text = photo.alt_text
    photo.delete()
    campaign_public_cache_invalidate(campaign_id=campaign.pk)
    audit_record(
        actor=actor,
        action="campaign.photo_remove",
        target=campaign,
        summary=f"photo {token[:6]}: {alt_text[:80]}",
        details={"token": token},
    )
