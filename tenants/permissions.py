"""One permission rule for the tenant API: members read, operators and up write."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import Role, role_of

WRITERS = {Role.OWNER, Role.ADMIN, Role.OPERATOR}


class IsTenantMember(BasePermission):
    """Any role in this tenant (for reads, and for POSTs that only read, like search)."""

    message = "You are not a member of this organisation."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and role_of(user) is not None)


class TenantMemberPermission(IsTenantMember):
    message = "Your role in this organisation does not allow this."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or role_of(request.user) in WRITERS
