"""The JSON API (django-ninja); OpenAPI schema at /api/openapi.json, docs at /api/docs."""

from ninja import NinjaAPI

from carefund.api import campaigns, care, economics, funding, ledger, petitions

api = NinjaAPI(title="carefund API", version="1", urls_namespace="api")
api.add_router("/care/", care.router)
api.add_router("/ledger/", ledger.router)
api.add_router("/campaigns/", campaigns.router)
api.add_router("/funding/", funding.router)
api.add_router("/economics/", economics.router)
api.add_router("/petitions/", petitions.router)
