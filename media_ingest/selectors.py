"""Reads of the media catalogue. Call inside the tenant's schema."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from .models import Face, FaceTrack, IngestJob, MediaFile


def media_list(
    *,
    kind: str | None = None,
    status: str | None = None,
    source: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[MediaFile]:
    media = MediaFile.objects.all()
    if kind:
        media = media.filter(kind=kind)
    if status:
        media = media.filter(status=status)
    if source:
        media = media.filter(source=source)
    if created_after:
        media = media.filter(created_at__gte=created_after)
    if created_before:
        media = media.filter(created_at__lt=created_before)
    return media


def media_get(*, media_id: int) -> MediaFile | None:
    """One file with its faces and its tracks (each with its best face), in three
    queries whatever their number; embeddings are left in the database."""
    return (
        MediaFile.objects.filter(pk=media_id)
        .prefetch_related(
            Prefetch("faces", queryset=Face.objects.defer("embedding")),
            Prefetch(
                "tracks",
                queryset=FaceTrack.objects.select_related("best_face").defer(
                    "best_face__embedding"
                ),
            ),
        )
        .first()
    )


def face_get(*, face_id: int) -> Face | None:
    return Face.objects.filter(pk=face_id).first()


def face_list(*, min_quality: float = 0.0) -> QuerySet[Face]:
    """Every face of every photo and the best face of every video track, best first."""
    return (
        Face.objects.filter(quality__gte=min_quality)
        .select_related("media", "track")
        .defer("embedding")
        .order_by("-quality", "-id")
    )


def job_get(*, job_id: int) -> IngestJob | None:
    return IngestJob.objects.filter(pk=job_id).first()


def library_stats() -> dict:
    by_status = dict(MediaFile.objects.values_list("status").annotate(n=Count("id")))
    totals = MediaFile.objects.aggregate(
        files=Count("id"),
        photos=Count("id", filter=Q(kind=MediaFile.Kind.IMAGE)),
        videos=Count("id", filter=Q(kind=MediaFile.Kind.VIDEO)),
        bytes=Sum("size_bytes"),
    )
    return {
        "files": totals["files"],
        "photos": totals["photos"],
        "videos": totals["videos"],
        "bytes": totals["bytes"] or 0,
        "faces": Face.objects.count(),
        "tracks": Face.objects.filter(track__isnull=False).count(),
        "by_status": {status: by_status.get(status, 0) for status in MediaFile.Status.values},
        "jobs": IngestJob.objects.count(),
    }
