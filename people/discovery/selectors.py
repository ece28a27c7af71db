"""Reads about clusters. Call inside the tenant's schema."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, F, Max, QuerySet, Window
from django.db.models.functions import RowNumber

from media_ingest.models import Face
from recognition.selectors import current_face_model

from ..conf import people_setting
from ..models import ClusterFace, FaceCluster, FaceLabel


def cluster_list(*, hidden: bool = False) -> QuerySet[FaceCluster]:
    """Clusters of the active model large enough to show, largest first."""
    return (
        FaceCluster.objects.filter(
            face_model=current_face_model(),
            hidden=hidden,
            size__gte=people_setting("CLUSTER_MIN_SIZE"),
        )
        .defer("embedding_sum")
        .order_by("-size", "id")
    )


def cluster_get(*, cluster_id: int) -> FaceCluster | None:
    return FaceCluster.objects.filter(pk=cluster_id).first()


@dataclass(frozen=True)
class Suggestion:
    person_id: int
    name: str
    faces: int  # members suggested as this person
    similarity: float  # the best of them


@dataclass
class ClusterDetail:
    face_ids: list[int] = field(default_factory=list)
    media_ids: list[int] = field(default_factory=list)
    media_count: int = 0
    suggestion: Suggestion | None = None


def cluster_details(clusters, *, faces_per_cluster: int | None = None) -> dict[int, ClusterDetail]:
    """Members, media and the suggested person of a page of clusters, in two
    queries whatever the page's size (three with ``faces_per_cluster``, which
    keeps each cluster's best faces only and counts its files apart). Faces
    best quality first."""
    ids = [c.pk for c in clusters]
    details = {cluster_id: ClusterDetail() for cluster_id in ids}
    members = ClusterFace.objects.filter(cluster_id__in=ids)
    if faces_per_cluster is not None:
        members = members.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("cluster_id")],
                order_by=[F("face__quality").desc(), F("face_id")],
            )
        ).filter(rank__lte=faces_per_cluster)
        counted = (
            ClusterFace.objects.filter(cluster_id__in=ids)
            .values("cluster_id")
            .annotate(files=Count("face__media_id", distinct=True))
        )
        for row in counted:
            details[row["cluster_id"]].media_count = row["files"]
    rows = members.order_by("cluster_id", "-face__quality", "face_id").values_list(
        "cluster_id", "face_id", "face__media_id"
    )
    seen_media = defaultdict(set)
    for cluster_id, face_id, media_id in rows:
        detail = details[cluster_id]
        detail.face_ids.append(face_id)
        if media_id not in seen_media[cluster_id]:
            seen_media[cluster_id].add(media_id)
            detail.media_ids.append(media_id)
    if faces_per_cluster is None:
        for detail in details.values():
            detail.media_count = len(detail.media_ids)
    suggested = (
        FaceLabel.objects.filter(
            status=FaceLabel.Status.SUGGESTED, face__discovery__cluster_id__in=ids
        )
        .values("face__discovery__cluster_id", "person_id", "person__name")
        .annotate(faces=Count("face_id"), best=Max("similarity"))
        .order_by("face__discovery__cluster_id", "-faces", "-best")
    )
    for row in suggested:
        detail = details[row["face__discovery__cluster_id"]]
        if detail.suggestion is None:
            detail.suggestion = Suggestion(
                row["person_id"], row["person__name"], row["faces"], row["best"] or 0.0
            )
    return details


def cluster_faces(*, cluster: FaceCluster) -> QuerySet[Face]:
    """The cluster's faces, best first, with their files (for the cluster's page)."""
    return (
        Face.objects.filter(discovery__cluster=cluster)
        .select_related("media")
        .defer("embedding", "landmarks")
        .order_by("-quality", "pk")
    )


@dataclass(frozen=True)
class DiscoveryCounts:
    clusters: int
    hidden: int
    pending: int  # faces waiting for company
    low_quality: int  # faces too small or blurred to cluster


def discovery_counts() -> DiscoveryCounts:
    face_model = current_face_model()
    shown = people_setting("CLUSTER_MIN_SIZE")
    clusters = FaceCluster.objects.filter(face_model=face_model, size__gte=shown)
    return DiscoveryCounts(
        clusters=clusters.filter(hidden=False).count(),
        hidden=clusters.filter(hidden=True).count(),
        pending=ClusterFace.objects.filter(
            cluster__isnull=True, kept_out=False, face__face_model=face_model
        ).count(),
        low_quality=Face.objects.filter(
            face_model=face_model, quality__lt=people_setting("CLUSTER_MIN_QUALITY")
        ).count(),
    )
