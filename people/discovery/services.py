"""What members do with clusters: name them, remove faces that don't belong,
split, merge, hide, turn down a suggestion; and keeping clusters true when
their faces change under them (files deleted or reprocessed, people deleted).
Call inside the tenant's schema.

"Not the same" is a ``CannotLink`` between faces, kept for good: a removed
face never joins a cluster holding the faces it was removed from, and when a
cluster is named, the faces removed from it are also rejected for that person
(``FaceRejection``), so suggestions never propose them either.
"""

from __future__ import annotations

import numpy as np
from django.db import connection, transaction

from media_ingest.models import Face, MediaFile
from tenants.events import publish_event

from .. import services as people_services
from ..conf import people_setting
from ..errors import EnrolmentRefused, PeopleError
from ..models import (
    CannotLink,
    ClusterFace,
    EnrolledFace,
    FaceCluster,
    FaceLabel,
    FaceRejection,
    Person,
)
from .placement import PlacementCounts, eligible_faces, lock_discovery, place_faces


class ClusterError(PeopleError):
    pass


def _locked(cluster: FaceCluster) -> FaceCluster:
    """Take discovery's lock, then the cluster as it is now: another request may
    have named, merged or emptied it since it was read."""
    lock_discovery()
    fresh = FaceCluster.objects.select_for_update().filter(pk=cluster.pk).first()
    if fresh is None:
        raise ClusterError(
            f"Cluster {cluster.pk} is gone: it was named, merged or emptied meanwhile.",
            "cluster-gone",
            http_status=409,
        )
    return fresh


def _member_ids(cluster: FaceCluster) -> list[int]:
    return list(cluster.members.order_by("face_id").values_list("face_id", flat=True))


def _checked_members(cluster: FaceCluster, face_ids) -> list[int]:
    face_ids = sorted({int(f) for f in face_ids})
    if not face_ids:
        raise ClusterError("Choose at least one face.", "invalid")
    members = set(_member_ids(cluster))
    strangers = [f for f in face_ids if f not in members]
    if strangers:
        raise ClusterError(
            f"Faces {', '.join(map(str, strangers))} are not in cluster {cluster.pk}.",
            "not-in-cluster",
        )
    return face_ids


def cannot_link_record(*, faces: list[int], others: list[int], user=None) -> int:
    """Record that each of ``faces`` is not the same person as each of ``others``
    (up to CLUSTER_CANNOT_LINK_MAX of them per face)."""
    others = others[: people_setting("CLUSTER_CANNOT_LINK_MAX")]
    rows = {(min(a, b), max(a, b)) for a in faces for b in others if a != b}
    CannotLink.objects.bulk_create(
        [
            CannotLink(
                face_id=a, other_id=b, created_by=user if getattr(user, "pk", None) else None
            )
            for a, b in sorted(rows)
        ],
        ignore_conflicts=True,
    )
    return len(rows)


def cluster_refresh(*, cluster_ids) -> list[int]:
    """Recount clusters from their members and recompute their embedding sums;
    a cluster left with one face is dissolved into the pool, an empty one deleted.
    Returns the ids of the clusters that remain."""
    lock_discovery()
    remaining = []
    clusters = FaceCluster.objects.filter(pk__in=list(cluster_ids)).order_by("pk")
    for cluster in clusters.select_for_update():
        embeddings = list(
            Face.objects.filter(discovery__cluster=cluster).values_list("embedding", flat=True)
        )
        if len(embeddings) < 2:
            ClusterFace.objects.filter(cluster=cluster).update(cluster=None)
            cluster.delete()
            continue
        units = np.asarray(embeddings, dtype=np.float32)
        units /= np.maximum(np.linalg.norm(units, axis=1, keepdims=True), 1e-12)
        cluster.size = len(embeddings)
        cluster.embedding_sum = units.sum(axis=0)
        cluster.save(update_fields=["size", "embedding_sum", "updated_at"])
        remaining.append(cluster.pk)
    return remaining


def _changed(kind: str, **data) -> None:
    schema = connection.schema_name
    transaction.on_commit(
        lambda: publish_event(schema_name=schema, kind=f"clusters.{kind}", data=data)
    )


