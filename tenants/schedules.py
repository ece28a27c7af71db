"""Writes settings.FACET_SCHEDULES into django-q2's schedule table.

Connected to ``post_migrate``: it runs when the public schema is migrated
(`migrate_schemas`, `make run`, a deployment's migrate job), so the
schedules of the code being deployed are the ones the cluster runs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name

# Schedules whose name changed; removed so that nothing runs twice.
_RENAMED = ("Fit search sketch bases",)


def write_schedules() -> None:
    from django_q.models import Schedule

    for name, spec in settings.FACET_SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": spec["func"],
                "schedule_type": Schedule.MINUTES,
                "minutes": spec["minutes"],
                "repeats": -1,
            },
        )
    Schedule.objects.filter(name__in=_RENAMED).delete()


def write_schedules_after_migrate(sender, **kwargs) -> None:
    """post_migrate fires once per app; act once, for the last app, in the public schema."""
    from django.apps import apps

    if connection.schema_name != get_public_schema_name():
        return
    if sender is not list(apps.get_app_configs())[-1]:
        return
    write_schedules()
