"""Pure decisions of campaigns (no database): campaign states, gift amounts, messages, batches, progress."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


# The built-in test gateway charges a pretend fee so the demo shows fees as an expense. UNCONFIRMED: modelled on
# a typical UK card rate (1.5% + 20p); no source in /work/shared/domain gives a provider's fee. Demo only.
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
# Source: /work/shared/domain/sdr.md row 5.8,
# https://fundraisingregulator.org.uk/more-from-us/news/what-do-if-you-raise-more-donations-you-need-dont-raise-enough-or-cannot-achieve
DEFAULT_SURPLUS_STATEMENT = (
    "Every gift goes into this child's restricted fund and pays only for their treatment and aftercare. If more is "
    "raised than their care needs, or their treatment cannot go ahead, the charity's trustees will use what is left "
    "for another child in urgent need of the same kind of treatment, under our published surplus policy, and we will "
    "tell every donor what happened."
)


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
    if isinstance(amount_pence, bool) or not isinstance(amount_pence, int):
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
    if isinstance(pence, bool) or not isinstance(pence, int) or pence < 0:
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
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
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
