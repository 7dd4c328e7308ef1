"""Response headers every page needs (docs/security.md, "Headers")."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStorePersonalMiddleware:
    """`Cache-Control: no-store, private` on every page that may hold personal or health data, so no browser cache,
    shared computer or proxy keeps a copy: every page a signed-in person sees (care plans, gifts, NHS numbers, the
    audit), every answer to a form sent (it may repeat what was typed), and the donor's own pages reached by their
    private link (NO_STORE_PATH_PREFIXES: /gifts/...). Public pages stay cacheable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            (user is not None and user.is_authenticated)
            or request.method not in ("GET", "HEAD")
            or request.path.startswith(tuple(settings.NO_STORE_PATH_PREFIXES))
        ):
            patch_cache_control(response, no_store=True, private=True)
        return response


def client_address(group: str, request: HttpRequest) -> str:
    """The client's address as the login lockouts see it (django-axes, PROXY_COUNT): the key of the page limits."""
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or ""


def is_over_limit(request: HttpRequest, *, group: str, rate: str) -> bool:
    """Count this request against `rate` ("20/h") for its address in `group`; True once the address is over it."""
    from django_ratelimit.core import is_ratelimited

    return bool(is_ratelimited(request, group=group, key=client_address, rate=rate, increment=True))
