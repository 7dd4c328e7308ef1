"""Pure decisions of campaigns (no database): campaign states, gift amounts, messages, batches, progress."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

from carefund.core.money import format_pence

# A gift is at least £1 (issue 5) and at most a sanity maximum of £100,000 online: a larger gift is welcome, but
# by arrangement with the charity, not through a card form (a typo guard, e.g. 1000000 for 1000.00).
MIN_GIFT_PENCE = 100
MAX_GIFT_PENCE = 10_000_000
MAX_COSTS_CONTRIBUTION_PENCE = 1_000_000
MAX_MESSAGE_LENGTH = 500
# Preset amounts on the giving form (pence); the donor may type any other amount.
PRESET_AMOUNTS_PENCE = (1000, 2500, 5000, 10000)

# Campaign photos (services.campaign_photo_add, carefund/campaigns/photos.py). What a phone sends is accepted (a
# 12-megapixel JPEG is 3-8 MB); what is kept is small enough for a page read on a phone: a side of at most 1,600
# pixels, re-encoded as JPEG. More than 50 million pixels is refused before decoding (a "decompression bomb": a few
# kilobytes that decode to gigabytes). A dozen photos tell a story; a page of more loads slowly on a phone.
PHOTO_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
PHOTO_MAX_PIXELS = 50_000_000
PHOTO_MAX_SIDE = 1600
PHOTO_JPEG_QUALITY = 85
PHOTOS_PER_CAMPAIGN = 12
PHOTO_MAX_ALT_TEXT = 200
PHOTO_MAX_CAPTION = 300


def photo_size_problem(size_bytes: int) -> str | None:
    """An upload too large to be a photo carefund keeps, said with its size; checked before it is read."""
    if size_bytes <= PHOTO_MAX_UPLOAD_BYTES:
        return None
    return f"image: at most {PHOTO_MAX_UPLOAD_BYTES // 1048576} MB; this file is {size_bytes / 1048576:.1f} MB."


# The built-in test gateway charges a pretend fee so the demo shows fees as an expense, at Stripe's standard rate
# for UK cards (1.5% + 20p, https://stripe.com/gb/pricing). Demo only: a real provider's fees come with its payouts.
TEST_GATEWAY_FEE_PERCENT_TENTHS = 15  # 1.5%
TEST_GATEWAY_FEE_FIXED_PENCE = 20

DRAFT, PUBLISHED, TARGET_REACHED, CLOSED = "draft", "published", "target_reached", "closed"
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({PUBLISHED, CLOSED}),
    PUBLISHED: frozenset({TARGET_REACHED, CLOSED}),
    TARGET_REACHED: frozenset({PUBLISHED, CLOSED}),  # back to published when the target is raised again
    CLOSED: frozenset(),
}
PUBLIC_STATES = frozenset({PUBLISHED, TARGET_REACHED, CLOSED})
GIVING_STATES = frozenset({PUBLISHED, TARGET_REACHED})

_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")

# Code of Fundraising Practice 2.7.5 requires a statement of what happens to money above (or short of) the target.
# Source (sources.md: Code of Fundraising Practice 2.7.5):
# https://fundraisingregulator.org.uk/more-from-us/news/what-do-if-you-raise-more-donations-you-need-dont-raise-enough-or-cannot-achieve
DEFAULT_SURPLUS_STATEMENT = (
    "Every gift goes into this child's restricted fund and pays only for their treatment and aftercare. If more is "
    "raised than their care needs, or their treatment cannot go ahead, the charity's trustees will use what is left "
    "for another child in urgent need of the same kind of treatment, under our published surplus policy, and we will "
    "tell every donor what happened."
)


def is_whole(value: object) -> TypeGuard[int]:
    """An int that is not a bool (nor a float such as JSON's 25.0): a whole number of pence, a count, a time."""
    return isinstance(value, int) and not isinstance(value, bool)


def transition_problem(from_state: str, to_state: str) -> str | None:
    """Why a campaign may not move from one state to another; None when it may."""
    if to_state not in ALLOWED_TRANSITIONS:
        return f"state: {to_state!r} is not a campaign state; use one of {', '.join(ALLOWED_TRANSITIONS)}."
    allowed = ALLOWED_TRANSITIONS.get(from_state, frozenset())
    if to_state not in allowed:
        choices = ", ".join(sorted(allowed)) or "none (a closed campaign stays closed)"
        return f"state: a {from_state} campaign cannot become {to_state}; allowed: {choices}."
    return None


def gift_amount_problem(amount_pence: int) -> str | None:
    """Why an online gift amount is refused, in words; None when it is allowed."""
    if not is_whole(amount_pence):
        return "amount: enter a whole number of pence."
    if amount_pence < MIN_GIFT_PENCE:
        return f"amount: the smallest gift is £{MIN_GIFT_PENCE // 100}; enter £1 or more."
    if amount_pence > MAX_GIFT_PENCE:
        return (
            f"amount: the largest gift online is £{MAX_GIFT_PENCE // 100:,}; for a larger gift please contact the "
            "charity, who will arrange it with you."
        )
    return None


def costs_contribution_problem(pence: int) -> str | None:
    if not is_whole(pence) or pence < 0:
        return "costs_contribution: enter zero or a whole number of pence."
    if pence > MAX_COSTS_CONTRIBUTION_PENCE:
        return f"costs_contribution: at most £{MAX_COSTS_CONTRIBUTION_PENCE // 100:,}."
    return None


def message_problem(message: str) -> str | None:
    """A donor's message is plain text: HTML tags are refused (and every message is escaped when shown)."""
    if len(message) > MAX_MESSAGE_LENGTH:
        return f"message: at most {MAX_MESSAGE_LENGTH} characters, got {len(message)}."
    if _TAG_RE.search(message):
        return "message: plain text only; remove the HTML (anything in angle brackets such as <b> or <script>)."
    return None


def batch_problem(stated_total_pence: int, line_amounts: list[int]) -> str | None:
    """An offline batch's lines must add up to its stated total, exactly."""
    if not line_amounts:
        return "lines: a batch needs at least one line."
    for i, amount in enumerate(line_amounts):
        if not is_whole(amount) or amount <= 0:
            return f"lines[{i}].amount_pence: each line must be more than zero pence, got {amount!r}."
    total = sum(line_amounts)
    if total != stated_total_pence:
        return (
            f"lines: the lines add up to {format_pence(total)} but the batch says {format_pence(stated_total_pence)}; "
            "correct a line or the stated total so that they match."
        )
    return None


def test_gateway_fee_pence(total_pence: int) -> int:
    """The demo gateway's pretend fee (see TEST_GATEWAY_FEE_*), rounded half up, never above the gift."""
    fee = (total_pence * TEST_GATEWAY_FEE_PERCENT_TENTHS + 500) // 1000 + TEST_GATEWAY_FEE_FIXED_PENCE
    return min(fee, total_pence)


def refund_from_gift_pence(*, amount_pence: int, costs_contribution_pence: int, refunded_pence: int) -> int:
    """How much of `refunded_pence` refunded so far of a gift (its total: the gift to the child plus the
    contribution to the charity's costs) comes out of the gift to the child. The provider refunds a charge, not its
    parts, so a partial refund is shared between the two in proportion to what the donor gave to each, rounded down
    for the child's part; computed on the running total, so refunds in several steps add up to the same split and a
    refund of everything gives back exactly the gift."""
    total = amount_pence + costs_contribution_pence
    if not 0 <= refunded_pence <= total or total <= 0:
        raise ValueError(f"refunded {refunded_pence} pence of a gift of {total} pence")
    return amount_pence * refunded_pence // total


@dataclass(frozen=True)
class Progress:
    raised_pence: int
    gift_aid_to_come_pence: int
    target_pence: int
    nhs_covers_pence: int

    @property
    def percent(self) -> int:
        """Raised (with Gift Aid to come) as a whole percentage of the target, capped at 100."""
        if self.target_pence <= 0:
            return 0
        return min(100, (self.raised_pence + self.gift_aid_to_come_pence) * 100 // self.target_pence)

    @property
    def remaining_pence(self) -> int:
        return max(0, self.target_pence - self.raised_pence - self.gift_aid_to_come_pence)


def has_reached_target(*, raised_pence: int, target_pence: int) -> bool:
    return target_pence > 0 and raised_pence >= target_pence


# --- Payment events (docs/campaigns.md, "Webhooks") ------------------------------------------------------------
# What a signed event must look like before carefund stores it. The signature proves who sent it, not that its
# contents make sense (a compromised integration or a bug at the provider signs whatever it sends).

WEBHOOK_CHECKOUT_TYPES = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
WEBHOOK_DISPUTE_TYPES = frozenset(
    {"charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated"}
)
WEBHOOK_TYPES = WEBHOOK_CHECKOUT_TYPES | WEBHOOK_DISPUTE_TYPES | {"charge.refunded", "payout.paid"}
# The largest whole number a JSON number carries exactly (2^53 - 1): any amount beyond it is not an amount.
MAX_EVENT_PENCE = 2**53 - 1
# A gift's id fits the database's 64-bit integer (at most 18 digits here).
MAX_GIFT_ID_DIGITS = 18
# A dispute fee is a fixed charge (Stripe's in the UK: £20); more than £1,000 is not a fee carefund posts by itself.
DISPUTE_FEE_MAX_PENCE = 100_000
# Stripe's ids are short; 255 is the column's width.
MAX_EVENT_ID_LENGTH = 255
# Unix time of 1 January 2100: a payout's arrival date is before then.
MAX_ARRIVAL_TIMESTAMP = 4_102_444_800


def _pence_problem(obj: dict[str, object], field: str, *, least: int = 0, required: bool = True) -> str | None:
    value = obj.get(field)
    if value is None and not required:
        return None
    if not is_whole(value) or not least <= value <= MAX_EVENT_PENCE:
        return f"{field}: expected whole pence from {least} to {MAX_EVENT_PENCE}, got {value!r}."
    return None


def gift_id_in(obj: dict[str, object]) -> str | None:
    """The gift id an event names (its metadata's `donation_id`, else `client_reference_id`), unchecked."""
    metadata = obj.get("metadata")
    raw = metadata.get("donation_id") if isinstance(metadata, dict) else None
    raw = raw or obj.get("client_reference_id")
    return raw if isinstance(raw, str) else None


def _gift_id_problem(obj: dict[str, object], *, required: bool) -> str | None:
    if "metadata" in obj and obj["metadata"] is not None and not isinstance(obj["metadata"], dict):
        return "metadata: expected an object."
    raw = gift_id_in(obj)
    if raw is None:
        return "gift: the event names no carefund gift." if required else None
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_GIFT_ID_DIGITS:
        return f"gift: {raw[:40]!r} is not a carefund gift id (up to {MAX_GIFT_ID_DIGITS} digits)."
    return None


def _currency_problem(obj: dict[str, object]) -> str | None:
    if obj.get("currency") != "gbp":
        return f"currency: carefund takes gifts in pounds (gbp), not {obj.get('currency')!r}."
    return None


def _string_id_problem(obj: dict[str, object], field: str, *, required: bool) -> str | None:
    value = obj.get(field)
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_EVENT_ID_LENGTH:
        return f"{field}: expected an id of 1 to {MAX_EVENT_ID_LENGTH} characters, got {str(value)[:40]!r}."
    return None


def dispute_fees(obj: dict[str, object]) -> list[tuple[str, int]]:
    """The dispute fees a dispute object states (balance transaction id, fee in pence; a fee given back is negative),
    of the event `webhook_event_problem` has passed."""
    listed = obj.get("balance_transactions")
    return [
        (bt["id"], bt["fee"])
        for bt in (listed if isinstance(listed, list) else [])
        if isinstance(bt, dict) and bt.get("fee", 0) != 0
    ]


def _dispute_fees_problem(obj: dict[str, object]) -> str | None:
    listed = obj.get("balance_transactions", [])
    if not isinstance(listed, list):
        return "balance_transactions: expected a list."
    for bt in listed:
        if isinstance(bt, str):
            continue  # an id only: nothing to read
        if not isinstance(bt, dict):
            return f"balance_transactions: expected ids or objects, got {str(bt)[:40]!r}."
        if problem := _string_id_problem(bt, "id", required=True):
            return f"balance_transactions: {problem}"
        fee = bt.get("fee", 0)
        if not is_whole(fee) or abs(fee) > DISPUTE_FEE_MAX_PENCE:
            return f"balance_transactions: fee {repr(fee)[:40]} is not whole pence up to {DISPUTE_FEE_MAX_PENCE}."
        if fee != 0 and bt.get("currency") != "gbp":
            return f"balance_transactions: a fee in {bt.get('currency')!r}, not pounds (gbp)."
    return None


def webhook_event_problem(event_type: str, obj: dict[str, object]) -> str | None:
    """What is wrong with a verified event's `data.object` for its type (shape, bounds, currency), or None. Types
    carefund does not handle have no problem (they are answered 200 and not stored)."""
    if event_type in WEBHOOK_CHECKOUT_TYPES:
        checks = [
            _string_id_problem(obj, "id", required=True),
            _gift_id_problem(obj, required=True),
            _currency_problem(obj),
            _pence_problem(obj, "amount_total", least=1),
            _string_id_problem(obj, "payment_intent", required=False),
            None if isinstance(obj.get("payment_status", "paid"), str) else "payment_status: expected a string.",
        ]
    elif event_type == "charge.refunded":
        checks = [
            _gift_id_problem(obj, required=False),
            _string_id_problem(obj, "payment_intent", required=False),
            _currency_problem(obj),
            _pence_problem(obj, "amount", least=1),
            _pence_problem(obj, "amount_refunded", least=1),
        ]
        if not any(checks) and obj["amount_refunded"] > obj["amount"]:  # type: ignore[operator]
            checks.append(
                f"amount_refunded: {obj['amount_refunded']} pence is more than the charge of {obj['amount']} pence."
            )
    elif event_type in WEBHOOK_DISPUTE_TYPES:
        checks = [
            _gift_id_problem(obj, required=False),
            _string_id_problem(obj, "payment_intent", required=False),
            _currency_problem(obj),
            _pence_problem(obj, "amount", required=False),
            _dispute_fees_problem(obj),
        ]
    elif event_type == "payout.paid":
        arrival = obj.get("arrival_date")
        checks = [
            _string_id_problem(obj, "id", required=True),
            _currency_problem(obj),
            _pence_problem(obj, "amount", least=1),
            None
            if arrival is None or (is_whole(arrival) and 0 <= arrival <= MAX_ARRIVAL_TIMESTAMP)
            else f"arrival_date: expected a Unix time before 2100, got {str(arrival)[:40]!r}.",
        ]
    else:
        return None
    return next((problem for problem in checks if problem), None)
