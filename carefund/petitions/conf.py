"""Petition settings read in one place (config/settings.py documents each; docs/petitions.md "Settings")."""

from __future__ import annotations

from django.conf import settings

from carefund.petitions.rules import RateLimits


def rate_limits() -> RateLimits:
    return RateLimits(enabled=bool(getattr(settings, "PETITION_RATE_LIMITS", True)))


def thresholds_for(target: str) -> tuple[int, int]:
    table = getattr(settings, "PETITION_THRESHOLDS", {})
    response, debate = table.get(target) or table.get("default") or (10_000, 100_000)
    return int(response), int(debate)


def allowed_domains() -> frozenset[str]:
    return frozenset(d.lower() for d in getattr(settings, "PETITION_ALLOWED_EMAIL_DOMAINS", []))


def count_interval_seconds() -> float:
    return float(getattr(settings, "PETITION_COUNT_INTERVAL_SECONDS", 5))


def email_interval_seconds() -> float:
    return float(getattr(settings, "PETITION_EMAIL_INTERVAL_SECONDS", 1))


def page_cache_seconds() -> int:
    return int(getattr(settings, "PETITION_PAGE_CACHE_SECONDS", 5))


def retention_days() -> int:
    return int(getattr(settings, "PETITION_RETENTION_DAYS", 182))


def lock_seconds() -> int:
    return int(getattr(settings, "PETITION_LOCK_SECONDS", 900))


def sponsors_required() -> int:
    return int(getattr(settings, "PETITION_SPONSORS_REQUIRED", 5))


def duration_days() -> int:
    return int(getattr(settings, "PETITION_DURATION_DAYS", 182))
