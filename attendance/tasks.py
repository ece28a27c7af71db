"""The attendance app's tenant tasks, with their budgets (tenants.tasks)."""

from __future__ import annotations

from tenants.selectors import tenant_list
from tenants.tasks import tenant_task

from . import services


@tenant_task(timeout_s=120)
def purge_unknown_faces() -> int:
    """Unrecognised faces past the tenant's retention: rows and crops deleted."""
    return services.unknown_faces_purge()


def purge_unknown_faces_everywhere() -> int:
    """Scheduled (settings.FACET_SCHEDULES): one purge task per tenant."""
    tenants = list(tenant_list())
    for tenant in tenants:
        purge_unknown_faces.enqueue(schema_name=tenant.schema_name)
    return len(tenants)
