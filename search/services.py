"""Search a tenant's catalogue by photo or by stored face. Call inside the tenant's schema."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import BinaryIO

import numpy as np
from django.urls import reverse

from media_ingest.models import Face, FaceTrack, MediaFile
from media_ingest.query_photos import request_photo_pixels
from media_ingest.tracking import iou
from recognition.models import FaceModel
from recognition.selectors import current_face_model
from recognition.services import engine_for
from tenants.errors import ServiceError
from vectors.basis import query_embedding

from . import cache, metrics
from .models import SearchAudit
from .query import MAX_TOP_K, SearchFilters, similar_faces

DEFAULT_TOP_K = 20


class SearchError(ServiceError):
    """A search that cannot run, with a reason for the user and a code for programs."""

    def __init__(self, detail: str, code: str = "invalid-search", **kwargs):
        super().__init__(detail, code, **kwargs)


@dataclass(frozen=True)
class SearchOptions:
    top_k: int = DEFAULT_TOP_K
    threshold: float | None = None  # None: the model's calibrated threshold
    kinds: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    face_index: int | None = None  # which face of the query photo; None: the largest
    person_id: int | None = None  # only faces labelled as this person

    def __post_init__(self):
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise SearchError(f"top_k must be between 1 and {MAX_TOP_K}.")
        if self.threshold is not None and not -1 <= self.threshold <= 1:
            raise SearchError("threshold is a cosine similarity between -1 and 1.")


@dataclass
class SearchResult:
    model: dict
    threshold: float
    query: dict
    results: list[dict] = field(default_factory=list)
    timelines: list[dict] = field(default_factory=list)
    cached: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _sha256(photo: BinaryIO) -> str:
    digest = hashlib.sha256()
    photo.seek(0)
    while chunk := photo.read(1024 * 1024):
        digest.update(chunk)
    photo.seek(0)
    return digest.hexdigest()


def _stored_face_of(sha256: str, box) -> int | None:
    """The library's own face for this face of the query photo, when the very
    same file is in the library: its face whose box overlaps this one most."""
    faces = Face.objects.filter(media__sha256=sha256).values_list(
        "pk", "box_left", "box_top", "box_right", "box_bottom"
    )
    best = max(((iou(box, row[1:]), row[0]) for row in faces), default=(0.0, None))
    return best[1] if best[0] >= 0.5 else None


def _query_from_photo(photo: BinaryIO, model: FaceModel, face_index: int | None):
    sha256 = _sha256(photo)
    image = request_photo_pixels(photo)
    faces, embeddings = engine_for(model).analyze_batch([image])[0]
    if not faces:
        raise SearchError("No face was found in the photo.", "no-face")
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in faces]
    chosen = int(np.argmax(areas)) if face_index is None else face_index
    if not 0 <= chosen < len(faces):
        raise SearchError(
            f"The photo has {len(faces)} faces: face_index must be 0 to {len(faces) - 1}."
        )
    query = {
        "source": "image",
        "face_index": chosen,
        "box": list(faces[chosen].box),
        # The decoded photo's size (turned upright): the boxes are in its pixels.
        "size": [int(image.shape[1]), int(image.shape[0])],
        "faces": [{"index": i, "box": list(f.box)} for i, f in enumerate(faces)],
        # The same file is in the library: its face is this one (the page marks it).
        "stored_face_id": _stored_face_of(sha256, faces[chosen].box),
    }
    return query_embedding(face_model_id=model.pk, vector=embeddings[chosen]), query


def _query_from_face(face_id: int, model: FaceModel):
    face = Face.objects.filter(pk=face_id).select_related("media").first()
    if face is None:
        raise SearchError("No such face.", "not-found")
    if face.face_model_id != model.pk:
        raise SearchError(
            "This face was embedded by another model than the one in use; reprocess its file first."
        )
    media = face.media
    photo = media.kind == MediaFile.Kind.IMAGE and media.width and media.height
    query = {
        "source": "face",
        "face_id": face.pk,
        "media_id": face.media_id,
        "media_name": media.original_name,
        "box": list(face.box),
        "stored_face_id": face.pk,
        "crop_url": reverse("api-face-image", args=[face.pk]),
        # What the page shows as the query: the photo with the face boxed, or
        # (a video's face) its crop.
        "image_url": reverse("protected-media", args=[media.file.name]) if photo else None,
        "size": [media.width, media.height] if photo else None,
        "frame_time_s": face.frame_time_s,
    }
    return np.asarray(face.embedding, dtype=np.float32), query


def search_faces(
    *, user, options: SearchOptions, image: BinaryIO | None = None, face_id: int | None = None
) -> SearchResult:
    """Where does this face appear? Ranked hits, and a timeline per video.

    ``image`` is a readable photo file (an upload), checked like an upload.
    """
    if (image is None) == (face_id is None):
        raise SearchError("Send either a photo or a face_id.")
    started = time.perf_counter()
    model = current_face_model()
    if image is not None:
        embedding, query = _query_from_photo(image, model, options.face_index)
    else:
        embedding, query = _query_from_face(face_id, model)
    threshold = model.match_threshold if options.threshold is None else options.threshold
    filters = SearchFilters(
        kinds=options.kinds,
        sources=options.sources,
        created_from=options.created_from,
        created_to=options.created_to,
        person_id=options.person_id,
    )
    key = cache.result_key(
        face_model_id=model.pk,
        embedding=embedding,
        options={**asdict(options), "threshold": threshold},
    )
    payload = cache.get(key)
    cached = payload is not None
    if not cached:
        hits = similar_faces(
            embedding=embedding,
            face_model_id=model.pk,
            top_k=options.top_k,
            threshold=threshold,
            filters=filters,
        )
        payload = _describe(hits)
        cache.put(key, payload)
    SearchAudit.objects.create(
        user=user,
        query_kind=SearchAudit.QueryKind.IMAGE if image is not None else SearchAudit.QueryKind.FACE,
        query_face_id=face_id,
        face_model=model,
        options={**_audit_options(options), "threshold": threshold},
        result_count=len(payload["results"]),
        served_from_cache=cached,
    )
    metrics.searched(
        query="image" if image is not None else "face",
        cached=cached,
        seconds=time.perf_counter() - started,
    )
    own = query.get("stored_face_id")
    return SearchResult(
        model={
            "id": model.pk,
            "name": model.name,
            "dim": model.embedding_dim,
            "match_threshold": model.match_threshold,
        },
        threshold=threshold,
        query=query,
        results=[{**hit, "is_query_face": hit["face_id"] == own} for hit in payload["results"]],
        timelines=payload["timelines"],
        cached=cached,
    )


def _audit_options(options: SearchOptions) -> dict:
    values = asdict(options)
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def _describe(hits) -> dict:
    """Hits with what a page needs: file, crop URL, time range, and per-video timelines."""
    faces = {
        f.pk: f
        for f in Face.objects.filter(pk__in=[h.face_id for h in hits]).select_related(
            "media", "track"
        )
    }
    results, timelines = [], {}
    for hit in hits:
        face = faces.get(hit.face_id)
        if face is None:  # deleted between the query and now
            continue
        media: MediaFile = face.media
        track: FaceTrack | None = face.track
        time_range = [track.first_time_s, track.last_time_s] if track else None
        results.append(
            {
                "face_id": face.pk,
                "media_id": media.pk,
                "media_name": media.original_name,
                "media_kind": media.kind,
                "track_id": track.pk if track else None,
                "similarity": round(hit.similarity, 4),
                "time_range": time_range,
                "frame_time_s": face.frame_time_s,
                "crop_url": reverse("api-face-image", args=[face.pk]),
                "media_url": reverse("media-detail", args=[media.pk]),
            }
        )
        if track is not None:
            timeline = timelines.setdefault(
                media.pk,
                {
                    "media_id": media.pk,
                    "media_name": media.original_name,
                    "duration_s": media.duration_s,
                    "appearances": [],
                },
            )
            timeline["appearances"].append(
                {
                    "track_id": track.pk,
                    "start_s": track.first_time_s,
                    "end_s": track.last_time_s,
                    "similarity": round(hit.similarity, 4),
                }
            )
    for timeline in timelines.values():
        timeline["appearances"].sort(key=lambda a: a["start_s"])
    return {"results": results, "timelines": list(timelines.values())}
