"""Coordinate helpers shared by engines: rotation retry and downscaling."""

from __future__ import annotations

import cv2
import numpy as np

ROTATIONS = (1, 2, 3)  # np.rot90 k values tried when nothing is found (90/180/270 CCW)


def rotate(image: np.ndarray, k: int) -> np.ndarray:
    """Rotate by k*90 degrees counter-clockwise (np.rot90), contiguous."""
    return np.ascontiguousarray(np.rot90(image, k)) if k % 4 else image


def points_to_original(points: np.ndarray, k: int, orig_w: int, orig_h: int) -> np.ndarray:
    """Map (N, 2) x/y points from the frame ``rotate(image, k)`` back to the
    original image frame (continuous pixel-edge coordinates)."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    x, y = pts[:, 0], pts[:, 1]
    k %= 4
    if k == 0:
        out = np.stack([x, y], axis=1)
    elif k == 1:  # rot90 CCW: rotated(x, y) = original(W - y, x)
        out = np.stack([orig_w - y, x], axis=1)
    elif k == 2:
        out = np.stack([orig_w - x, orig_h - y], axis=1)
    else:  # k == 3, rot90 CW
        out = np.stack([y, orig_h - x], axis=1)
    return out.astype(np.float32)


def points_to_rotated(points: np.ndarray, k: int, orig_w: int, orig_h: int) -> np.ndarray:
    """Inverse of :func:`points_to_original`."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    x, y = pts[:, 0], pts[:, 1]
    k %= 4
    if k == 0:
        out = np.stack([x, y], axis=1)
    elif k == 1:
        out = np.stack([y, orig_w - x], axis=1)
    elif k == 2:
        out = np.stack([orig_w - x, orig_h - y], axis=1)
    else:
        out = np.stack([orig_h - y, x], axis=1)
    return out.astype(np.float32)


def box_from_points(points: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer (left, top, right, bottom) enclosing ``points``, clipped to the image."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    left = int(np.clip(np.floor(pts[:, 0].min()), 0, width))
    top = int(np.clip(np.floor(pts[:, 1].min()), 0, height))
    right = int(np.clip(np.ceil(pts[:, 0].max()), 0, width))
    bottom = int(np.clip(np.ceil(pts[:, 1].max()), 0, height))
    return left, top, right, bottom


def box_corners(box: tuple[float, float, float, float]) -> np.ndarray:
    left, top, right, bottom = box
    return np.array([[left, top], [right, bottom]], dtype=np.float32)


def to_side(
    image: np.ndarray, max_side: int | None, min_side: int | None = None
) -> tuple[np.ndarray, float]:
    """Return (image resized so its longer side lies in [min_side, max_side],
    scale factor). Without ``min_side`` only large images change."""
    h, w = image.shape[:2]
    longest = max(h, w)
    if max_side and longest > max_side:
        scale, interpolation = max_side / float(longest), cv2.INTER_AREA
    elif min_side and longest < min_side:
        scale, interpolation = min_side / float(longest), cv2.INTER_LINEAR
    else:
        return image, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=interpolation)), scale


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the least-squares similarity (rotation, uniform scale,
    translation; no reflection) taking ``src`` points onto ``dst``: the
    estimate skimage's SimilarityTransform makes (Umeyama), in its 2-D
    closed form. skimage's generic estimator costs ~0.5 ms per face, as much
    as a tenth of embedding it."""
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    sx, sy = (src - src_mean).T
    dx, dy = (dst - dst_mean).T
    norm = float((sx * sx + sy * sy).sum())
    if norm == 0.0:  # all points coincide: no scale or rotation to recover
        a, b = 1.0, 0.0
    else:
        a = float((sx * dx + sy * dy).sum()) / norm
        b = float((sx * dy - sy * dx).sum()) / norm
    linear = np.array([[a, -b], [b, a]])
    return np.hstack([linear, (dst_mean - linear @ src_mean)[:, None]])


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
