"""Turning a stored file into faces: the work behind the process_media task.

Exactly-once, even when a worker dies: the attempt is counted and committed
before the heavy work; the results of a run replace any earlier run's in one
transaction under a row lock, and unique (media, ordinal) constraints refuse
a second set of faces from a concurrent run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from dataclasses import dataclass

import cv2
import numpy as np
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from recognition.engines.base import DetectedFace, FaceEngine
from recognition.errors import RecognitionError
from recognition.models import FaceModel
from recognition.selectors import current_face_model
from recognition.services import engine_for
from vectors.basis import embeddings_for_storage

from . import metrics, storage_paths
from .conf import ingest_setting
from .embeddings import FACE_TABLE
from .models import Face, FaceTrack, MediaFile
from .progress import media_event
from .services import job_file_finished
from .signals import faces_removing, faces_stored
from .tracking import FrameFace, build_tracks
from .validation import MediaRejected, decode_image
from .video import sample_frames

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 360


@dataclass
class FoundFace:
    face: DetectedFace
    embedding: np.ndarray
    crop_jpeg: bytes
    frame_time_s: float | None = None
    track: tuple[float, float, int] | None = None  # first s, last s, frames


def _begin(media_id: int) -> MediaFile | None:
    """Count this attempt and mark the file processing; None if there is nothing to do."""
    with transaction.atomic():
        media = MediaFile.objects.select_for_update().filter(pk=media_id).first()
        if media is None or media.status in (MediaFile.Status.DONE, MediaFile.Status.FAILED):
            return None
        media.attempts += 1
        if media.attempts > ingest_setting("MAX_ATTEMPTS"):
            _mark_failed(
                media,
                "quarantined",
                f"Processing stopped the worker {media.attempts - 1} times; the file was set "
                "aside so that other files keep flowing.",
            )
            return None
        media.status = MediaFile.Status.PROCESSING
        media.status_changed_at = timezone.now()
        media.save(update_fields=["attempts", "status", "status_changed_at"])
    media_event(media, attempt=media.attempts)
    return media


def _mark_failed(media: MediaFile, code: str, reason: str) -> None:
    """Inside a transaction holding the row lock."""
    metrics.file_processed("quarantined" if code == "quarantined" else "failed")
    media.status = MediaFile.Status.FAILED
    media.status_changed_at = timezone.now()
    media.error_code = code
    media.error = reason
    media.save(update_fields=["attempts", "status", "status_changed_at", "error_code", "error"])
    job_file_finished(job_id=media.job_id, failed=True)
    media_event(media)


def _crop_jpeg(image: np.ndarray, face: DetectedFace) -> bytes:
    """A square crop around the face with some margin, at most CROP_SIDE pixels."""
    left, top, right, bottom = face.box
    side = int(max(right - left, bottom - top) * 1.4)
    cx, cy = (left + right) // 2, (top + bottom) // 2
    height, width = image.shape[:2]
    # Never empty, even for a box whose centre lies outside the image.
    x0, y0 = min(max(cx - side // 2, 0), width - 1), min(max(cy - side // 2, 0), height - 1)
    x1, y1 = max(min(cx + side // 2, width), x0 + 1), max(min(cy + side // 2, height), y0 + 1)
    return _fitted_jpeg(image[y0:y1, x0:x1], ingest_setting("CROP_SIDE"), quality=88)


def _fitted_jpeg(image: np.ndarray, side: int, *, quality: int) -> bytes:
    """RGB pixels shrunk to fit ``side`` (never enlarged), as a JPEG. OpenCV's
    area resize and libjpeg-turbo encoder: 1.7x PIL's for a thumbnail and the
    crops of a file (``bench.encoders``, docs/benchmarks.md)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any non-empty 8-bit RGB array
        raise RecognitionError("the JPEG encoder refused the pixels")
    return data.tobytes()


@dataclass
class Analysis:
    """What one run found in a file, held in memory until ``_store`` writes it
    under the file's row lock (so a file deleted meanwhile leaves nothing)."""

    faces: list[FoundFace]
    thumbnail_jpeg: bytes | None


def _load_photo(media: MediaFile) -> np.ndarray:
    """The one decode of an uploaded photo (validation reads only its structure)."""
    with default_storage.open(media.file.name, "rb") as handle:
        return decode_image(handle.read(), max_pixels=ingest_setting("MAX_IMAGE_PIXELS"))


def _thumbnail_jpeg(image: np.ndarray) -> bytes:
    """A small JPEG for the library grid (originals can be tens of megapixels)."""
    return _fitted_jpeg(image, THUMBNAIL_SIDE, quality=82)


def _photo_analysis(image: np.ndarray, faces, embeddings) -> Analysis:
    found = [
        FoundFace(face, embedding, _crop_jpeg(image, face))
        for face, embedding in zip(faces, embeddings, strict=True)
    ]
    return Analysis(found, _thumbnail_jpeg(image))


