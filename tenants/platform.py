"""Bringing a local platform up: schemas migrated, public host and demo tenant present."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from . import selectors, services


@dataclass(frozen=True)
class DemoAccess:
    url: str
    email: str
    password: str


def _credentials_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def platform_prepare(*, verbosity: int = 0) -> None:
    """Migrate every schema (which writes the schedules), create the cache table
    and the public host. Idempotent."""
    call_command("migrate_schemas", interactive=False, verbosity=verbosity)
    call_command("createcachetable", verbosity=verbosity)
    services.public_tenant_ensure(domain=settings.FACET_PUBLIC_HOST)


def demo_tenant_ensure(*, port: int) -> DemoAccess:
    """Create the demo tenant the first time; later runs reuse it and its saved credentials."""
    slug = settings.FACET_DEMO_TENANT
    domain = f"{slug}.localhost"
    url = f"http://{domain}:{port}"
    path = _credentials_file()
    if selectors.tenant_get(slug=slug) is None:
        created = services.tenant_create(
            slug=slug, domain=domain, owner_email=f"owner@{slug}.example", name="Demo organisation"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"email": created.owner_email, "password": created.owner_password})
        )
        path.chmod(0o600)
    try:
        saved = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return DemoAccess(url, f"owner@{slug}.example", "(not saved: reset it in the admin)")
    return DemoAccess(url, saved["email"], saved["password"])
