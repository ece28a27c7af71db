"""Housekeeping that runs per tenant on the task queue, and the queue's own."""

from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken

from .tasks import tenant_task


@tenant_task(timeout_s=120)
def purge_expired_tokens() -> int:
    """Delete the current tenant's expired API tokens; returns how many went."""
    deleted, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted


def purge_expired_tokens_everywhere() -> int:
    """Scheduled hourly (settings.FACET_SCHEDULES): one purge task per tenant."""
    from .selectors import tenant_list

    tenants = list(tenant_list())
    for tenant in tenants:
        purge_expired_tokens.enqueue(schema_name=tenant.schema_name)
    return len(tenants)


def trim_task_results() -> int:
    """Scheduled (settings.FACET_SCHEDULES): keep the newest
    FACET_TASK_RESULTS_KEPT successful task results (the admin's "Successful
    tasks"); failures stay until handled. Returns how many went."""
    from django_q.models import Success

    keep = settings.FACET_TASK_RESULTS_KEPT
    successes = Success.objects.all()
    if keep > 0:
        newest = successes.order_by("-stopped").values_list("stopped", flat=True)
        oldest_kept = list(newest[keep - 1 : keep])
        if not oldest_kept:
            return 0
        successes = successes.filter(stopped__lt=oldest_kept[0])
    deleted, _ = successes.delete()
    return deleted
