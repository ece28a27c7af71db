from django.db import connection
from django_tenants.utils import get_public_schema_name

from .access import principal_for
from .portal import nav_for


def portal(request):
    """The tenant, the member's role and the navigation every portal page shows."""
    if connection.schema_name == get_public_schema_name():
        return {"tenant": None}
    principal = principal_for(request)
    return {
        "tenant": getattr(request, "tenant", None),
        "role": principal.role,
        "nav_items": nav_for(principal) if principal.is_authenticated else [],
    }
