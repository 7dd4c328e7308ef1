from typing import Any

from django.conf import settings
from django.http import HttpRequest

from carefund.campaigns.gateways import is_test_payments
from carefund.core.permissions import roles_of


def site(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "charity_name": settings.CHARITY_NAME,
        "user_roles": sorted(r.value for r in roles_of(user)),
        "test_gateway_active": is_test_payments(),
    }
