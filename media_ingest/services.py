"""Writes of the media catalogue: accepting uploads, deleting files."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from . import metrics, storage_paths
from .archives import iter_zip_members
from .conf import ingest_setting, largest_upload_bytes
from .models import IngestJob, MediaFile, Source
from .progress import job_event, media_event
from .signals import faces_removing
from .validation import MediaRejected, sniff_media, validate_image

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Accepted:
    media: MediaFile
    created: bool  # False: identical bytes were already in the library


@dataclass(frozen=True)
class Rejected:
    name: str
    code: str
    reason: str

    def as_dict(self) -> dict:
        return {"name": self.name, "code": self.code, "reason": self.reason}


def job_create(*, source: str, user=None) -> IngestJob:
    return IngestJob.objects.create(source=source, created_by=user)


def _spool(stream: BinaryIO, directory: Path, limit: int) -> tuple[Path, str, int]:
    """Copy the upload to a private temp file, hashing it; refuse it past ``limit``."""
    digest = hashlib.sha256()
    size = 0
    handle = tempfile.NamedTemporaryFile(dir=directory, delete=False)  # noqa: SIM115
    with handle:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise MediaRejected(
                    f"The file is larger than the {limit // (1024 * 1024)} MB limit.", "too-large"
                )
            digest.update(chunk)
            handle.write(chunk)
    return Path(handle.name), digest.hexdigest(), size


def _check_storage_quota(size: int) -> None:
    """Refuse a file that would take the tenant's originals past its quota."""
    from tenants.selectors import current_tenant

    quota = current_tenant().storage_quota_bytes
    if quota is None:
        return
    used = MediaFile.objects.aggregate(total=Sum("size_bytes"))["total"] or 0
    if used + size > quota:
        mb = 1024 * 1024
        raise MediaRejected(
            f"Your organisation's storage is full: {used / mb:.0f} of {quota / mb:.0f} MB are "
            f"used and this file needs {size / mb:.1f} MB. Delete files or ask the platform's "
            "operator for more space.",
            "quota-exceeded",
        )


def media_accept(
    *, stream: BinaryIO, name: str, source: str, job: IngestJob, user=None, queue: bool = True
) -> Accepted:
    """Validate one file and add it to the library, queued for processing.

    Raises MediaRejected (nothing stored) when the file is not a usable photo
    or video. Identical bytes already in this tenant's library return the
    existing file, which is not processed again.
    """
    limit = largest_upload_bytes()
    with tempfile.TemporaryDirectory(prefix="facet-upload-") as scratch:
        path, sha256, size = _spool(stream, Path(scratch), limit)
        existing = MediaFile.objects.filter(sha256=sha256).first()
        if existing is not None:
            return Accepted(existing, created=False)
        _check_storage_quota(size)

        sniffed = sniff_media(path)
        width = height = None
        if sniffed.kind == MediaFile.Kind.IMAGE:
            info = validate_image(
                path,
                max_bytes=ingest_setting("MAX_IMAGE_BYTES"),
                max_pixels=ingest_setting("MAX_IMAGE_PIXELS"),
            )
            width, height = info.width, info.height
        elif size > ingest_setting("MAX_VIDEO_BYTES"):
            raise MediaRejected("The video is larger than the video size limit.", "too-large")
        # Videos are probed by the worker, in a sandboxed decoder process.

        stored_name = storage_paths.original_name(sha256, sniffed.extension)
        # The name is the content's hash: a file left by an upload whose row was
        # rolled back already holds these very bytes, so keep it, never a copy.
        if not default_storage.exists(stored_name):
            with path.open("rb") as spooled:
                stored_name = default_storage.save(stored_name, File(spooled))
        try:
            with transaction.atomic():
                media = MediaFile.objects.create(
                    job=job,
                    kind=sniffed.kind,
                    source=source,
                    original_name=Path(name).name[:255] or "upload",
                    file=stored_name,
                    sha256=sha256,
                    mime=sniffed.mime,
                    size_bytes=size,
                    width=width,
                    height=height,
                    uploaded_by=user,
                )
                IngestJob.objects.filter(pk=job.pk).update(total_files=F("total_files") + 1)
        except IntegrityError:
            # The same bytes arrived concurrently and the other upload won; the
            # stored file (same name, same bytes) is now the winner's.
            return Accepted(MediaFile.objects.get(sha256=sha256), created=False)

    metrics.file_uploaded(source)
    if queue:
        _queue_processing([media])
    return Accepted(media, created=True)


def _gpu_cluster() -> str | None:
    """The GPU cluster's name when this tenant's model runs on the ONNX engine and
    GPU workers are configured; None: everything runs on the default cluster."""
    cluster = ingest_setting("GPU_CLUSTER")
    if not cluster:
        return None
    from recognition.selectors import current_face_model

    return cluster if current_face_model().engine == "insightface" else None


def _queue_processing(media: list[MediaFile]) -> None:
    """One task per file on CPU workers. GPU workers get photos in groups, so one
    recogniser call embeds the faces of many files (large batches for the GPU)."""
    from .tasks import process_media, process_media_batch

    schema_name = connection.schema_name
    cluster = _gpu_cluster()
    if cluster is None:
        for item in media:
            process_media.enqueue(item.pk, schema_name=schema_name)
    else:
        photos = [m.pk for m in media if m.kind == MediaFile.Kind.IMAGE]
        size = ingest_setting("GPU_BATCH_FILES")
        for start in range(0, len(photos), size):
            process_media_batch.enqueue(
                photos[start : start + size],
                schema_name=schema_name,
                q_options={"cluster": cluster},
            )
        for item in media:
            if item.kind == MediaFile.Kind.VIDEO:
                process_media.enqueue(
                    item.pk, schema_name=schema_name, q_options={"cluster": cluster}
                )
    for item in media:
        media_event(item, message=f"{item.original_name} queued")


