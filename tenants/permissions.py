"""One permission rule for the tenant API: members read, operators and up add and
change, owners and admins delete (the same rule as the role groups, tenants.roles)."""

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
        if request.method in SAFE_METHODS:
            return True
        role = role_of(request.user)
        return role.deletes if request.method == "DELETE" else role.adds_and_changes
