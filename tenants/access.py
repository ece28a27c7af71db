"""Who is asking, and what they may do: the one permission path of portal
views and the API.

A request's *principal* is worked out once and kept on the request: a member
of the tenant with a role, or a credential that is not a user (a kiosk key)
limited to the scopes it was given. Views name the *action* they need;
``Principal.may`` answers for both kinds.

    @member_required(Action.DELETE)            # a portal view
    def media_delete(request, media_id): ...

    class MediaDetailView(TenantAPIView):      # the API: one action per method
        actions = {"GET": Action.VIEW, "DELETE": Action.DELETE}

Roles grant actions by rule: viewers view (and search), operators also add
and change, owners and admins do everything, delete and manage (members,
settings, logs) included. The role groups' Django permissions follow the
same rule (``tenants.roles``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .roles import Role, role_of


class Action(StrEnum):
    VIEW = "view"  # read the tenant's data, search it, identify
    ADD = "add"  # upload, enrol
    CHANGE = "change"
    DELETE = "delete"
    MANAGE = "manage"  # members, the tenant's settings, audit logs


_ROLE_ACTIONS: dict[Role, frozenset[str]] = {
    Role.VIEWER: frozenset({Action.VIEW}),
    Role.OPERATOR: frozenset({Action.VIEW, Action.ADD, Action.CHANGE}),
    Role.ADMIN: frozenset(Action),
    Role.OWNER: frozenset(Action),
}


@dataclass(frozen=True)
class Principal:
    """The caller of one request: a member (``user`` with a ``role``) or a
    credential that is not a user, allowed exactly its ``scopes``."""

    user: object | None = None
    role: Role | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    label: str = ""

    @property
    def is_authenticated(self) -> bool:
        return self.role is not None or bool(self.scopes)

    def may(self, action: str) -> bool:
        if self.role is not None:
            return action in _ROLE_ACTIONS[self.role]
        return action in self.scopes


ANONYMOUS = Principal()


def principal_for(request) -> Principal:
    """The request's principal, computed on first use and kept on the request.

    An authentication class that admits a non-user credential hands its
    principal over as ``request.auth.principal``; otherwise the signed-in
    user's role in the current tenant decides (one query, the first time).
    """
    cached = getattr(request, "_facet_principal", None)
    if cached is not None:
        return cached
    auth_principal = getattr(getattr(request, "auth", None), "principal", None)
    if isinstance(auth_principal, Principal):
        principal = auth_principal
    else:
        user = getattr(request, "user", None)
        role = role_of(user) if user is not None and user.is_authenticated else None
        principal = Principal(user=user, role=role) if role is not None else ANONYMOUS
    request._facet_principal = principal
    return principal


_DENIED = {
    Action.VIEW: "You are not a member of this organisation.",
    Action.ADD: "Viewers cannot add or change data.",
    Action.CHANGE: "Viewers cannot add or change data.",
    Action.DELETE: "Only owners and admins delete data.",
    Action.MANAGE: "Only owners and admins manage the organisation.",
}


def denial(action: str) -> str:
    return _DENIED.get(action, "You may not do this.")


def member_required(action: Action = Action.VIEW, message: str | None = None):
    """Portal views: sign-in first (a redirect), then the action (a 403 with the reason)."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not principal_for(request).may(action):
                raise PermissionDenied(message or denial(action))
            return view(request, *args, **kwargs)

        wrapper.required_action = action
        return wrapper

    return decorator
