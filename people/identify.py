""" "Who is this?": every face of a photo, named or a first-class unknown.

Runs in the web process, during the request, like a search by photo: the
engine is loaded once per web process, and a worker behind the queue would
add its poll interval and a round trip to every answer (docs/benchmarks.md,
"People and identification"). Costly photos are refused first (request-time
limits) and each member is throttled.

A face is compared with the tenant's enrolled faces of the active model
through the vector layer (``vectors.query.nearest`` over ``ENROLLED_TABLE``);
each person scores their best enrolled face. The best person is the answer
when they reach the tenant's calibrated threshold (``people.calibration``)
and the face is of usable quality; otherwise ``person`` is None.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from pgvector.django import CosineDistance

from media_ingest.query_photos import request_photo_pixels
from recognition.models import FaceModel
from recognition.selectors import current_face_model
from recognition.services import engine_for
from vectors.basis import query_embedding
from vectors.query import nearest

from . import metrics
from .calibration import current_threshold
from .conf import people_setting
from .embeddings import ENROLLED_TABLE
from .models import IdentifyAudit, IdentifyRejection, Person


@dataclass(frozen=True)
class Candidate:
    person_id: int
    similarity: float


@dataclass
class FaceAnswer:
    box: list[int]
    quality: float
    person_id: int | None
    similarity: float | None
    candidates: list[Candidate] = field(default_factory=list)
    reason: str = ""  # why there is no name although a candidate scored: "low-quality"


def rejected_people(embedding: np.ndarray, face_model: FaceModel, threshold: float) -> set[int]:
    """People a member said a face like this one is not (``IdentifyRejection``):
    faces at or above the threshold to a rejected one count as the same face."""
    rows = (
        IdentifyRejection.objects.filter(face_model=face_model)
        .annotate(distance=CosineDistance("embedding", embedding.tolist()))
        .filter(distance__lte=1 - threshold)
        .values_list("person_id", flat=True)
    )
    return set(rows)


def rank_people(
    embedding: np.ndarray, face_model: FaceModel, threshold: float | None = None
) -> list[Candidate]:
    """People by their best enrolled face's similarity to ``embedding`` (stored
    basis); with ``threshold``, without the people rejected for a face like it."""
    neighbours = nearest(
        table=ENROLLED_TABLE,
        embedding=embedding,
        face_model_id=face_model.pk,
        top_k=people_setting("IDENTIFY_SHORTLIST"),
    )
    excluded = rejected_people(embedding, face_model, threshold) if threshold is not None else set()
    best: dict[int, float] = {}
    for neighbour in neighbours:
        person_id = int(neighbour.carried[0])
        if person_id not in excluded:
            best.setdefault(person_id, neighbour.similarity)  # best first
    return [Candidate(p, s) for p, s in best.items()]


def answer_face(
    embedding: np.ndarray, quality: float, box, face_model: FaceModel, threshold: float
) -> FaceAnswer:
    candidates = rank_people(embedding, face_model, threshold)[
        : people_setting("IDENTIFY_CANDIDATES")
    ]
    top = candidates[0] if candidates else None
    answer = FaceAnswer(
        box=[int(v) for v in box],
        quality=round(float(quality), 3),
        person_id=None,
        similarity=round(top.similarity, 4) if top else None,
        candidates=candidates,
    )
    if top is not None and top.similarity >= threshold:
        if quality >= people_setting("IDENTIFY_MIN_QUALITY"):
            answer.person_id = top.person_id
        else:
            answer.reason = "low-quality"
    return answer


@dataclass
class Identification:
    faces: list[FaceAnswer]
    model: FaceModel
    threshold: float
    elapsed_ms: float


def identify_photo(*, user, photo: BinaryIO) -> Identification:
    """Name every face of ``photo``; audited (who, when, how many, what), never the image."""
    started = time.perf_counter()
    identification = identify_image(request_photo_pixels(photo))
    IdentifyAudit.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        face_model=identification.model,
        face_count=len(identification.faces),
        results=[
            {"person_id": a.person_id, "similarity": a.similarity} for a in identification.faces
        ],
    )
    identification.elapsed_ms = (time.perf_counter() - started) * 1000
    return identification


def identify_image(image: np.ndarray, *, source: str = "photo") -> Identification:
    """Name every face of decoded RGB pixels against the tenant's enrolled
    people, with the calibrated threshold. Not audited: callers keep their own
    record (``identify_photo`` the identification log, attendance its marks).
    ``source`` is the kind of picture (``recognition.services.SOURCE_OPTIONS``):
    a kiosk's camera frames skip what only photos need.
    Call inside the tenant's schema."""
    started = time.perf_counter()
    face_model = current_face_model()
    faces, embeddings = engine_for(face_model, source=source).analyze_batch([image])[0]
    threshold = current_threshold(face_model).threshold
    answers = [
        answer_face(
            query_embedding(face_model_id=face_model.pk, vector=embedding),
            face.quality,
            face.box,
            face_model,
            threshold,
        )
        for face, embedding in zip(faces, embeddings, strict=True)
    ]
    elapsed = time.perf_counter() - started
    metrics.identified(answers, elapsed)
    return Identification(answers, face_model, threshold, elapsed * 1000)


def describe(identification: Identification) -> dict:
    """The API's answer: people as {id, name}, candidates with theirs."""
    ids = {c.person_id for a in identification.faces for c in a.candidates}
    names = dict(Person.objects.filter(pk__in=ids).values_list("pk", "name"))

    def person(person_id):
        return {"id": person_id, "name": names.get(person_id, "")} if person_id else None

    return {
        "faces": [
            {
                "box": a.box,
                "quality": a.quality,
                "person": person(a.person_id),
                "similarity": a.similarity,
                "threshold": round(identification.threshold, 4),
                "reason": a.reason,
                "candidates": [
                    {"person": person(c.person_id), "similarity": round(c.similarity, 4)}
                    for c in a.candidates
                ],
            }
            for a in identification.faces
        ],
        "model": identification.model.label,
        "elapsed_ms": round(identification.elapsed_ms, 1),
    }
