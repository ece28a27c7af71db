from django.db import connection
from django_tenants.utils import get_public_schema_name

from .portal import nav_for
from .roles import role_of


def portal(request):
    """The tenant, the user's role and the navigation every portal page shows."""
    if connection.schema_name == get_public_schema_name():
        return {"tenant": None}
    user = getattr(request, "user", None)
    role = role_of(user) if user is not None and user.is_authenticated else None
    return {
        "tenant": getattr(request, "tenant", None),
        "role": role,
        "nav_items": nav_for(role) if role else [],
    }
