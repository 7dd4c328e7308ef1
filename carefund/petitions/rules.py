"""Pure rules of petitions: field validation, the canonical email, the household rule, rate limits, thresholds.

No database here: services load what the rules need into frozen dataclasses and apply the answer. The rules
follow UK Parliament's e-petitions service (alphagov/e-petitions) where it applies; docs/petitions.md says where."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

# e-petitions' lengths (app/models/petition_creator.rb): action 80, background 300, additional details 800.
ACTION_MAX = 80
BACKGROUND_MAX = 300
DETAILS_MAX = 800
NAME_MAX = 255
EMAIL_MAX = 254

_URL = re.compile(r"(https?:|www\.|://|\b[\w-]+\.(com|net|org|uk|io|info|biz|ru|co)\b)", re.IGNORECASE)
# A cell starting with one of these is run as a formula by a spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Standard UK postcode (after normalising: upper case, no spaces), plus BFPO numbers and GIR 0AA.
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?[0-9][ABD-HJLNP-UW-Z]{2}|BFPO[0-9]{1,4}|GIR0AA)$")

# Domains whose mailboxes ignore dots in the local part, and domains that are another's alias.
DOTLESS_DOMAINS = frozenset({"gmail.com"})
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}


class FieldError(ValueError):
    """One field's input is not allowed; `message` says what to fix, in the words the form shows."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _text(value: str, *, field: str, label: str, maximum: int, required: bool = True, multiline: bool = False) -> str:
    text = value.strip() if multiline else " ".join(value.split())
    if required and not text:
        raise FieldError(field, f"Enter {label}.")
    if len(text) > maximum:
        raise FieldError(field, f"{label[0].upper()}{label[1:]} must be {maximum} characters or fewer.")
    return text


def clean_name(value: str, *, field: str = "name", label: str = "your name") -> str:
    """A person's name: required, at most 255 characters, no web addresses, no leading `= + - @`."""
    name = _text(value, field=field, label=label, maximum=NAME_MAX)
    if _URL.search(name):
        raise FieldError(field, f"{label[0].upper()}{label[1:]} must not contain a web address.")
    if name.startswith(FORMULA_STARTS):
        raise FieldError(field, f"{label[0].upper()}{label[1:]} must not start with = + - or @.")
    return name


def clean_email(value: str, confirmation: str | None = None, *, field: str = "email") -> str:
    email = value.strip()
    if not email:
        raise FieldError(field, "Enter your email address.")
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise FieldError(field, "Enter an email address like name@example.com.")
    if confirmation is not None and confirmation.strip().lower() != email.lower():
        raise FieldError("email_confirmation", "The two email addresses are different: type the same one twice.")
    return email


def canonical_email(email: str) -> str:
    """The mailbox an address reaches: lower case, `+tags` removed, dots removed where the domain ignores them,
    domain aliases mapped (googlemail.com is gmail.com). Two addresses with one canonical form are one signer."""
    local, _, domain = email.strip().lower().rpartition("@")
    domain = DOMAIN_ALIASES.get(domain, domain)
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def email_domain(email: str) -> str:
    return canonical_email(email).rpartition("@")[2]


def normalise_postcode(value: str) -> str:
    """Upper case with spaces and punctuation removed ("sw1a 1aa" -> "SW1A1AA")."""
    return re.sub(r"[^A-Z0-9]", "", value.upper())


def format_postcode(postcode: str) -> str:
    """ "SW1A1AA" -> "SW1A 1AA" (BFPO numbers and short input are left as they are)."""
    if postcode.startswith("BFPO") or len(postcode) < 5:
        return postcode
    return f"{postcode[:-3]} {postcode[-3:]}"


def clean_postcode(value: str, *, location_code: str) -> str:
    """The normalised postcode; required for the UK (location GB), ignored elsewhere."""
    if location_code != "GB":
        return ""
    postcode = normalise_postcode(value)
    if not postcode:
        raise FieldError("postcode", "Enter your postcode (you live in the UK).")
    if not _POSTCODE.match(postcode):
        raise FieldError("postcode", "Enter a real UK postcode, like SW1A 1AA.")
    return postcode


def clean_location(value: str) -> str:
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise FieldError("location", "Choose the country where you live.")
    return code


@dataclass(frozen=True)
class PetitionText:
    action: str
    background: str
    additional_details: str


def clean_petition_text(*, action: str, background: str, additional_details: str) -> PetitionText:
    """e-petitions' lengths, and no leading formula characters (the text is exported to spreadsheets too)."""
    cleaned = PetitionText(
        action=_text(action, field="action", label="what the petition asks for", maximum=ACTION_MAX),
        background=_text(background, field="background", label="the background", maximum=BACKGROUND_MAX),
        additional_details=_text(
            additional_details,
            field="additional_details",
            label="the details",
            maximum=DETAILS_MAX,
            required=False,
            multiline=True,
        ),
    )
    for field, text in (("action", cleaned.action), ("background", cleaned.background)):
        if text.startswith(FORMULA_STARTS):
            raise FieldError(field, "Start with a word, not = + - or @.")
    return cleaned