def cluster_attach(*, cluster: FaceCluster, person: Person, user=None) -> Person:
    """The cluster is ``person``: its faces are labelled as them (confirmed), its
    best faces enrolled, and the cluster leaves discovery. Faces rejected for the
    person before stay unknown, back in the pool."""
    with transaction.atomic():
        cluster = _locked(cluster)
        members = _member_ids(cluster)
        # A face confirmed as somebody else meanwhile is theirs, not this person's.
        taken = set(
            FaceLabel.objects.filter(face_id__in=members, status=FaceLabel.Status.CONFIRMED)
            .exclude(person=person)
            .values_list("face_id", flat=True)
        )
        members = [f for f in members if f not in taken]
        rejected = set(
            FaceRejection.objects.filter(person=person, face_id__in=members).values_list(
                "face_id", flat=True
            )
        )
        named = [f for f in members if f not in rejected]
        labeller = user if getattr(user, "pk", None) else None
        FaceLabel.objects.filter(face_id__in=named).delete()
        FaceLabel.objects.bulk_create(
            [
                FaceLabel(
                    face_id=f,
                    person=person,
                    status=FaceLabel.Status.CONFIRMED,
                    labelled_by=labeller,
                )
                for f in named
            ]
        )
        # Faces a member took out of this cluster are not this person either.
        removed = set(
            CannotLink.objects.filter(face_id__in=named).values_list("other_id", flat=True)
        ) | set(CannotLink.objects.filter(other_id__in=named).values_list("face_id", flat=True))
        FaceRejection.objects.bulk_create(
            [
                FaceRejection(face_id=f, person=person, rejected_by=labeller)
                for f in sorted(removed - set(named))
            ],
            ignore_conflicts=True,
        )
        ClusterFace.objects.filter(face_id__in=named).delete()
        ClusterFace.objects.filter(face_id__in=rejected).update(cluster=None)
        cluster_id = cluster.pk  # delete() clears it
        cluster.delete()
        _enrol_best(person, named, user)
        people_services.names_changed_after_commit()
        _changed("named", cluster_id=cluster_id, person_id=person.pk, faces=len(named))
    return person


def _enrol_best(person: Person, face_ids: list[int], user) -> int:
    """Enrol the cluster's best faces that make good references, so that
    identification knows the person at once."""
    already = person.faces.count()
    wanted = max(people_setting("CLUSTER_ENROL_FACES") - already, 0)
    enrolled = 0
    for face in Face.objects.filter(pk__in=face_ids).order_by("-quality", "pk").iterator():
        if enrolled >= wanted:
            break
        try:
            people_services.enrol_from_catalogue(
                person=person, face=face, user=user, source=EnrolledFace.Source.CONFIRMED
            )
        except EnrolmentRefused:
            continue
        enrolled += 1
    return enrolled


def cluster_name(
    *, cluster: FaceCluster, name: str, consent_basis: str, consent_note: str = "", user=None
) -> Person:
    """A new person, with a consent basis, from the cluster."""
    with transaction.atomic():
        # Checked before the person exists: a second click must not make a second one.
        cluster = _locked(cluster)
        person = people_services.person_create(
            name=name, consent_basis=consent_basis, consent_note=consent_note, recorded_by=user
        )
        return cluster_attach(cluster=cluster, person=person, user=user)


def cluster_remove_faces(*, cluster: FaceCluster, face_ids, user=None) -> FaceCluster | None:
    """These faces are not this cluster's person: back to the pool, never to be
    placed with the faces left in it. Returns the cluster, or None if dissolved."""
    with transaction.atomic():
        cluster = _locked(cluster)
        removed = _checked_members(cluster, face_ids)
        kept = [f for f in _member_ids(cluster) if f not in set(removed)]
        cannot_link_record(faces=removed, others=kept, user=user)
        ClusterFace.objects.filter(face_id__in=removed).update(cluster=None)
        remaining = cluster_refresh(cluster_ids=[cluster.pk])
        _changed("changed", cluster_id=cluster.pk, removed=len(removed))
    return cluster if remaining else None


def cluster_split(*, cluster: FaceCluster, face_ids, user=None) -> FaceCluster | None:
    """These faces are another person than the rest: a cluster of their own.
    Returns the new cluster (None when a single face was split off: it waits in
    the pool)."""
    with transaction.atomic():
        cluster = _locked(cluster)
        moving = _checked_members(cluster, face_ids)
        kept = [f for f in _member_ids(cluster) if f not in set(moving)]
        if not kept:
            raise ClusterError("Leave at least one face in the cluster.", "invalid")
        cannot_link_record(faces=moving, others=kept, user=user)
        new = FaceCluster.objects.create(
            face_model_id=cluster.face_model_id,
            size=0,
            embedding_sum=np.zeros(len(cluster.embedding_sum), dtype=np.float32),
        )
        ClusterFace.objects.filter(face_id__in=moving).update(cluster=new)
        remaining = cluster_refresh(cluster_ids=[cluster.pk, new.pk])
        _changed("changed", cluster_id=cluster.pk, split_into=new.pk)
    return new if new.pk in remaining else None


def cluster_merge(*, cluster: FaceCluster, other: FaceCluster, user=None) -> FaceCluster:
    """``other``'s faces join ``cluster``: they are one person. Refused when a
    member said a face of one is not the same as a face of the other."""
    if cluster.pk == other.pk:
        raise ClusterError("A cluster cannot be merged with itself.", "invalid")
    if cluster.face_model_id != other.face_model_id:
        raise ClusterError("These clusters come from different face models.", "invalid")
    with transaction.atomic():
        cluster, other = _locked(cluster), _locked(other)
        mine, theirs = _member_ids(cluster), _member_ids(other)
        conflict = CannotLink.objects.filter(face_id__in=mine, other_id__in=theirs).union(
            CannotLink.objects.filter(face_id__in=theirs, other_id__in=mine)
        )
        pair = conflict.first()
        if pair is not None:
            raise ClusterError(
                f"Face {pair.face_id} was marked as not the same person as face "
                f"{pair.other_id}: remove one of them before merging.",
                "cannot-link",
                http_status=409,
            )
        clash = _one_person_twice(cluster, other)
        if clash is not None:
            raise ClusterError(
                f"Both clusters have a face in {clash}: one photo, or one moment of a "
                "video, cannot show a person twice. Remove the wrong face first.",
                "same-photo",
                http_status=409,
            )
        ClusterFace.objects.filter(cluster=other).update(cluster=cluster)
        cluster.hidden = cluster.hidden and other.hidden
        cluster.save(update_fields=["hidden", "updated_at"])
        merged = other.pk  # delete() clears it
        other.delete()
        cluster_refresh(cluster_ids=[cluster.pk])
        _changed("changed", cluster_id=cluster.pk, merged=merged)
    cluster.refresh_from_db()
    return cluster


