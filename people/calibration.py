"""The threshold above which identification names a face, per tenant and model.

It starts at the model's registered default (``FaceModel.match_threshold``).
Once the tenant has CALIBRATION_MIN_PEOPLE people enrolled with the model, it
is calibrated from the gallery's own impostor scores: identification answers
with the best-scoring person, so what matters is how high a face scores
against everybody who is *not* that person. For every enrolled face, its best
similarity to the faces of other people is one impostor score; the threshold
is the (1 - target FAR) quantile of those, so that a stranger scores above it
for about ``target_far`` of probes. The estimated FAR is the share of
impostor scores at or above the threshold, and never less than one in the
sample's size: a gallery of 200 faces cannot tell 0.1% from 0.5%, and the
estimate says so rather than claim 0 (docs/benchmarks.md, "People and
identification").
"""

from __future__ import annotations

import math

import numpy as np
from django.utils import timezone

from recognition.models import FaceModel

from .conf import people_setting
from .models import EnrolledFace, MatchThreshold

# Faces the impostor scores are computed from (a square matrix of them).
CALIBRATION_SAMPLE = 4000


def current_threshold(face_model: FaceModel) -> MatchThreshold:
    """The tenant's threshold for ``face_model`` (the model's default until calibrated)."""
    found = MatchThreshold.objects.filter(face_model=face_model).first()
    if found is not None:
        return found
    return MatchThreshold(
        face_model=face_model,
        target_far=people_setting("DEFAULT_TARGET_FAR"),
        threshold=face_model.match_threshold,
    )


def best_impostor_scores(embeddings: np.ndarray, people: np.ndarray) -> np.ndarray:
    """For each row, its highest cosine with a row of another person."""
    similarity = embeddings @ embeddings.T
    similarity[people[:, None] == people[None, :]] = -np.inf
    return similarity.max(axis=1)


def threshold_for(impostors: np.ndarray, target_far: float) -> tuple[float, float]:
    """(threshold, estimated FAR) so that about target_far of the impostors reach it."""
    ordered = np.sort(impostors)
    above = math.floor(target_far * len(ordered))  # impostor scores allowed to reach it
    threshold = float(np.nextafter(ordered[-above - 1], np.inf))
    observed = float(np.mean(impostors >= threshold))
    return threshold, max(observed, 1.0 / len(ordered))


def calibrate(face_model: FaceModel, *, target_far: float | None = None) -> MatchThreshold:
    """Recompute the tenant's threshold for the model from its gallery. Call inside
    the tenant's schema (a task runs it after enrolments change)."""
    record = current_threshold(face_model)
    if target_far is not None:
        record.target_far = target_far
    rows = list(
        EnrolledFace.objects.filter(face_model=face_model)
        .order_by("?")[:CALIBRATION_SAMPLE]
        .values_list("person_id", "embedding")
    )
    people = np.array([person for person, _ in rows], dtype=np.int64)
    distinct = len(set(people.tolist()))
    record.people = distinct
    if distinct < people_setting("CALIBRATION_MIN_PEOPLE"):
        record.threshold = face_model.match_threshold
        record.estimated_far = None
        record.impostor_scores = 0
    else:
        embeddings = np.stack([np.asarray(e, dtype=np.float32) for _, e in rows])
        impostors = best_impostor_scores(embeddings, people)
        record.threshold, record.estimated_far = threshold_for(impostors, record.target_far)
        record.impostor_scores = len(impostors)
    record.calibrated_at = timezone.now()
    record.save()
    return record


def recalibrate_active_model() -> MatchThreshold:
    from recognition.selectors import current_face_model

    return calibrate(current_face_model())
