"""The reconciler: work that was accepted but lost on the way gets queued again."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_q.models import OrmQ

from tenants.selectors import tenant_list
from tenants.tasks import tenant_task

from .models import MediaFile
from .services import media_requeue

# Beyond the queue's own re-delivery window (Q_RETRY), plus a margin.
MARGIN = timedelta(minutes=1)


def stuck_media():
    """Files processing for longer than the broker's retry window (their worker
    died and re-delivery failed too), and files still queued when the queue is
    empty (the enqueue itself was lost, e.g. a crash right after commit)."""
    cutoff = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["retry"]) - MARGIN
    stuck = Q(status=MediaFile.Status.PROCESSING, status_changed_at__lt=cutoff)
    if not OrmQ.objects.exists():
        stuck |= Q(status=MediaFile.Status.QUEUED, status_changed_at__lt=cutoff)
    return MediaFile.objects.filter(stuck)


@tenant_task(timeout_s=120)
def requeue_stuck_media() -> int:
    """Idempotent processing and the attempt counter make a spare delivery harmless."""
    media = list(stuck_media())
    for item in media:
        media_requeue(media=item)
    return len(media)


def requeue_stuck_media_everywhere() -> int:
    tenants = list(tenant_list())
    for tenant in tenants:
        requeue_stuck_media.enqueue(schema_name=tenant.schema_name)
    return len(tenants)
