"""Placing unknown faces into clusters, one face at a time, at a cost that does
not grow with the catalogue.

A new face looks up its ``CLUSTER_NEIGHBOURS`` nearest faces in discovery
through the HNSW index (``vectors.query.nearest`` over the catalogue's
``FACE_TABLE``), keeping those at or above the model's ``cluster_threshold``
(τ). Then:

* it **joins** the cluster with the most such links, when the cluster has at
  least two of them (one, if the link is *strong*: a sixth of the way from τ
  to 1), and the face's mean similarity to *all* the cluster's members
  (its dot product with the cluster's embedding sum) is also at least τ. The
  mean keeps one look-alike member from pulling a face into the wrong
  person's cluster: single links are what merge siblings. Pending
  neighbours that pass the same mean test join with it;
* else, with pending neighbours, it **starts a cluster** with them;
* else it waits in the **pending pool** until faces like it arrive.

Never in one cluster: two faces of one photo, two faces of overlapping tracks
of one video, or two faces a member said are not the same (``CannotLink``).

Rules measured on ../shared/data/faces (bench/clusters.py, docs/benchmarks.md
"Clusters"): two links and the mean test raised dlib's pairwise precision from
0.75 (single links) to 0.98; absorbing pending neighbours raised recall.

Placements of one tenant are serialised by a transaction-level advisory lock
keyed by the schema, so two workers never put one face in two clusters or
start two clusters from one pending face; a placement takes milliseconds.
Call inside the tenant's schema.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction

from media_ingest.embeddings import FACE_TABLE
from media_ingest.models import Face, MediaFile
from recognition.models import FaceModel
from vectors.query import Plan, RowFilter, choose_plan, nearest

from ..conf import people_setting
from ..models import CannotLink, ClusterFace, FaceCluster, FaceLabel


@dataclass
class PlacementCounts:
    joined: int = 0
    started: int = 0  # new clusters
    pending: int = 0
    skipped: int = 0  # low quality, labelled, or placed already
    cluster_ids: set[int] = field(default_factory=set)

    def add(self, other: PlacementCounts) -> None:
        self.joined += other.joined
        self.started += other.started
        self.pending += other.pending
        self.skipped += other.skipped
        self.cluster_ids |= other.cluster_ids


@dataclass
class _Candidate:
    """A face being placed, or one of its pending neighbours."""

    face_id: int
    media_id: int
    video: bool
    span: tuple[float, float] | None  # the track's time span, for a video's face
    embedding: np.ndarray


def strong_link(threshold: float) -> float:
    return threshold + (1.0 - threshold) / 6.0


def lock_discovery() -> None:
    """Serialise this tenant's placements until the transaction ends (advisory
    locks are database-wide: the key carries the schema)."""
    key = zlib.crc32(f"{connection.schema_name}:people.discovery".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _candidates(faces) -> dict[int, _Candidate]:
    """The faces of this queryset, as placement sees them."""
    rows = faces.values_list(
        "pk", "media_id", "media__kind", "track__first_time_s", "track__last_time_s", "embedding"
    )
    found = {}
    for face_id, media_id, kind, first, last, embedding in rows:
        video = kind == MediaFile.Kind.VIDEO
        span = (first, last) if video and first is not None else None
        found[face_id] = _Candidate(face_id, media_id, video, span, _unit(embedding))
    return found


def _conflict(a: _Candidate, b: _Candidate) -> bool:
    """Two faces that cannot be one person: one photo, or overlapping tracks."""
    if a.media_id != b.media_id:
        return False
    if not a.video:
        return True
    if a.span is None or b.span is None:
        return False
    return a.span[0] <= b.span[1] and b.span[0] <= a.span[1]


@dataclass(frozen=True)
class _Round:
    """What one ``place_faces`` call decides once for all its faces."""

    face_model: FaceModel
    plan: Plan  # discovery's size is the same for every face of the round
    feedback: bool  # any "not the same" in the tenant: else nothing to look up


def _in_discovery(face: _Candidate) -> RowFilter:
    """Faces in discovery, other than this one (and its photo's: never one person)."""
    conditions = ["NOT m.kept_out", "f.id <> %s"]
    params: list = [face.face_id]
    if not face.video:
        conditions.append("f.media_id <> %s")
        params.append(face.media_id)
    return RowFilter(
        join="JOIN people_clusterface m ON m.face_id = f.id",
        conditions=tuple(conditions),
        params=tuple(params),
    )


def _round(face_model: FaceModel, first: _Candidate) -> _Round:
    plan = choose_plan(
        table=FACE_TABLE,
        dimension=first.embedding.size,
        face_model_id=face_model.pk,
        filters=_in_discovery(first),
    )
    return _Round(face_model, plan, CannotLink.objects.exists())


def _neighbours(face: _Candidate, round_: _Round) -> list[tuple[int, float]]:
    hits = nearest(
        table=FACE_TABLE,
        embedding=face.embedding,
        face_model_id=round_.face_model.pk,
        top_k=people_setting("CLUSTER_NEIGHBOURS"),
        threshold=round_.face_model.cluster_threshold,
        filters=_in_discovery(face),
        plan=round_.plan,
    )
    return [(hit.id, hit.similarity) for hit in hits]


def _cannot_link_pairs(face_ids: list[int]) -> set[tuple[int, int]]:
    """The pairs among ``face_ids`` a member said are not the same, both ways."""
    pairs = set()
    rows = CannotLink.objects.filter(face_id__in=face_ids, other_id__in=face_ids).values_list(
        "face_id", "other_id"
    )
    for a, b in rows:
        pairs.update({(a, b), (b, a)})
    return pairs


def _cannot_join(face_ids: list[int], cluster_ids: list[int]) -> set[tuple[int, int]]:
    """(face, cluster) where the face is "not the same" as one of the cluster's members."""
    forward = CannotLink.objects.filter(
        face_id__in=face_ids, other__discovery__cluster_id__in=cluster_ids
    ).values_list("face_id", "other__discovery__cluster_id")
    backward = CannotLink.objects.filter(
        other_id__in=face_ids, face__discovery__cluster_id__in=cluster_ids
    ).values_list("other_id", "face__discovery__cluster_id")
    return set(forward.union(backward))


class _ClusterView:
    """What placement needs of the candidate clusters, at a cost bounded by the
    neighbours and the feedback, never by the clusters' sizes: their sums and
    sizes, their members from the same files as the faces being placed (the
    one-photo and overlapping-track rules), and the "not the same" that bar
    those faces from them."""

    def __init__(self, cluster_ids: list[int], faces: list[_Candidate], *, feedback: bool):
        self.clusters = {
            c.pk: c
            for c in FaceCluster.objects.filter(pk__in=cluster_ids).only("size", "embedding_sum")
        }
        ids = list(self.clusters)
        members = ClusterFace.objects.filter(
            cluster_id__in=ids, face__media_id__in={f.media_id for f in faces}
        ).values_list(
            "cluster_id",
            "face_id",
            "face__media_id",
            "face__media__kind",
            "face__track__first_time_s",
            "face__track__last_time_s",
        )
        # Per cluster: its members that share a file with a face being placed,
        # then the faces this placement adds.
        self.members: dict[int, list[_Candidate]] = defaultdict(list)
        empty = np.zeros(0, dtype=np.float32)
        for cluster_id, face_id, media_id, kind, first, last in members:
            video = kind == MediaFile.Kind.VIDEO
            span = (first, last) if video and first is not None else None
            self.members[cluster_id].append(_Candidate(face_id, media_id, video, span, empty))
        face_ids = [f.face_id for f in faces]
        self.barred = _cannot_join(face_ids, ids) if ids and feedback else set()
        self.pairs = _cannot_link_pairs(face_ids) if feedback else set()

    def mean_similarity(self, cluster_id: int, face: _Candidate) -> float:
        cluster = self.clusters[cluster_id]
        return float(face.embedding @ np.asarray(cluster.embedding_sum, np.float32)) / max(
            cluster.size, 1
        )

    def compatible(self, face: _Candidate, others: list[_Candidate]) -> bool:
        return not any(
            _conflict(face, o) or (face.face_id, o.face_id) in self.pairs for o in others
        )

    def admits(self, cluster_id: int, face: _Candidate) -> bool:
        if (face.face_id, cluster_id) in self.barred:
            return False
        return self.compatible(face, self.members[cluster_id])

    def add(self, cluster_id: int, face: _Candidate) -> None:
        cluster = self.clusters[cluster_id]
        cluster.embedding_sum = np.asarray(cluster.embedding_sum, np.float32) + face.embedding
        cluster.size += 1
        self.members[cluster_id].append(face)


def _choose_cluster(face, links, view, threshold) -> int | None:
    strong = strong_link(threshold)
    best = None
    for cluster_id, similarities in links.items():
        if cluster_id not in view.clusters:
            continue
        enough = len(similarities) >= min(2, view.clusters[cluster_id].size)
        if not (enough or max(similarities) >= strong):
            continue
        if view.mean_similarity(cluster_id, face) < threshold:
            continue
        if not view.admits(cluster_id, face):
            continue
        rank = (len(similarities), sum(similarities) / len(similarities))
        if best is None or rank > best[0]:
            best = (rank, cluster_id)
    return None if best is None else best[1]


def _place_one(face: _Candidate, round_: _Round) -> PlacementCounts:
    """Place one eligible face (it has no membership row yet)."""
    counts = PlacementCounts()
    face_model = round_.face_model
    threshold = face_model.cluster_threshold
    neighbours = _neighbours(face, round_)
    placed = dict(
        ClusterFace.objects.filter(face_id__in=[n for n, _ in neighbours]).values_list(
            "face_id", "cluster_id"
        )
    )
    links: dict[int, list[float]] = defaultdict(list)
    pending_ids = []
    for neighbour_id, similarity in neighbours:
        if neighbour_id not in placed:
            continue  # left discovery meanwhile (named, deleted)
        if placed[neighbour_id] is None:
            pending_ids.append(neighbour_id)
        else:
            links[placed[neighbour_id]].append(similarity)
    pending = _candidates(Face.objects.filter(pk__in=pending_ids))
    pending_order = [pending[i] for i in pending_ids if i in pending]
    view = _ClusterView(list(links), [face, *pending_order], feedback=round_.feedback)

    cluster_id = _choose_cluster(face, links, view, threshold)
    if cluster_id is not None:
        joining = [face]
        view.add(cluster_id, face)
        for other in pending_order:
            if view.mean_similarity(cluster_id, other) >= threshold and view.admits(
                cluster_id, other
            ):
                joining.append(other)
                view.add(cluster_id, other)
        cluster = view.clusters[cluster_id]
        FaceCluster.objects.filter(pk=cluster.pk).update(
            size=cluster.size, embedding_sum=np.asarray(cluster.embedding_sum, np.float32)
        )
        counts.joined += len(joining)
    else:
        joining = [face]
        for other in pending_order:
            if view.compatible(other, joining):
                joining.append(other)
        if len(joining) == 1:
            ClusterFace.objects.create(face_id=face.face_id)
            counts.pending += 1
            return counts
        cluster = FaceCluster.objects.create(
            face_model=face_model,
            size=len(joining),
            embedding_sum=np.sum([j.embedding for j in joining], axis=0),
        )
        counts.started += 1
        counts.joined += len(joining)

    ClusterFace.objects.create(face_id=face.face_id, cluster=cluster)
    moved = [j.face_id for j in joining if j.face_id != face.face_id]
    if moved:
        ClusterFace.objects.filter(face_id__in=moved).update(cluster=cluster)
    counts.cluster_ids.add(cluster.pk)
    return counts


def eligible_faces(face_model: FaceModel):
    """Faces discovery takes: of the model, of usable quality, not confirmed as
    anyone, not in discovery already."""
    return (
        Face.objects.filter(
            face_model=face_model, quality__gte=people_setting("CLUSTER_MIN_QUALITY")
        )
        .exclude(label__status=FaceLabel.Status.CONFIRMED)
        .filter(discovery__isnull=True)
    )


def _hold_files_of(face_ids) -> None:
    """Lock the files these faces come from until the placement commits.

    A file's deletion (``media_delete``) and a run replacing its faces lock the
    file's row first: either they wait for this placement and then remove its
    memberships with the faces, or this placement waits for them and finds the
    faces gone. Without it, a membership written for a face deleted meanwhile
    failed the placement at COMMIT (deferred foreign key).
    """
    files = MediaFile.objects.filter(pk__in=Face.objects.filter(pk__in=face_ids).values("media_id"))
    list(files.order_by("pk").select_for_update(no_key=True).values_list("pk", flat=True))


def place_faces(face_ids, face_model: FaceModel) -> PlacementCounts:
    """Place these faces (those still eligible), in id order, in one transaction."""
    counts = PlacementCounts()
    face_ids = sorted(set(face_ids))
    with transaction.atomic():
        lock_discovery()
        _hold_files_of(face_ids)
        faces = _candidates(eligible_faces(face_model).filter(pk__in=face_ids))
        counts.skipped = len(face_ids) - len(faces)
        round_ = _round(face_model, faces[min(faces)]) if faces else None
        for face_id in face_ids:
            if face_id in faces:
                counts.add(_place_one(faces[face_id], round_))
    return counts
