"""Anonymising signers' personal data once a petition has closed (or was rejected) and the retention period has
passed (e-petitions: 6 months). The counts by area stay: each signature keeps its area codes, nothing else."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q

from carefund.core import clock
from carefund.core.services import audit_record
from carefund.petitions import conf, rules
from carefund.petitions.models import Petition, PetitionState, Signature

_ENDED = (PetitionState.CLOSED, PetitionState.REJECTED, PetitionState.HIDDEN, PetitionState.REMOVED)


@transaction.atomic
def petitions_anonymise_due(*, now: dt.datetime | None = None) -> int:
    """Remove names, emails, postcodes and IP addresses of every petition whose retention has run out; returns
    how many petitions were anonymised. Safe to run again (each petition is done once)."""
    now = now or clock.now()
    days = conf.retention_days()
    done = 0
    candidates = Petition.objects.select_for_update().filter(state__in=_ENDED, anonymised_at__isnull=True)
    for petition in candidates.filter(Q(closed_at__isnull=False) | Q(moderated_at__isnull=False)):
        ended = petition.closed_at or petition.moderated_at
        if not rules.is_anonymisation_due(ended_at=ended, retention_days=days, now=now):
            continue
        signatures = Signature.objects.filter(petition=petition, anonymised_at__isnull=True).update(
            name="",
            email="",
            canonical_email="",
            email_domain="",
            postcode="",
            ip_address=None,
            anonymised_at=now,
        )
        petition.creator_name, petition.creator_email, petition.creator_ip = "", "", None
        petition.anonymised_at = now
        petition.save(update_fields=["creator_name", "creator_email", "creator_ip", "anonymised_at"])
        audit_record(
            actor=None,
            action="petition.anonymised",
            target=petition,
            summary=f"{signatures} signatures anonymised",
            details={"signatures": signatures},
        )
        done += 1
    return done
