"""The base of every tenant API view: authenticated, scoped, checked.

A ``TenantAPIView`` answers only a principal of the current tenant
(``tenants.access``) allowed the action its method needs, with the check in
``check_permissions``, which subclasses may not replace: a view cannot be
written that skips it. Views name their actions per method; the default
maps reads to VIEW, POST to ADD, PUT and PATCH to CHANGE, DELETE to DELETE.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .access import Action, denial, principal_for

DEFAULT_ACTIONS = {
    "GET": Action.VIEW,
    "HEAD": Action.VIEW,
    "OPTIONS": Action.VIEW,
    "POST": Action.ADD,
    "PUT": Action.CHANGE,
    "PATCH": Action.CHANGE,
    "DELETE": Action.DELETE,
}


class TenantAPIView(APIView):
    # The principal check below is the whole permission path: a credential that
    # is not a user (a kiosk key) must pass it without being "authenticated".
    permission_classes = ()
    actions: dict[str, str] = DEFAULT_ACTIONS

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for method in ("check_permissions", "initial"):
            if method in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} overrides {method}(): tenant API views keep the "
                    "principal check (set `actions` instead)."
                )

    def check_permissions(self, request):
        principal = principal_for(request)
        if not principal.is_authenticated:
            if request.user and request.user.is_authenticated:
                raise exceptions.PermissionDenied(denial(Action.VIEW))
            raise exceptions.NotAuthenticated()
        action = self.actions.get(request.method)
        if action is None:
            raise exceptions.MethodNotAllowed(request.method)
        if not principal.may(action):
            raise exceptions.PermissionDenied(denial(action))
        self.principal = principal

    @staticmethod
    def paginator():
        return api_settings.DEFAULT_PAGINATION_CLASS()
