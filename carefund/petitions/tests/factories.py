"""Test data for petitions: an open petition, signatures, moderators, the shipped postcode extract."""

from __future__ import annotations

import secrets
from typing import Any

from carefund.care.tests.factories import user_with_role
from carefund.core import clock
from carefund.core.roles import Role, roles_sync
from carefund.petitions.models import Petition, PetitionState
from carefund.petitions.postcodes import load_shipped
from carefund.petitions.signing import SignatureInput


def moderator(username: str = "") -> Any:
    roles_sync()  # every role's groups with the permissions the apps declare (the moderator's among them)
    return user_with_role(Role.MODERATOR, username or None)


def make_petition(*, state: str = PetitionState.OPEN, **kwargs: Any) -> Petition:
    now = clock.now()
    defaults: dict[str, Any] = {
        "slug": f"fund-sdr-{secrets.token_hex(3)}",
        "action": "Fund SDR on the NHS for every child who needs it",
        "background": "Selective dorsal rhizotomy helps children with cerebral palsy walk.",
        "created_at": now,
        "creator_name": "Sarah Hartley",
        "creator_email": "sarah@example.org",
        "creator_token": secrets.token_urlsafe(16),
        "sponsor_token": secrets.token_urlsafe(16),
        "sponsors_required": 5,
        "duration_days": 182,
        "response_threshold": 10,
        "debate_threshold": 20,
        "state": state,
        "opened_at": now if state in (PetitionState.OPEN, PetitionState.CLOSED) else None,
    }
    defaults.update(kwargs)
    return Petition.objects.create(**defaults)


def signer(n: int = 0, **kwargs: Any) -> SignatureInput:
    data: dict[str, Any] = {
        "name": f"Signer {n}",
        "email": f"signer{n}@example.org",
        "postcode": "CT21 5AB",
        "location_code": "GB",
        "uk_citizen_or_resident": True,
        "notify_by_email": False,
    }
    data.update(kwargs)
    return SignatureInput(**data)


def postcodes() -> int:
    return load_shipped()
