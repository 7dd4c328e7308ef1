"""The writers of campaigns, one module per concern: `campaigns` (campaigns and their story), `giving` (online gifts
and their confirmation), `reversals` (refunds and disputes), `fees`, `payouts`, `offline` and `webhooks` (the
provider's events). Callers import from here: `from carefund.campaigns import services`."""

from carefund.campaigns.services.campaigns import (
    campaign_create,
    campaign_may_edit_story,
    campaign_photo_add,
    campaign_photo_remove,
    campaign_set_target,
    campaign_transition,
    campaign_update_post,
)
from carefund.campaigns.services.fees import FEE_SOURCE_MAX, donation_fee_record_by_hand, payout_fees_record
from carefund.campaigns.services.giving import (
    CheckoutCompletion,
    checkout_start,
    checkouts_expire,
    donation_create_pending,
    donation_message_moderate,
    donation_record_succeeded,
    donations_record_succeeded,
)
from carefund.campaigns.services.offline import OfflineLine, donation_record_offline, offline_batch_record
from carefund.campaigns.services.payouts import payout_release
from carefund.campaigns.services.reversals import (
    donation_dispute_fees_record,
    donation_dispute_won,
    donation_partial_refund,
    donation_reverse,
)
from carefund.campaigns.services.webhooks import (
    checkouts_sweep,
    webhook_event_process,
    webhook_events_requeue_stale,
    webhook_receive,
)

__all__ = [
    "FEE_SOURCE_MAX",
    "CheckoutCompletion",
    "OfflineLine",
    "campaign_create",
    "campaign_may_edit_story",
    "campaign_photo_add",
    "campaign_photo_remove",
    "campaign_set_target",
    "campaign_transition",
    "campaign_update_post",
    "checkout_start",
    "checkouts_expire",
    "checkouts_sweep",
    "donation_create_pending",
    "donation_dispute_fees_record",
    "donation_dispute_won",
    "donation_fee_record_by_hand",
    "donation_message_moderate",
    "donation_partial_refund",
    "donation_record_offline",
    "donation_record_succeeded",
    "donation_reverse",
    "donations_record_succeeded",
    "offline_batch_record",
    "payout_fees_record",
    "payout_release",
    "webhook_event_process",
    "webhook_events_requeue_stale",
    "webhook_receive",
]