def media_accept_many(
    *, files: Iterable[tuple[str, BinaryIO]], source: str, job: IngestJob, user=None
) -> tuple[list[Accepted], list[Rejected]]:
    """Accept each file on its own: one bad file never stops the others."""
    accepted, rejected = [], []
    for name, stream in files:
        try:
            accepted.append(
                media_accept(
                    stream=stream, name=name, source=source, job=job, user=user, queue=False
                )
            )
        except MediaRejected as exc:
            rejected.append(Rejected(Path(name).name, exc.code, exc.reason))
    for item in rejected:
        job_note_rejected(job=job, name=item.name, code=item.code, reason=item.reason)
    _queue_processing([item.media for item in accepted if item.created])
    return accepted, rejected


def job_note_rejected(*, job: IngestJob, name: str, code: str, reason: str) -> None:
    """Record a file refused before storage, so the job says why it has fewer files."""
    with transaction.atomic():
        locked = IngestJob.objects.select_for_update().get(pk=job.pk)
        locked.rejected = [*locked.rejected, {"name": name, "code": code, "reason": reason}]
        locked.save(update_fields=["rejected"])
    job.rejected = locked.rejected


def zip_members(source) -> Iterator[tuple[str, BinaryIO]]:
    """(name, stream) for each member of a zip (a path or an uploaded file), within
    the INGEST limits. Raises MediaRejected, before yielding anything, for an
    unsafe archive (zip-slip, nested archive, bomb, encryption)."""
    with tempfile.TemporaryDirectory(prefix="facet-zip-") as scratch:
        if not isinstance(source, str | Path):
            source.seek(0)
            spooled = Path(scratch) / "upload.zip"
            with spooled.open("wb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
            source = spooled
        for member in iter_zip_members(
            source,
            max_entries=ingest_setting("ZIP_MAX_ENTRIES"),
            max_total_bytes=ingest_setting("ZIP_MAX_TOTAL_BYTES"),
            max_ratio=ingest_setting("ZIP_MAX_RATIO"),
            max_member_bytes=largest_upload_bytes(),
        ):
            with member.path.open("rb") as handle:
                yield member.name, handle


def media_requeue(*, media: MediaFile) -> None:
    """Queue a file again (the reconciler's and operators' retry); processing is idempotent."""
    _queue_processing([media])


def media_retry(*, media: MediaFile) -> bool:
    """Process a failed file again, from the start: a person asked, so its
    attempt counter starts over (a quarantined file gets its attempts back).
    Its job counts it as unfinished again. The task goes through the same
    exactly-once path as a first delivery. False: the file had not failed
    (or is gone), and nothing is queued."""
    with transaction.atomic():
        locked = MediaFile.objects.select_for_update().filter(pk=media.pk).first()
        if locked is None or locked.status != MediaFile.Status.FAILED:
            return False
        locked.status = MediaFile.Status.QUEUED
        locked.status_changed_at = timezone.now()
        locked.attempts = 0
        locked.error_code = locked.error = ""
        locked.save(
            update_fields=["status", "status_changed_at", "attempts", "error_code", "error"]
        )
        if locked.job_id is not None:
            IngestJob.objects.filter(pk=locked.job_id, failed_files__gt=0).update(
                failed_files=F("failed_files") - 1
            )
        _queue_processing([locked])
    media.status = locked.status
    return True


def media_retry_many(*, media: Iterable[MediaFile]) -> int:
    """``media_retry`` for each file; how many were queued again."""
    return sum(media_retry(media=item) for item in media)


def media_delete(*, media: MediaFile) -> None:
    """Remove the file, its faces, embeddings, crops and thumbnail.

    A processing run that holds the row's lock finishes first (the delete waits
    for it); what it wrote lives under the names derived from the id, which are
    removed whatever the row said when it was read.
    """
    media_id, original = media.pk, media.file.name
    with transaction.atomic():
        # The row lock first, so that what is read for the cascade below (faces,
        # their cluster memberships) is what a processing run or a placement
        # holding the lock left, not what was there before they committed.
        list(MediaFile.objects.select_for_update().filter(pk=media_id).values_list("pk"))
        faces_removing.send(sender=MediaFile, media_id=media_id)
        media.delete()

    def remove_files() -> None:
        storage_paths.delete_quietly(original)
        storage_paths.delete_quietly(storage_paths.thumbnail_name(media_id))
        storage_paths.delete_tree(storage_paths.crop_dir(media_id))

    transaction.on_commit(remove_files)


def job_file_finished(*, job_id: int | None, failed: bool) -> None:
    if job_id is None:
        return
    field = "failed_files" if failed else "done_files"
    IngestJob.objects.filter(pk=job_id).update(**{field: F(field) + 1})
    job = IngestJob.objects.filter(pk=job_id).first()
    if job is not None:
        job_event(job)


__all__ = [
    "Accepted",
    "Rejected",
    "Source",
    "job_create",
    "job_file_finished",
    "job_note_rejected",
    "media_accept",
    "media_accept_many",
    "media_delete",
    "media_requeue",
    "media_retry",
    "media_retry_many",
    "zip_members",
]
