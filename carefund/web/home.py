"""What the home page shows. The campaigns area fills in the published campaigns."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def home_context(request: HttpRequest) -> dict[str, Any]:
    return {"campaigns": []}
