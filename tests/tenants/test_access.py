"""One permission path: principals, actions, the API base view and the portal decorator."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django_tenants.utils import schema_context
from rest_framework.test import APIRequestFactory, force_authenticate

from tenants.access import Action, Principal, member_required, principal_for
from tenants.api_views import TenantAPIView
from tenants.roles import Role
from tests.querycount import assert_query_count


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {"view"}),
        (Role.OPERATOR, {"view", "add", "change"}),
        (Role.ADMIN, {"view", "add", "change", "delete", "manage"}),
        (Role.OWNER, {"view", "add", "change", "delete", "manage"}),
    ],
)
def test_roles_grant_actions_by_rule(role, allowed):
    principal = Principal(role=role)
    assert {a.value for a in Action if principal.may(a)} == allowed


def test_a_credential_that_is_not_a_user_may_do_exactly_its_scopes():
    kiosk = Principal(scopes=frozenset({"attendance.frame"}), label="door kiosk")
    assert kiosk.is_authenticated
    assert kiosk.may("attendance.frame")
    assert not any(kiosk.may(action) for action in Action)


class _Echo(TenantAPIView):
    actions = {"GET": Action.VIEW, "POST": "attendance.frame"}

    def get(self, request):
        from rest_framework.response import Response

        return Response({"role": self.principal.role})

    post = get


class _KioskAuth:
    principal = Principal(scopes=frozenset({"attendance.frame"}))


def test_the_api_base_view_admits_a_scoped_credential_to_its_one_action(alpha):
    from django.contrib.auth.models import AnonymousUser

    factory = APIRequestFactory()
    view = _Echo.as_view()
    with schema_context(alpha.schema_name):
        post = factory.post("/x")
        force_authenticate(post, user=AnonymousUser(), token=_KioskAuth())
        get = factory.get("/x")
        force_authenticate(get, user=AnonymousUser(), token=_KioskAuth())
        assert view(post).status_code == 200
        assert view(get).status_code == 403


def test_a_tenant_api_view_cannot_drop_the_check():
    with pytest.raises(TypeError, match="principal check"):

        class Sneaky(TenantAPIView):
            def check_permissions(self, request):
                return None


def test_the_role_is_looked_up_once_per_request(alpha):
    with schema_context(alpha.schema_name):
        request = RequestFactory().get("/")
        request.user = alpha.user(alpha.owner)
        with assert_query_count(1):
            for _ in range(5):
                assert principal_for(request).role is Role.OWNER


def test_the_portal_decorator_redirects_strangers_and_refuses_roles(alpha):
    from django.core.exceptions import PermissionDenied

    @member_required(Action.DELETE, "Only owners and admins delete files.")
    def view(request):
        return "done"

    with schema_context(alpha.schema_name):
        from django.contrib.auth.models import AnonymousUser

        anonymous = RequestFactory().get("/")
        anonymous.user = AnonymousUser()
        assert view(anonymous).status_code == 302
        viewer = RequestFactory().get("/")
        viewer.user = alpha.user(alpha.viewer)
        with pytest.raises(PermissionDenied, match="owners and admins"):
            view(viewer)
        owner = RequestFactory().get("/")
        owner.user = alpha.user(alpha.owner)
        assert view(owner) == "done"