def _one_person_twice(cluster: FaceCluster, other: FaceCluster) -> str | None:
    """The name of a file where a face of each cluster would be one person twice
    (the placement rules), or None."""
    rows = ClusterFace.objects.filter(cluster__in=[cluster, other]).values_list(
        "cluster_id",
        "face__media_id",
        "face__media__kind",
        "face__media__original_name",
        "face__track__first_time_s",
        "face__track__last_time_s",
    )
    by_media: dict[int, list] = {}
    for cluster_id, media_id, kind, name, first, last in rows:
        by_media.setdefault(media_id, []).append((cluster_id, kind, name, first, last))
    for faces in by_media.values():
        mine = [f for f in faces if f[0] == cluster.pk]
        theirs = [f for f in faces if f[0] == other.pk]
        for a in mine:
            for b in theirs:
                if a[1] != MediaFile.Kind.VIDEO:
                    return a[2]
                if None not in (a[3], b[3]) and a[3] <= b[4] and b[3] <= a[4]:
                    return a[2]
    return None


def cluster_hide(*, cluster: FaceCluster, hidden: bool = True) -> FaceCluster:
    with transaction.atomic():
        cluster = _locked(cluster)
        cluster.hidden = hidden
        cluster.save(update_fields=["hidden", "updated_at"])
        _changed("changed", cluster_id=cluster.pk, hidden=hidden)
    return cluster


def cluster_reject_suggestion(*, cluster: FaceCluster, person: Person, user=None) -> int:
    """ "This is not Alice": none of the cluster's faces is proposed as her again."""
    with transaction.atomic():
        cluster = _locked(cluster)
        members = _member_ids(cluster)
        FaceLabel.objects.filter(
            face_id__in=members, person=person, status=FaceLabel.Status.SUGGESTED
        ).delete()
        FaceRejection.objects.bulk_create(
            [
                FaceRejection(
                    face_id=f,
                    person=person,
                    rejected_by=user if getattr(user, "pk", None) else None,
                )
                for f in members
            ],
            ignore_conflicts=True,
        )
        people_services.names_changed_after_commit()
        _changed("changed", cluster_id=cluster.pk, rejected_person=person.pk)
    return len(members)


def clusters_rebuild(*, face_model, batch: int = 500, progress=None) -> PlacementCounts:
    """Start discovery over for the model (an operator's command): every cluster
    and the pool are emptied, then every eligible face is placed again in id
    order. Hidden clusters are forgotten; "not the same" is kept. ``progress``
    is called with the running counts after each batch."""
    with transaction.atomic():
        lock_discovery()
        FaceCluster.objects.filter(face_model=face_model).delete()
        ClusterFace.objects.filter(face__face_model=face_model, kept_out=False).delete()
    counts = PlacementCounts()
    face_ids = list(
        eligible_faces(face_model).order_by("pk").values_list("pk", flat=True).iterator()
    )
    for start in range(0, len(face_ids), batch):
        counts.add(place_faces(face_ids[start : start + batch], face_model))
        counts.cluster_ids = set()
        if progress is not None:
            progress(counts, min(start + batch, len(face_ids)), len(face_ids))
    return counts


def faces_return(*, face_ids, face_model) -> PlacementCounts:
    """Faces that are unknown again (their person was deleted) are placed anew."""
    return place_faces(face_ids, face_model)


def faces_keep_out(*, face_ids) -> None:
    """Faces of an erased person: never clustered again."""
    with transaction.atomic():
        lock_discovery()
        touched = _clusters_of(face_ids)
        ClusterFace.objects.bulk_create(
            [ClusterFace(face_id=f, kept_out=True) for f in face_ids],
            update_conflicts=True,
            unique_fields=["face"],
            update_fields=["kept_out", "cluster"],
        )
        cluster_refresh(cluster_ids=touched)


def faces_leave_discovery(*, face_ids) -> None:
    """Faces a member named one by one (confirmed): no longer unknown."""
    with transaction.atomic():
        lock_discovery()
        touched = _clusters_of(face_ids)
        ClusterFace.objects.filter(face_id__in=list(face_ids)).delete()
        cluster_refresh(cluster_ids=touched)


def _clusters_of(face_ids) -> list[int]:
    return sorted(
        set(
            ClusterFace.objects.filter(
                face_id__in=list(face_ids), cluster__isnull=False
            ).values_list("cluster_id", flat=True)
        )
    )
