"""JSON API: ledger."""

from ninja import Router

router = Router(tags=["ledger"])
