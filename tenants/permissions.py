"""One permission rule for the tenant API: members read, operators and up write."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import Role, role_of

WRITERS = {Role.OWNER, Role.ADMIN, Role.OPERATOR}


class TenantMemberPermission(BasePermission):
    message = "Your role in this organisation does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        role = role_of(user)
        if role is None:
            return False
        return request.method in SAFE_METHODS or role in WRITERS
