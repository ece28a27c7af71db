"""Bring a deployment's database up to this release, idempotently.

Run once per release before the web tier starts (compose's `init` service,
the Kubernetes migrate Job): migrates every schema, which also writes
FACET_SCHEDULES into django-q2 (post_migrate), creates the cache table and
ensures the public tenant with its host, without which the platform admin on
FACET_PUBLIC_HOST answers 404. Running it again changes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants import services
from tenants.platform import platform_prepare


class Command(BaseCommand):
    help = "Migrate every schema, write the schedules and ensure the public host (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--public-host",
            default=None,
            help="The platform's host name (default: FACET_PUBLIC_HOST).",
        )

    def handle(self, *args, public_host, verbosity, **options):
        from django_q.models import Schedule

        host = public_host or settings.FACET_PUBLIC_HOST
        platform_prepare(verbosity=max(0, verbosity - 1))
        if host != settings.FACET_PUBLIC_HOST:
            services.public_tenant_ensure(domain=host)
        schedules = Schedule.objects.filter(name__in=settings.FACET_SCHEDULES).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Database ready: every schema migrated, {schedules} schedules, public host {host}."
            )
        )
