"""InsightFace-style ONNX engine (SCRFD detector + ArcFace-style recogniser)
through the ``insightface`` package and onnxruntime.

Sessions are created lazily on first use, never at import: workers fork, and
an ONNX/CUDA session must not cross a fork. The CUDA provider is requested
when ``onnxruntime.get_available_providers()`` offers it (onnxruntime-gpu);
a CUDA load that fails falls back to CPU silently inside onnxruntime, so
``info.provider`` reports what the session actually uses.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from recognition.engines.base import (
    AnalyzeResult,
    DetectedFace,
    EngineInfo,
    FaceEngine,
    check_image,
    l2_normalise,
)
from recognition.engines.basis import to_sketch_basis
from recognition.engines.geometry import (
    ROTATIONS,
    box_corners,
    box_from_points,
    points_to_original,
    rotate,
    similarity_transform,
)
from recognition.engines.metrics import provider_loaded, timed_stage
from recognition.engines.packs import PackManifest, validate_pack
from recognition.errors import EngineUnavailable, ModelPackError
from recognition.quality import face_quality

# InsightFace's ArcFace alignment template: five landmarks in a 112x112 crop.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
# SCRFD's coarsest feature stride: a detector canvas must be a multiple of it.
DETECTOR_STRIDE = 32


def arcface_landmarks(size: int) -> np.ndarray:
    """The template for a ``size`` px crop, as insightface's ``estimate_norm``
    lays it out (112-multiples scale it; 128-multiples also shift it right)."""
    if size % 112 == 0:
        return ARCFACE_TEMPLATE * (size / 112.0)
    if size % 128 == 0:
        ratio = size / 128.0
        return ARCFACE_TEMPLATE * ratio + np.array([8.0 * ratio, 0.0])
    raise ModelPackError(f"recogniser input {size}px is neither a multiple of 112 nor of 128")


def choose_providers(prefer_gpu: bool = True) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if prefer_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxEngine(FaceEngine):
    """Options:

    det_size: detector input side for large images (default 640)
    small_det_size: images whose longer side is <= it (default 320) are
        detected at their own scale, on a square canvas of that side rounded up
        to a multiple of 32 (SCRFD is fully convolutional: a 250 px portrait
        needs neither a 640 canvas nor upscaling to 320, which costs 1.7x)
    det_thresh / nms_thresh: detector thresholds
    intra_op_threads: onnxruntime threads per session (default 1: we run one
        worker process per core); inter-op is always 1
    prefer_gpu: use CUDA when onnxruntime offers it
    rotate_retry: retry at 90/180/270 degrees when nothing is found
    """

    def __init__(
        self,
        path: str | Path,
        *,
        det_size: int = 640,
        small_det_size: int = 320,
        det_thresh: float = 0.5,
        nms_thresh: float = 0.4,
        intra_op_threads: int = 1,
        prefer_gpu: bool = True,
        rotate_retry: bool = True,
        manifest: PackManifest | None = None,
    ) -> None:
        self.manifest = manifest or validate_pack(path)
        self.det_size = int(det_size)
        self.small_det_size = int(small_det_size)
        self.det_thresh = float(det_thresh)
        self.nms_thresh = float(nms_thresh)
        self.intra_op_threads = int(intra_op_threads)
        self.prefer_gpu = bool(prefer_gpu)
        self.rotate_retry = bool(rotate_retry)
        self._lock = threading.Lock()
        self._models = None

    def _load(self):
        if self._models is None:
            with self._lock:
                if self._models is None:
                    self._models = self._create()
                    provider_loaded("insightface", self.manifest.name, self.provider)
        return self._models

    def _create(self):
        try:
            import onnxruntime as ort
            from insightface.model_zoo import get_model
        except ImportError as exc:  # pragma: no cover - environment dependent
            raise EngineUnavailable(
                "insightface engine needs onnxruntime (or onnxruntime-gpu) and insightface "
                "(pip install --no-deps -r requirements/engines-nodeps.txt)"
            ) from exc
        providers = choose_providers(self.prefer_gpu)
        root = Path(self.manifest.path)

        def options():
            so = ort.SessionOptions()
            so.intra_op_num_threads = self.intra_op_threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.log_severity_level = 3
            return so

        # Absolute .onnx paths and download=False: insightface never fetches.
        detector = get_model(
            str(root / self.manifest.detector),
            providers=providers,
            sess_options=options(),
            download=False,
        )
        recogniser = get_model(
            str(root / self.manifest.recogniser),
            providers=providers,
            sess_options=options(),
            download=False,
        )
        if detector is None or detector.taskname != "detection":
            raise ModelPackError(
                f"{self.manifest.detector}: insightface does not load it as a detector"
            )
        if recogniser is None or recogniser.taskname != "recognition":
            raise ModelPackError(
                f"{self.manifest.recogniser}: insightface does not load it as a recogniser"
            )
        detector.prepare(
            ctx_id=0,
            input_size=(self.det_size, self.det_size),
            det_thresh=self.det_thresh,
            nms_thresh=self.nms_thresh,
        )
        recogniser.prepare(ctx_id=0)
        return detector, recogniser

    @property
    def provider(self) -> str:
        detector, _ = self._load()
        return detector.session.get_providers()[0]

    @property
    def info(self) -> EngineInfo:
        m = self.manifest
        return EngineInfo(
            name=f"insightface-{m.name}",
            version=m.version,
            embedding_dim=m.embedding_dim,
            licence=m.licence,
            weights=dict(m.weights),
            provider=self.provider,
        )

    # -- detection -----------------------------------------------------------
    def _det_input(self, frame: np.ndarray) -> tuple[int, int]:
        longest = max(frame.shape[:2])
        if longest > self.small_det_size:
            return self.det_size, self.det_size
        # Square, so at most small_det_size / 32 shapes (one fixed-shape
        # onnxruntime session each) ever exist.
        side = max(DETECTOR_STRIDE, -(-longest // DETECTOR_STRIDE) * DETECTOR_STRIDE)
        return side, side

    @timed_stage("insightface", "detect", lambda self: self.manifest.name)
    def _find(self, bgr: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float, int]]:
        """[(box4 float, kps (5,2), score, k)] in the rotated-by-k frame of
        the BGR image (insightface's channel order)."""
        detector, _ = self._load()
        tries = (0, *ROTATIONS) if self.rotate_retry else (0,)
        for k in tries:
            frame = rotate(bgr, k)
            dets, kpss = detector.detect(
                frame, input_size=self._det_input(frame), det_thresh=self.det_thresh
            )
            if len(dets):
                return [(dets[i, :4], kpss[i], float(dets[i, 4]), k) for i in range(len(dets))]
        return []

    def _faces(self, image: np.ndarray, found) -> list[DetectedFace]:
        h, w = image.shape[:2]
        faces = []
        for box, kps, score, k in found:
            landmarks = points_to_original(kps, k, w, h)
            obox = box_from_points(points_to_original(box_corners(tuple(box)), k, w, h), w, h)
            faces.append(
                DetectedFace(
                    box=obox,
                    landmarks=landmarks,
                    score=score,
                    quality=face_quality(image, obox, landmarks),
                    rotation=k * 90,
                )
            )
        return faces

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        image = check_image(image)
        return self._faces(image, self._find(_bgr(image)))

    # -- embedding -----------------------------------------------------------
    def _crops(self, bgr: np.ndarray, faces: Sequence[DetectedFace]) -> list[np.ndarray]:
        """ArcFace-aligned BGR crops, as insightface's ``norm_crop`` makes them.
        The similarity transform removes any rotation, so original-frame
        landmarks work for faces found by rotation retry too."""
        size = self.manifest.recogniser_input_size
        template = arcface_landmarks(size)
        return [
            cv2.warpAffine(
                bgr, similarity_transform(f.landmarks, template), (size, size), borderValue=0.0
            )
            for f in faces
        ]

    @timed_stage("insightface", "embed", lambda self: self.manifest.name)
    def _features(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return self.empty_embeddings()
        _, recogniser = self._load()
        return to_sketch_basis(l2_normalise(recogniser.get_feat(crops)))

    def embed(self, image: np.ndarray, faces: Sequence[DetectedFace]) -> np.ndarray:
        image = check_image(image)
        return self._features(self._crops(_bgr(image), faces))

    def analyze_batch(self, images: Sequence[np.ndarray]) -> list[AnalyzeResult]:
        per_image, crops = [], []
        for image in images:
            image = check_image(image)
            bgr = _bgr(image)
            faces = self._faces(image, self._find(bgr))
            per_image.append(faces)
            crops.extend(self._crops(bgr, faces))
        vectors = self._features(crops)
        results, start = [], 0
        for faces in per_image:
            results.append((faces, vectors[start : start + len(faces)]))
            start += len(faces)
        return results

    def empty_embeddings(self) -> np.ndarray:
        return np.zeros((0, self.manifest.embedding_dim), dtype=np.float32)


def _bgr(rgb: np.ndarray) -> np.ndarray:
    # cv2 swaps channels ~20x faster than numpy copying a [..., ::-1] view.
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
