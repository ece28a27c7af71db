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
import warnings
from collections.abc import Sequence
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
    rotate,
)
from recognition.engines.packs import PackManifest, validate_pack
from recognition.errors import EngineUnavailable, ModelPackError
from recognition.quality import face_quality


def choose_providers(prefer_gpu: bool = True) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if prefer_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxEngine(FaceEngine):
    """Options:

    det_size: detector input side for large images (default 640)
    small_det_size: side used when the image's longer side is <= it (default 320;
        SCRFD is fully convolutional, so small images need no 640 canvas)
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
        return self._models

    def _create(self):
        try:
            import onnxruntime as ort
            from insightface.model_zoo import get_model
            from insightface.utils import face_align
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
        return detector, recogniser, face_align

    @property
    def provider(self) -> str:
        detector, _, _ = self._load()
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
        side = self.small_det_size if max(frame.shape[:2]) <= self.small_det_size else self.det_size
        return side, side

    def _find(self, image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float, int]]:
        """[(box4 float, kps (5,2), score, k)] in the rotated-by-k frame."""
        detector, _, _ = self._load()
        tries = (0, *ROTATIONS) if self.rotate_retry else (0,)
        for k in tries:
            bgr = np.ascontiguousarray(rotate(image, k)[:, :, ::-1])
            dets, kpss = detector.detect(
                bgr, input_size=self._det_input(bgr), det_thresh=self.det_thresh
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
        return self._faces(image, self._find(image))

    # -- embedding -----------------------------------------------------------
    def _crops(self, image: np.ndarray, faces: Sequence[DetectedFace]) -> list[np.ndarray]:
        # The similarity transform in norm_crop removes any rotation, so
        # original-frame landmarks work for faces found by rotation retry too.
        _, _, face_align = self._load()
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        size = self.manifest.recogniser_input_size
        with warnings.catch_warnings():
            # insightface 2.1 calls skimage's deprecated SimilarityTransform.estimate
            warnings.simplefilter("ignore", FutureWarning)
            return [face_align.norm_crop(bgr, landmark=f.landmarks, image_size=size) for f in faces]

    def _features(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return self.empty_embeddings()
        _, recogniser, _ = self._load()
        return l2_normalise(recogniser.get_feat(crops))

    def embed(self, image: np.ndarray, faces: Sequence[DetectedFace]) -> np.ndarray:
        image = check_image(image)
        return self._features(self._crops(image, faces))

    def analyze_batch(self, images: Sequence[np.ndarray]) -> list[AnalyzeResult]:
        per_image, crops = [], []
        for image in images:
            image = check_image(image)
            faces = self._faces(image, self._find(image))
            per_image.append(faces)
            crops.extend(self._crops(image, faces))
        vectors = self._features(crops)
        results, start = [], 0
        for faces in per_image:
            results.append((faces, vectors[start : start + len(faces)]))
            start += len(faces)
        return results

    def empty_embeddings(self) -> np.ndarray:
        return np.zeros((0, self.manifest.embedding_dim), dtype=np.float32)
