"""The people app's tenant tasks, with their budgets (tenants.tasks)."""

from __future__ import annotations

import logging

from django.db import connection, transaction

from media_ingest.models import Face
from recognition.models import FaceModel
from recognition.selectors import current_face_model
from tenants.events import publish_event
from tenants.tasks import tenant_task

from . import calibration, matching
from .discovery import placement
from .discovery import services as discovery
from .models import ClusterFace, FaceCluster

logger = logging.getLogger(__name__)


@tenant_task(timeout_s=120)
def recalibrate_threshold() -> float:
    return calibration.recalibrate_active_model().threshold


@tenant_task(timeout_s=600)
def match_catalogue_for_person(person_id: int) -> int:
    counts = matching.match_person(person_id)
    publish_event(
        schema_name=connection.schema_name,
        kind="people.matched",
        data={
            "person_id": person_id,
            "compared": counts.compared,
            "suggested": counts.suggested,
            "message": f"Matched the library: {counts.suggested} faces suggested",
        },
    )
    return counts.suggested


@tenant_task(timeout_s=300)
def name_and_place_media_faces(media_id: int) -> int:
    """A processed file's faces named and placed, as a task of its own: when the
    worker that stored them could not (``name_and_place_stored_faces``), or for
    the sweep of files left unplaced (people.maintenance)."""
    return name_and_place(media_id)


def name_and_place(
    media_id: int, face_ids: list[int] | None = None, face_model: FaceModel | None = None
) -> int:
    """A processed file's faces: named where they match an enrolled person, then
    placed into discovery's clusters (``face_model``: the tenant's, by default)."""
    face_model = face_model or current_face_model()
    counts = matching.match_media(media_id, face_model)
    if counts.suggested:
        publish_event(
            schema_name=connection.schema_name,
            kind="people.matched",
            data={
                "media_id": media_id,
                "suggested": counts.suggested,
                "message": f"{counts.suggested} faces named in file {media_id}",
            },
        )
    if face_ids is None:
        face_ids = Face.objects.filter(media_id=media_id).values_list("pk", flat=True)
    _placed(placement.place_faces(face_ids, face_model), media_id=media_id)
    return counts.suggested


def _placed(counts: placement.PlacementCounts, **data) -> None:
    if counts.joined or counts.pending:
        publish_event(
            schema_name=connection.schema_name,
            kind="clusters.progress",
            data={
                **data,
                "joined": counts.joined,
                "started": counts.started,
                "pending": counts.pending,
                "message": f"Grouped {counts.joined + counts.pending} new faces",
            },
        )


@tenant_task(timeout_s=300)
def place_faces_again(face_ids: list[int]) -> int:
    """Faces unknown again (their person was deleted) go back into discovery."""
    counts = discovery.faces_return(face_ids=face_ids, face_model=current_face_model())
    _placed(counts)
    return counts.joined + counts.pending


@tenant_task(timeout_s=120)
def refresh_clusters(cluster_ids: list[int]) -> int:
    """Clusters that lost faces (files deleted or processed again): recounted."""
    with transaction.atomic():
        remaining = discovery.cluster_refresh(cluster_ids=cluster_ids)
    publish_event(
        schema_name=connection.schema_name,
        kind="clusters.changed",
        data={"cluster_ids": cluster_ids, "remaining": remaining},
    )
    return len(remaining)


@tenant_task(timeout_s=600)
def refresh_model_clusters(face_model_id: int) -> int:
    """The storage basis changed: every cluster's embedding sum is recomputed."""
    with transaction.atomic():
        ids = list(
            FaceCluster.objects.filter(face_model_id=face_model_id).values_list("pk", flat=True)
        )
        return len(discovery.cluster_refresh(cluster_ids=ids))


def name_and_place_stored_faces(
    sender, media_id: int, face_ids: list[int], face_model: FaceModel, **kwargs
) -> None:
    """media_ingest.signals.faces_stored receiver: once a file's faces are
    committed, the worker that stored them names and places them at once.

    For a photo this is a few milliseconds of queries; a task of its own cost
    more than the work (the queue's insert, lease, acknowledgement and result
    rows, and a second delivery). A failure hands the work to that task, with
    the queue's retries; a worker that dies in between leaves the faces
    unplaced, and people.maintenance's sweep queues them again.
    """
    try:
        name_and_place(media_id, face_ids, face_model)
    except Exception:
        logger.exception("naming and placing the faces of file %s failed; queued", media_id)
        name_and_place_media_faces.enqueue(media_id, schema_name=connection.schema_name)


def queue_cluster_refresh(sender, media_id: int, **kwargs) -> None:
    """media_ingest.signals.faces_removing receiver: the clusters that held the
    file's faces are recounted once the faces are gone."""
    cluster_ids = sorted(
        set(
            ClusterFace.objects.filter(face__media_id=media_id, cluster__isnull=False).values_list(
                "cluster_id", flat=True
            )
        )
    )
    if cluster_ids:
        refresh_clusters.enqueue(cluster_ids, schema_name=connection.schema_name)


def queue_basis_refresh(sender, face_model_id: int, **kwargs) -> None:
    """vectors.basis.basis_changed receiver."""
    refresh_model_clusters.enqueue(face_model_id, schema_name=connection.schema_name)
