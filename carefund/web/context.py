from typing import Any

from django.conf import settings
from django.http import HttpRequest

from carefund.campaigns.gateways import is_test_payments
from carefund.core.permissions import roles_of
from carefund.web.nav import nav_for_user


def site(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "charity_name": settings.CHARITY_NAME,
        "charity_number": settings.CHARITY_NUMBER,
        "user_roles": sorted(r.value for r in roles_of(user)),
        "nav_links": nav_for_user(user),
        "test_gateway_active": is_test_payments(),
    }