def _analyse_image(media: MediaFile, engine: FaceEngine) -> Analysis:
    image = _load_photo(media)
    faces, embeddings = engine.analyze_batch([image])[0]
    return _photo_analysis(image, faces, embeddings)


def _scaled(face: DetectedFace, factor: float) -> DetectedFace:
    if abs(factor - 1) < 1e-6:
        return face
    return dataclasses.replace(
        face,
        box=tuple(round(v * factor) for v in face.box),
        landmarks=np.asarray(face.landmarks, dtype=np.float32) * factor,
    )


def _analyse_video(media: MediaFile, engine: FaceEngine) -> Analysis:
    # The decoder runs in a child process on a path: a local copy from S3.
    with storage_paths.local_path(media.file.name) as path:
        return _analyse_video_at(media, engine, path)


def _analyse_video_at(media: MediaFile, engine: FaceEngine, path: str) -> Analysis:
    fps = ingest_setting("VIDEO_SAMPLE_FPS")
    batch_size = ingest_setting("VIDEO_BATCH_FRAMES")
    facts: dict = {}  # what the decoder says of the video, before its first frame

    def started(info) -> None:
        MediaFile.objects.filter(pk=media.pk).update(
            width=info.width, height=info.height, duration_s=info.duration_s
        )
        facts["width"] = info.width
        facts["expected"] = max(
            1, min(int(info.duration_s * fps) + 1, ingest_setting("VIDEO_MAX_FRAMES"))
        )

    frames_faces: list[list[FrameFace]] = []
    batch = []
    thumbnail = None

    def flush() -> None:
        results = engine.analyze_batch([frame.image for frame in batch])
        for frame, (faces, embeddings) in zip(batch, results, strict=True):
            # Frames may be downscaled for decoding; boxes are kept in the video's pixels.
            scale = facts["width"] / frame.image.shape[1]
            faces = [_scaled(face, scale) for face in faces]
            frames_faces.append(
                [
                    FrameFace(
                        frame_index=frame.index,
                        time_s=frame.time_s,
                        box=face.box,
                        landmarks=face.landmarks,
                        quality=face.quality,
                        embedding=embedding,
                        payload=(face, _crop_jpeg(frame.image, _scaled(face, 1 / scale))),
                    )
                    for face, embedding in zip(faces, embeddings, strict=True)
                ]
            )
        expected = facts["expected"]
        media_event(
            media,
            frame=batch[-1].index + 1,
            frames=expected,
            message=f"{media.original_name}: frame {batch[-1].index + 1} of {expected}",
        )
        batch.clear()

    # One decoder process probes and samples: a second one cost ~0.9 s a video.
    for frame in sample_frames(
        path,
        fps=fps,
        max_frames=ingest_setting("VIDEO_MAX_FRAMES"),
        max_side=ingest_setting("VIDEO_MAX_SIDE"),
        timeout_s=ingest_setting("VIDEO_TIMEOUT_S"),
        memory_limit_mb=ingest_setting("VIDEO_MEMORY_MB"),
        on_info=started,
    ):
        metrics.VIDEO_FRAMES.inc()
        if frame.index == 0:
            thumbnail = _thumbnail_jpeg(frame.image)
        batch.append(frame)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()

    found = []
    for track in build_tracks(frames_faces):
        best = track.best
        face, crop = best.payload
        found.append(
            FoundFace(
                face,
                track.embedding,
                crop,
                frame_time_s=best.time_s,
                track=(track.first_time_s, track.last_time_s, len(track.faces)),
            )
        )
    return Analysis(found, thumbnail)


