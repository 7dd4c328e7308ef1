"""The JSON API (django-ninja); an index at /api/, the OpenAPI schema at /api/openapi.json, docs at /api/docs (served
with django-ninja's own copy of Swagger UI, so they work without the internet: "ninja" is an installed app)."""

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI

from carefund.api import campaigns, care, economics, funding, ledger, petitions

api = NinjaAPI(title="carefund API", version="1", urls_namespace="api")
# The busiest endpoint first: a request's URL is matched against the patterns in this order (docs/benchmarks.md).
api.add_router("/petitions/", petitions.router)
api.add_router("/care/", care.router)
api.add_router("/ledger/", ledger.router)
api.add_router("/campaigns/", campaigns.router)
api.add_router("/funding/", funding.router)
api.add_router("/economics/", economics.router)


@api.get("/", url_name="index", include_in_schema=False)
def index(request: HttpRequest) -> dict[str, Any]:
    """What the API offers and where its description is, for a person or program arriving at /api/."""
    base = request.build_absolute_uri("/api/")
    return {
        "name": api.title,
        "version": api.version,
        "openapi_schema": f"{base}openapi.json",
        "docs": f"{base}docs",
    }
