"""The engine contract every caller relies on.

Images are contiguous RGB ``uint8`` arrays of shape (H, W, 3) everywhere
(see :func:`recognition.imaging.load_image`). Coordinates are pixels of that
image, whatever the engine did internally (downscaling, rotation retry).
Embeddings are L2-normalised float32 rows; wider than 128-D they are in the
fixed random basis of :mod:`recognition.engines.basis` (search's sketch index
relies on it).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# InsightFace / ArcFace order of the five landmarks (image-left first).
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True, eq=False)
class DetectedFace:
    """One face found in an image.

    box: (left, top, right, bottom) in original image pixels, clipped to it.
    landmarks: (5, 2) float32, original image coordinates, order LANDMARK_NAMES.
    score: detector confidence (engine-specific scale; higher is better).
    quality: 0..1 from size, blur and pose (see recognition.quality).
    rotation: degrees counter-clockwise the image was rotated (np.rot90 k*90)
        for the detector to find this face; 0 normally. box/landmarks are
        still in the original frame; engines use it to re-align for embed().
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    score: float
    quality: float
    rotation: int = 0

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class EngineInfo:
    """What produced an embedding; the model registry stores this."""

    name: str
    version: str
    embedding_dim: int
    licence: str
    weights: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    provider: str = ""


AnalyzeResult = tuple[list[DetectedFace], np.ndarray]


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.size == 0:
        return vectors
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def check_image(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a contiguous RGB uint8 array or raise ValueError."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a numpy uint8 array")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be RGB (H, W, 3), got shape {image.shape}")
    return np.ascontiguousarray(image)


class FaceEngine(abc.ABC):
    """Detect, align and embed faces. Instances are per process (not fork-safe
    before first use is fine: heavy state is loaded lazily)."""

    @property
    @abc.abstractmethod
    def info(self) -> EngineInfo: ...

    @abc.abstractmethod
    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """Faces in ``image``, best score first."""

    @abc.abstractmethod
    def embed(self, image: np.ndarray, faces: Sequence[DetectedFace]) -> np.ndarray:
        """(len(faces), dim) float32, L2-normalised, same order as ``faces``."""

    @abc.abstractmethod
    def analyze_batch(self, images: Sequence[np.ndarray]) -> list[AnalyzeResult]:
        """Detect in every image, then embed all faces of all images with one
        recogniser call. Returns one (faces, embeddings) pair per image."""

    def analyze(self, image: np.ndarray) -> AnalyzeResult:
        return self.analyze_batch([image])[0]

    def empty_embeddings(self) -> np.ndarray:
        return np.zeros((0, self.info.embedding_dim), dtype=np.float32)
