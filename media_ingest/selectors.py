"""Reads of the media catalogue. Call inside the tenant's schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from .models import Face, FaceTrack, IngestJob, MediaFile

# The library's orders: newest first (the default), by name, most faces first.
MEDIA_ORDERS = {
    "newest": ("-created_at", "-id"),
    "name": ("original_name", "id"),
    "faces": ("-face_count", "-created_at", "-id"),
}


def media_list(
    *,
    kind: str | None = None,
    status: str | None = None,
    source: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    name_contains: str | None = None,
    order: str = "newest",
) -> QuerySet[MediaFile]:
    media = MediaFile.objects.order_by(*MEDIA_ORDERS.get(order, MEDIA_ORDERS["newest"]))
    if name_contains:
        media = media.filter(original_name__icontains=name_contains)
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


def face_crop_name(*, face_id: int) -> str | None:
    """The stored name of a face's crop (one column read), None for no such face."""
    return Face.objects.filter(pk=face_id).values_list("crop", flat=True).first()


def media_by_ids(*, media_ids) -> QuerySet[MediaFile]:
    """The files of these ids that exist in this tenant (others are ignored)."""
    return MediaFile.objects.filter(pk__in=list(media_ids))


@dataclass
class TrackGroup:
    """Tracks of one video that show the same person: their best faces match
    at the model's threshold and they never overlap in time."""

    number: int
    tracks: list[FaceTrack] = field(default_factory=list)
    lane: int = 0

    @property
    def first_time_s(self) -> float:
        return self.tracks[0].first_time_s

    @property
    def last_time_s(self) -> float:
        return max(track.last_time_s for track in self.tracks)

    @property
    def name(self):
        """The first name given to one of its faces, or None."""
        return next((t.name for t in self.tracks if getattr(t, "name", None)), None)


def _overlap(a: FaceTrack, b: FaceTrack) -> bool:
    return a.first_time_s < b.last_time_s and b.first_time_s < a.last_time_s


def track_groups(*, tracks: list[FaceTrack], duration_s: float | None) -> list[TrackGroup]:
    """A video's tracks joined by person and packed into timeline lanes.

    Read time only (the tracker is not asked again): each track, in time order,
    joins the group whose best face is most like its own at or above the
    face model's match threshold, unless it overlaps one of that group's
    tracks (one person is not twice in a frame). Groups then take the first
    lane free over their whole span, with a gap of 4 % of the video so that
    the shortest bars, drawn wider than their time, never touch. One query
    (the best faces' embeddings). Call inside the tenant's schema.
    """
    tracks = sorted(tracks, key=lambda t: (t.first_time_s, t.pk))
    rows = Face.objects.filter(track__in=[t.pk for t in tracks]).values_list(
        "track_id", "embedding", "face_model__match_threshold"
    )
    vectors, thresholds = {}, {}
    for track_id, embedding, threshold in rows:
        vector = np.asarray(embedding, dtype=np.float64)
        vectors[track_id] = vector / (np.linalg.norm(vector) or 1.0)
        thresholds[track_id] = threshold
    groups: list[TrackGroup] = []
    for track in tracks:
        best, best_similarity = None, -2.0
        mine = vectors.get(track.pk)
        for group in groups if mine is not None else ():
            if any(_overlap(track, other) for other in group.tracks):
                continue
            similarity = max(
                (float(mine @ vectors[o.pk]) for o in group.tracks if o.pk in vectors),
                default=-2.0,
            )
            if similarity >= thresholds[track.pk] and similarity > best_similarity:
                best, best_similarity = group, similarity
        if best is None:
            groups.append(TrackGroup(number=len(groups) + 1, tracks=[track]))
        else:
            best.tracks.append(track)
    end = max([duration_s or 0.0, *(t.last_time_s for t in tracks)]) or 1.0
    gap = 0.04 * end
    lane_ends: list[float] = []
    for group in sorted(groups, key=lambda g: g.first_time_s):
        free = [n for n, lane_end in enumerate(lane_ends) if lane_end + gap <= group.first_time_s]
        if free:
            lane = free[0]
        else:
            lane = len(lane_ends)
            lane_ends.append(0.0)
        group.lane = lane
        lane_ends[lane] = max(group.last_time_s, group.first_time_s + gap)
    return groups


ACTIVITY_ITEMS = 20


def _media_message(media: MediaFile) -> str:
    """As the live events word it (media_ingest.progress)."""
    if media.status == MediaFile.Status.DONE:
        count = media.face_count
        return f"{media.original_name}: {count} face{'' if count == 1 else 's'} found"
    if media.status == MediaFile.Status.FAILED:
        return f"{media.original_name} failed: {media.error}"
    if media.status == MediaFile.Status.PROCESSING:
        return f"{media.original_name}: processing"
    return f"{media.original_name} queued"


def recent_activity(*, limit: int = ACTIVITY_ITEMS) -> list[dict]:
    """The latest file states and refused uploads, newest first, as event-like
    dicts: what a reloaded page shows of what the socket said before. Two queries."""
    items = [
        {
            "kind": f"media.{media.status}",
            "at": media.status_changed_at,
            "message": _media_message(media),
            "media_id": media.pk,
            "job_id": media.job_id,
            "status": media.status,
        }
        for media in MediaFile.objects.order_by("-status_changed_at", "-id").only(
            "original_name", "status", "status_changed_at", "face_count", "error", "job_id"
        )[:limit]
    ]
    for job in IngestJob.objects.exclude(rejected=[]).order_by("-created_at")[:limit]:
        for refused in job.rejected:
            items.append(
                {
                    "kind": "upload.refused",
                    "at": job.created_at,
                    "message": f"{refused.get('name')} refused: {refused.get('reason')}",
                    "media_id": None,
                    "job_id": job.pk,
                    "status": "refused",
                }
            )
    items.sort(key=lambda item: item["at"], reverse=True)
    return items[:limit]
