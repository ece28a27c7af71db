"""The sweep for faces that were stored but never named and placed.

The worker that stores a file's faces names and places them right after its
commit (``tasks.name_and_place_stored_faces``). A worker that dies between the
two commits, or a database that loses its last commits in a crash, leaves the
faces outside discovery: this sweep finds them and queues the work again.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from media_ingest.models import MediaFile
from recognition.selectors import current_face_model
from tenants.selectors import tenant_list
from tenants.tasks import tenant_task

from .discovery.placement import eligible_faces
from .tasks import name_and_place_media_faces

# A file stored this recently may still be placed by its own worker.
SETTLE = timedelta(minutes=2)
# Files processed longer ago than this are not looked at again: the sweep
# reads the files of the last day, not the whole catalogue.
LOOK_BACK = timedelta(days=1)
FILES_PER_SWEEP = 200


def unplaced_media_ids(*, now=None) -> list[int]:
    """Files done within ``LOOK_BACK`` (and longer than ``SETTLE`` ago) with a
    face discovery would take that is not in it."""
    now = now or timezone.now()
    faces = eligible_faces(current_face_model()).filter(
        media__status=MediaFile.Status.DONE,
        media__processed_at__gte=now - LOOK_BACK,
        media__processed_at__lt=now - SETTLE,
    )
    return list(
        faces.order_by("media_id").values_list("media_id", flat=True).distinct()[:FILES_PER_SWEEP]
    )


@tenant_task(timeout_s=120)
def queue_unplaced_media() -> int:
    media_ids = unplaced_media_ids()
    for media_id in media_ids:
        name_and_place_media_faces.enqueue(media_id, schema_name=connection.schema_name)
    return len(media_ids)


def queue_unplaced_media_everywhere() -> int:
    tenants = list(tenant_list())
    for tenant in tenants:
        queue_unplaced_media.enqueue(schema_name=tenant.schema_name)
    return len(tenants)
