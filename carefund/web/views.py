"""Pages that belong to no one area: home, each person's start page, sign in and out, health, error pages."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    from carefund.web.home import home_context

    return render(request, "web/home.html", home_context(request))


@login_required
def start(request: HttpRequest) -> HttpResponse:
    from carefund.web.start import start_page_for_user

    return render(request, "web/start.html", {"page": start_page_for_user(request.user)})


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# ------------------------------------------------------------------------------------------------ error pages
def _reason(exception: Exception | None) -> str:
    """The message a view gave its PermissionDenied or Http404, when it wrote one for people (not Django's own
    resolver dump, which is a dict)."""
    if exception is None or not exception.args or not isinstance(exception.args[0], str):
        return ""
    return exception.args[0]


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "web/errors/403.html", {"reason": _reason(exception)}, status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "web/errors/404.html", {"reason": _reason(exception)}, status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    """In the layout when the layout itself can be drawn; plain words without it when it cannot (the fault may be
    in the database the layout's menu reads)."""
    try:
        return render(request, "web/errors/500.html", status=500)
    except Exception:
        logger.exception("the 500 page could not be drawn in the layout")
        return HttpResponseServerError(loader.get_template("web/errors/500_plain.html").render())
