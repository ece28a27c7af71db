"""System checks that stop `qcluster`, `run_platform` and every command on
settings that would break the task guarantees."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register("tasks")
def task_budgets_fit_the_lease(app_configs=None, **kwargs) -> list[Error]:
    """A tenant task whose budget reaches the broker's lease (Q_RETRY) would be
    handed to a second worker while the first still runs it."""
    from .tasks import registered_tasks

    lease = settings.Q_CLUSTER["retry"]
    return [
        Error(
            f"The tenant task {spec.path} may run {spec.timeout_s} s, but the broker hands a "
            f"task to another worker after Q_RETRY={lease} s.",
            hint=f"Set Q_RETRY above {spec.timeout_s} (or lower the task's budget).",
            id="tenants.E001",
        )
        for spec in registered_tasks()
        if spec.timeout_s >= lease
    ]
