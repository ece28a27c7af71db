"""What feature apps plug into the portal shell: navigation entries and dashboard counts.

Features register in their AppConfig.ready(), so the shell never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from .access import Action, Principal


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    action: str  # shown to principals who may do it (tenants.access)


@dataclass(frozen=True)
class DashboardCount:
    label: str
    count: Callable[[], int]


_nav: list[NavItem] = []
_counts: list[DashboardCount] = []


def register_nav(label: str, url_name: str, *, action: str = Action.VIEW) -> None:
    if any(item.url_name == url_name for item in _nav):
        return
    _nav.append(NavItem(label, url_name, action))


def register_count(label: str, count: Callable[[], int]) -> None:
    if any(item.label == label for item in _counts):
        return
    _counts.append(DashboardCount(label, count))


def nav_for(principal: Principal) -> list[NavItem]:
    return [item for item in _nav if principal.may(item.action)]


def dashboard_counts() -> list[tuple[str, int]]:
    """Counts for the current tenant. Call inside the tenant's schema."""
    return [(item.label, item.count()) for item in _counts]


register_nav("Dashboard", "dashboard")
register_nav("Members", "members", action=Action.MANAGE)
register_count("Members", lambda: get_user_model().objects.filter(is_active=True).count())
