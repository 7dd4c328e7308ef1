"""JSON API: economics."""

from ninja import Router

router = Router(tags=["economics"])
