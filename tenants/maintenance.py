"""Housekeeping that runs per tenant on the task queue."""

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