# The household rule ----------------------------------------------------------------------------------------


class SigningOutcome(StrEnum):
    NEW = "new"  # a new signature (household slot 1 or 2)
    DUPLICATE = "duplicate"  # this person has signed already: send them a reminder, write nothing
    REFUSED = "refused"  # a third person, or a second with another postcode: write nothing


@dataclass(frozen=True)
class EarlierSignature:
    name: str
    postcode: str
    household_slot: int


@dataclass(frozen=True)
class SigningDecision:
    outcome: SigningOutcome
    household_slot: int = 0  # for NEW
    earlier: EarlierSignature | None = None  # for DUPLICATE: the person's own signature


def same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def household_decide(*, name: str, postcode: str, earlier: tuple[EarlierSignature, ...]) -> SigningDecision:
    """e-petitions' rule for signatures from one email address on one petition: the same name again is a
    duplicate; a second person may sign with a different name and the same postcode; a third is refused."""
    for sig in earlier:
        if same_name(sig.name, name):
            return SigningDecision(SigningOutcome.DUPLICATE, earlier=sig)
    if not earlier:
        return SigningDecision(SigningOutcome.NEW, household_slot=1)
    if len(earlier) == 1 and earlier[0].postcode == postcode:
        return SigningDecision(SigningOutcome.NEW, household_slot=3 - earlier[0].household_slot)
    return SigningDecision(SigningOutcome.REFUSED)


# Rate limits ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimits:
    """e-petitions' defaults (app/models/rate_limit.rb): per IP and petition, more than 1 signature in 60 s (burst)
    or more than 5 in 300 s (sustained) trips the limit; per email domain and petition, 100 in an hour (its
    trending-domain threshold) for domains not on the allowed list."""

    burst_rate: int = 1
    burst_seconds: int = 60
    sustained_rate: int = 5
    sustained_seconds: int = 300
    domain_rate: int = 100
    domain_seconds: int = 3600
    creator_rate: int = 2
    creator_seconds: int = 300
    enabled: bool = True


@dataclass(frozen=True)
class RecentSigning:
    """How many signatures (this one included) came from the signer's IP and email domain lately."""

    ip_burst: int
    ip_sustained: int
    domain_recent: int
    domain_allowed: bool


def is_suspect(*, recent: RecentSigning, limits: RateLimits) -> bool:
    """Whether signing trips a rate limit: the signature is then held for review after confirming (a shadow ban:
    the signer sees the same pages and emails as anyone)."""
    if not limits.enabled:
        return False
    if recent.ip_burst > limits.burst_rate or recent.ip_sustained > limits.sustained_rate:
        return True
    return not recent.domain_allowed and recent.domain_recent > limits.domain_rate


def creator_over_limit(*, created_recently: int, limits: RateLimits) -> bool:
    """Whether one more petition from this IP (or email domain) would exceed e-petitions' creator rate (2 per IP
    per 5 minutes; carefund applies it per email domain too, except the allowed webmail domains)."""
    return limits.enabled and created_recently >= limits.creator_rate


# Thresholds and counts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    response: int
    debate: int
    response_reached_at: dt.datetime | None
    debate_reached_at: dt.datetime | None


def thresholds_after(*, count: int, thresholds: Thresholds, now: dt.datetime) -> Thresholds:
    """Stamp a threshold when the count reaches it (keeping the first stamp) and clear it if invalidation takes
    the count back below (e-petitions' increment/decrement_signature_count!)."""
    return Thresholds(
        response=thresholds.response,
        debate=thresholds.debate,
        response_reached_at=(thresholds.response_reached_at or now) if count >= thresholds.response else None,
        debate_reached_at=(thresholds.debate_reached_at or now) if count >= thresholds.debate else None,
    )


@dataclass(frozen=True)
class Progress:
    count: int
    next_threshold: int | None  # None once the last threshold is passed
    percent: int  # 0-100 towards the next threshold (100 once all are passed)


def progress(*, count: int, response: int, debate: int) -> Progress:
    for threshold in (response, debate):
        if count < threshold:
            return Progress(count, threshold, count * 100 // threshold)
    return Progress(count, None, 100)


def closes_at(*, opened_at: dt.datetime, duration_days: int) -> dt.datetime:
    return opened_at + dt.timedelta(days=duration_days)


def is_anonymisation_due(*, ended_at: dt.datetime | None, retention_days: int, now: dt.datetime) -> bool:
    """Personal data goes `retention_days` after a petition closed or was rejected (e-petitions: 6 months)."""
    return ended_at is not None and now >= ended_at + dt.timedelta(days=retention_days)


def is_locked_by_other(
    *, locked_by_id: int | None, locked_at: dt.datetime | None, user_id: int, now: dt.datetime, lock_seconds: int
) -> bool:
    """Another moderator holds a fresh edit lock on the petition (a lock older than `lock_seconds` lapses)."""
    if locked_by_id is None or locked_by_id == user_id or locked_at is None:
        return False
    return now - locked_at < dt.timedelta(seconds=lock_seconds)
