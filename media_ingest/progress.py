"""Progress events of jobs and files on the tenant's event stream (/ws/events/)."""

from __future__ import annotations

from django.db import connection

from tenants.events import publish_event

from .models import IngestJob, MediaFile


def media_event(media: MediaFile, **extra) -> None:
    """Announce a file's state: queued, processing (with frames for videos), done, failed."""
    data = {
        "media_id": media.pk,
        "job_id": media.job_id,
        "name": media.original_name,
        "media_kind": media.kind,
        "status": media.status,
        **extra,
    }
    if media.status == MediaFile.Status.PROCESSING:
        data.setdefault("message", f"{media.original_name}: processing")
    elif media.status == MediaFile.Status.DONE:
        count = media.face_count
        data.setdefault("faces", count)
        data.setdefault(
            "message", f"{media.original_name}: {count} face{'' if count == 1 else 's'} found"
        )
    elif media.status == MediaFile.Status.FAILED:
        data.setdefault("error", media.error)
        data.setdefault("message", f"{media.original_name} failed: {media.error}")
    publish_event(schema_name=connection.schema_name, kind=f"media.{media.status}", data=data)


def job_event(job: IngestJob) -> None:
    publish_event(
        schema_name=connection.schema_name,
        kind="job.progress",
        data={
            "job_id": job.pk,
            "total": job.total_files,
            "done": job.done_files,
            "failed": job.failed_files,
            "status": job.status,
            "message": f"Job {job.pk}: {job.finished_files}/{job.total_files} files",
        },
    )