def _store(media_id: int, face_model: FaceModel, analysis: Analysis) -> MediaFile | None:
    """Replace the file's faces with this run's, in one transaction.

    Every file this run leaves (crops, the thumbnail) is written here, while the
    row is locked: a delete waits for the lock, then removes them all; a file
    deleted before leaves the run with nothing to write.
    """
    found = analysis.faces
    with transaction.atomic():
        media = MediaFile.objects.select_for_update().filter(pk=media_id).first()
        if media is None or media.status != MediaFile.Status.PROCESSING:
            return None  # deleted meanwhile, or another delivery already finished it
        if analysis.thumbnail_jpeg is not None:
            storage_paths.write_atomically(
                storage_paths.thumbnail_name(media.pk), analysis.thumbnail_jpeg
            )
        if media.face_count or media.attempts > 1:  # an earlier run's faces, if any
            faces_removing.send(sender=MediaFile, media_id=media.pk)
            media.faces.all().delete()
            media.tracks.all().delete()
        embeddings = embeddings_for_storage(
            table=FACE_TABLE,
            face_model_id=face_model.pk,
            dimension=face_model.embedding_dim,
            vectors=[item.embedding for item in found],
        )
        # One INSERT for the tracks and one for the faces, whatever their number.
        tracks = FaceTrack.objects.bulk_create(
            FaceTrack(
                media=media,
                ordinal=ordinal,
                first_time_s=item.track[0],
                last_time_s=item.track[1],
                frame_count=item.track[2],
            )
            for ordinal, item in enumerate(found)
            if item.track is not None
        )
        track_of = {track.ordinal: track for track in tracks}
        faces = Face.objects.bulk_create(
            Face(
                media=media,
                ordinal=ordinal,
                track=track_of.get(ordinal),
                face_model=face_model,
                box_left=item.face.box[0],
                box_top=item.face.box[1],
                box_right=item.face.box[2],
                box_bottom=item.face.box[3],
                landmarks=np.asarray(item.face.landmarks).round(1).tolist(),
                quality=float(item.face.quality),
                detector_score=float(item.face.score),
                frame_time_s=item.frame_time_s,
                crop=storage_paths.write_atomically(
                    storage_paths.crop_name(media.pk, ordinal), item.crop_jpeg
                ),
                embedding=embedding,
            )
            for ordinal, (item, embedding) in enumerate(zip(found, embeddings, strict=True))
        )
        media.status = MediaFile.Status.DONE
        media.status_changed_at = timezone.now()
        media.processed_at = media.status_changed_at
        media.face_model = face_model
        media.face_count = len(found)
        media.thumbnail = (
            storage_paths.thumbnail_name(media.pk) if analysis.thumbnail_jpeg is not None else ""
        )
        media.error_code = media.error = ""
        media.save(
            update_fields=[
                "status",
                "status_changed_at",
                "processed_at",
                "face_model",
                "face_count",
                "thumbnail",
                "error_code",
                "error",
            ]
        )
        job_file_finished(job_id=media.job_id, failed=False)
        metrics.file_processed("done")
        metrics.faces_stored(item.face.quality for item in found)
        media_event(media)
        face_ids = [face.pk for face in faces]
        transaction.on_commit(
            functools.partial(
                _announce_stored, connection.schema_name, media_id, face_ids, face_model
            ),
            robust=True,
        )
    return media


def _announce_stored(
    schema_name: str, media_id: int, face_ids: list[int], face_model: FaceModel
) -> None:
    """The receivers (search's cache, people's naming and placement) run in the
    file's schema, wherever the commit's callbacks are run from (a worker runs
    them on its commit, still in the schema and with its tenant)."""
    schema = (
        contextlib.nullcontext()
        if connection.schema_name == schema_name
        else schema_context(schema_name)
    )
    with schema:
        faces_stored.send(
            sender=MediaFile, media_id=media_id, face_ids=face_ids, face_model=face_model
        )


def _fail_unreadable(media_id: int, exc: Exception) -> str:
    """Record the refusal; "skipped" when the file was deleted meanwhile."""
    reason = getattr(exc, "reason", None) or str(exc)
    code = getattr(exc, "code", None) or "unreadable"
    with transaction.atomic():
        locked = MediaFile.objects.select_for_update().filter(pk=media_id).first()
        # Deleted meanwhile (its original went with it, which may be why it failed).
        if locked is None or locked.status != MediaFile.Status.PROCESSING:
            return "skipped"
        _mark_failed(locked, code, reason)
    return "failed"


def process_photo_batch(media_ids: list[int]) -> dict[int, str]:
    """Several photos with one recogniser call over all their faces (GPU workers).

    Same guarantees as ``process_media_file``, file by file.
    """
    metrics.BATCH_SIZE.observe(len(media_ids))
    with metrics.BATCH_DURATION.time():
        return _process_photo_batch(media_ids)


def _process_photo_batch(media_ids: list[int]) -> dict[int, str]:
    face_model = current_face_model()
    engine = engine_for(face_model)
    started, images, outcome = [], [], {}
    for media_id in media_ids:
        media = _begin(media_id)
        if media is None:
            outcome[media_id] = "skipped"
            continue
        try:
            images.append(_load_photo(media))
        except (MediaRejected, RecognitionError) as exc:
            outcome[media_id] = _fail_unreadable(media_id, exc)
            continue
        started.append(media_id)
    results = engine.analyze_batch(images) if images else []
    for media_id, image, (faces, embeddings) in zip(started, images, results, strict=True):
        stored = _store(media_id, face_model, _photo_analysis(image, faces, embeddings))
        outcome[media_id] = "done" if stored else "skipped"
    return outcome


def process_media_file(media_id: int) -> str:
    """Find, embed and store every face of one file. Call inside the tenant's schema."""
    media = _begin(media_id)
    if media is None:
        return "skipped"
    with metrics.PROCESSING_DURATION.labels(kind=media.kind).time():
        return _process_started(media)


def _process_started(media: MediaFile) -> str:
    media_id = media.pk
    face_model = current_face_model()
    engine = engine_for(
        face_model, source="video" if media.kind == MediaFile.Kind.VIDEO else "photo"
    )
    try:
        if media.kind == MediaFile.Kind.VIDEO:
            analysis = _analyse_video(media, engine)
        else:
            analysis = _analyse_image(media, engine)
    except (MediaRejected, RecognitionError) as exc:
        return _fail_unreadable(media_id, exc)
    stored = _store(media_id, face_model, analysis)
    return "done" if stored else "skipped"
