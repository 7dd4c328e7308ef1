"""Response headers every page needs (docs/security.md, "Headers")."""

from __future__ import annotations

import functools
from collections.abc import Callable

import csp.middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.contrib.messages import middleware as messages_middleware
from django.contrib.messages.storage import default_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control
from django.utils.functional import SimpleLazyObject, empty


class NoStorePersonalMiddleware:
    """`Cache-Control: no-store, private` on every page that may hold personal or health data, so no browser cache,
    shared computer or proxy keeps a copy: every page a signed-in person sees (care plans, gifts, NHS numbers, the
    audit), every answer to a form sent (it may repeat what was typed), and the donor's own pages reached by their
    private link (NO_STORE_PATH_PREFIXES: /gifts/...). Public pages stay cacheable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # The method and path first: a POST (every signature) need not load the session to find the user.
        if (
            request.method not in ("GET", "HEAD")
            or request.path.startswith(tuple(settings.NO_STORE_PATH_PREFIXES))
            or getattr(getattr(request, "user", None), "is_authenticated", False)
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


_CSP_OVERRIDES = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")


@functools.cache
def _default_csp() -> tuple[str, str]:
    """The Content-Security-Policy and its report-only twin as the settings give them (built once, not per response)."""
    return build_policy(), build_policy(report_only=True)


@receiver(setting_changed)
def _forget_default_csp(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _default_csp.cache_clear()


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware, with the headers of a response that changes nothing of the policy (no nonce used, no
    `csp_update`/`csp_replace`/`csp_exempt`-style override) built once from the settings instead of per response:
    building them cost a fifth of the middleware's CPU of a signing request (docs/benchmarks.md, "Petitions"). The
    headers are the same; any other response goes through django-csp unchanged."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(getattr(response, name, None) is not None for name in _CSP_OVERRIDES)
            or getattr(response, "_csp_exempt", False)
            or getattr(response, "_csp_exempt_ro", False)
            or settings.DEBUG
        ):
            return super().process_response(request, response)
        policy, report_only = _default_csp()
        for header, value, name in (
            (HEADER, policy, "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, report_only, "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            prefixes = (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if value and header not in response and not request.path_info.startswith(tuple(prefixes)):
                response[header] = value
        request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


class MessageMiddleware(messages_middleware.MessageMiddleware):
    """Django's messages, with the storage made when a view or template first uses it: a JSON request (signing a
    petition) never does, and making the storage (its cookie signer and session backend) for every request cost
    about 3% of a signing request's CPU. A storage that was used is saved exactly as by Django's middleware."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        stored = getattr(request, "_messages", None)
        if isinstance(stored, SimpleLazyObject) and stored._wrapped is empty:
            return response  # never used: nothing to save
        return super().process_response(request, response)
