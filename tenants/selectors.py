"""Reads about tenants and members."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
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
