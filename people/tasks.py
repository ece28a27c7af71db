"""The people app's tenant tasks, with their budgets (tenants.tasks)."""

from __future__ import annotations

from django.db import connection

from tenants.events import publish_event
from tenants.tasks import tenant_task

from . import calibration, matching


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
def match_catalogue_for_media(media_id: int) -> int:
    counts = matching.match_media(media_id)
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
    return counts.suggested


def queue_media_matching(sender, media_id: int, **kwargs) -> None:
    """media_ingest.signals.faces_stored receiver."""
    match_catalogue_for_media.enqueue(media_id, schema_name=connection.schema_name)
