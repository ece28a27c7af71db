"""Reads about tenants and members."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name

from .models import Tenant
from .roles import Role, role_of


def tenant_list() -> QuerySet[Tenant]:
    return (
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .prefetch_related("domains")
        .order_by("slug")
    )


def current_tenant() -> Tenant:
    """The tenant whose schema the connection is on.

    Requests carry it on the connection (django-tenants read it with the
    domain); tasks and commands have only the schema, and it is read for them.
    """
    tenant = connection.tenant
    if isinstance(tenant, Tenant) and tenant.schema_name == connection.schema_name:
        return tenant
    return Tenant.objects.get(schema_name=connection.schema_name)


def tenant_get(*, slug: str) -> Tenant | None:
    return Tenant.objects.exclude(schema_name=get_public_schema_name()).filter(slug=slug).first()


@dataclass(frozen=True)
class Member:
    id: int
    email: str
    role: Role | None
    is_active: bool
    last_login: object


def member_list() -> list[Member]:
    """Members of the current tenant with their roles. Call inside the tenant's schema."""
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    return [
        Member(user.pk, user.email or user.username, role_of(user), user.is_active, user.last_login)
        for user in users
    ]


def member_get(*, member_id: int):
    """A user of the current tenant, or None."""
    return get_user_model().objects.filter(pk=member_id).first()


@dataclass(frozen=True)
class MemberChange:
    at: object
    actor: str
    member: str
    what: str


def member_history(*, limit: int = 20) -> list[MemberChange]:
    """The latest member changes made in the portal (and the admin site), newest first."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    entries = (
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(get_user_model()))
        .select_related("user")
        .order_by("-action_time", "-pk")[:limit]
    )
    return [
        MemberChange(
            entry.action_time,
            entry.user.email or entry.user.username,
            entry.object_repr,
            entry.get_change_message() or entry.get_action_flag_display(),
        )
        for entry in entries
    ]
