"""Names across the catalogue: catalogue faces matched against the people's
galleries, labelled ``suggested`` (person, similarity).

Two directions, both through the vector layer:

* a person's gallery changed: their enrolled faces search the catalogue
  (``FACE_TABLE``) for faces at or above the tenant's threshold;
* a file was processed: each of its faces searches the galleries
  (``ENROLLED_TABLE``) for its best person.

A suggestion never overrides a confirmed label, never goes to a person the
face was rejected for, and replaces another person's suggestion only with a
higher similarity. Call inside the tenant's schema.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import transaction

from media_ingest.annotations import names_changed
from media_ingest.embeddings import FACE_TABLE
from media_ingest.models import Face
from recognition.models import FaceModel
from recognition.selectors import current_face_model
from vectors.query import MAX_TOP_K, nearest

from .calibration import current_threshold
from .conf import people_setting
from .identify import rank_people
from .models import EnrolledFace, FaceLabel, FaceRejection, IdentifyRejection


@dataclass
class MatchCounts:
    compared: int = 0
    suggested: int = 0


def _suggest(face_id: int, person_id: int, similarity: float, counts: MatchCounts) -> None:
    if FaceRejection.objects.filter(face_id=face_id, person_id=person_id).exists():
        return
    label = FaceLabel.objects.select_for_update().filter(face_id=face_id).first()
    if label is not None:
        if label.status == FaceLabel.Status.CONFIRMED:
            return
        if label.person_id != person_id and (label.similarity or 0) >= similarity:
            return
        label.person_id, label.similarity = person_id, similarity
        label.save(update_fields=["person", "similarity", "updated_at"])
    else:
        FaceLabel.objects.create(
            face_id=face_id,
            person_id=person_id,
            status=FaceLabel.Status.SUGGESTED,
            similarity=similarity,
        )
    counts.suggested += 1


def _drop_rejected_lookalikes(best: dict[int, float], person_id, face_model, threshold) -> None:
    """Faces like one rejected for this person on an identification are not theirs."""
    rejected = list(
        IdentifyRejection.objects.filter(person_id=person_id, face_model=face_model).values_list(
            "embedding", flat=True
        )
    )
    if not rejected or not best:
        return
    rejected = np.asarray(rejected, dtype=np.float32)
    faces = Face.objects.filter(pk__in=list(best)).values_list("pk", "embedding")
    for face_id, embedding in faces:
        if float((rejected @ np.asarray(embedding, dtype=np.float32)).max()) >= threshold:
            best.pop(face_id, None)


def match_person(person_id: int) -> MatchCounts:
    """Suggest this person on catalogue faces that match their gallery; drop their
    suggestions that no longer reach the threshold."""
    face_model = current_face_model()
    threshold = current_threshold(face_model).threshold
    counts = MatchCounts()
    best: dict[int, float] = {}
    gallery = EnrolledFace.objects.filter(person_id=person_id, face_model=face_model)
    for embedding in gallery.values_list("embedding", flat=True):
        for hit in nearest(
            table=FACE_TABLE,
            embedding=np.asarray(embedding, dtype=np.float32),
            face_model_id=face_model.pk,
            top_k=MAX_TOP_K,
            threshold=threshold,
        ):
            best[hit.id] = max(best.get(hit.id, -1.0), hit.similarity)
    _drop_rejected_lookalikes(best, person_id, face_model, threshold)
    counts.compared = len(best)
    with transaction.atomic():
        FaceLabel.objects.filter(person_id=person_id, status=FaceLabel.Status.SUGGESTED).exclude(
            face_id__in=list(best)
        ).delete()
        for face_id, similarity in sorted(best.items()):
            _suggest(face_id, person_id, round(similarity, 4), counts)
        transaction.on_commit(lambda: names_changed.send(sender=FaceLabel))
    return counts


def match_media(media_id: int, face_model: FaceModel) -> MatchCounts:
    """Suggest the best person (of ``face_model``'s galleries) for each face of a
    processed file."""
    counts = MatchCounts()
    if not EnrolledFace.objects.filter(face_model=face_model).exists():
        return counts
    threshold = current_threshold(face_model).threshold
    faces = Face.objects.filter(media_id=media_id, face_model=face_model).values_list(
        "pk", "embedding", "quality"
    )
    with transaction.atomic():
        for face_id, embedding, quality in faces:
            counts.compared += 1
            if quality < people_setting("IDENTIFY_MIN_QUALITY"):
                continue
            rejected = set(
                FaceRejection.objects.filter(face_id=face_id).values_list("person_id", flat=True)
            )
            ranked = rank_people(np.asarray(embedding, dtype=np.float32), face_model, threshold)
            top = next((c for c in ranked if c.person_id not in rejected), None)
            if top is not None and top.similarity >= threshold:
                _suggest(face_id, top.person_id, round(top.similarity, 4), counts)
        if counts.suggested:
            transaction.on_commit(lambda: names_changed.send(sender=FaceLabel))
    return counts
