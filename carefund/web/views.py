"""Pages that belong to no one area: home, sign in and out, health."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    from carefund.web.home import home_context

    return render(request, "web/home.html", home_context(request))


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
