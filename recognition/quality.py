"""A 0..1 quality score per face, so callers can pick the best face of a
person and skip faces not worth enrolling or searching with.

Formula (each part in 0..1)::

    size  = clip((min(box_w, box_h) - 24) / (96 - 24), 0, 1)
            faces under 24 px are useless, 96 px and more are fully usable
    blur  = clip(var(Laplacian(grey crop resized to 64x64)) / 200, 0, 1)
            resizing to a fixed size makes the variance comparable between
            faces of different sizes; ~200 and up is a sharp face
    pose  = clip(1 - max(yaw / 0.5, pitch / 0.6), 0, 1)
            from the 5 landmarks, in the frame of the eye line (roll is
            ignored: alignment removes it):
              yaw   = |nose offset along the eye line from the eye midpoint|
                      / eye distance           (0 frontal, ~0.5 profile)
              pitch = |(nose drop below the eye line) / eye distance - 0.57|
                      (0.57 is the ArcFace template's frontal ratio)
    quality = size**0.4 * blur**0.3 * pose**0.3

The weighted geometric mean makes any part near zero pull the whole score
down (a sharp, frontal but 10-pixel face is still poor).
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_FACE_PX = 24
FULL_FACE_PX = 96
SHARP_LAPLACIAN_VAR = 200.0
FRONTAL_NOSE_DROP = 0.57


def size_score(box: tuple[int, int, int, int]) -> float:
    side = min(box[2] - box[0], box[3] - box[1])
    return float(np.clip((side - MIN_FACE_PX) / (FULL_FACE_PX - MIN_FACE_PX), 0.0, 1.0))


def blur_score(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    h, w = image.shape[:2]
    left, top, right, bottom = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    if right - left < 2 or bottom - top < 2:
        return 0.0
    crop = cv2.cvtColor(np.ascontiguousarray(image[top:bottom, left:right]), cv2.COLOR_RGB2GRAY)
    crop = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    variance = float(cv2.Laplacian(crop, cv2.CV_64F).var())
    return float(np.clip(variance / SHARP_LAPLACIAN_VAR, 0.0, 1.0))


def pose_angles(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) deviations as defined in the module docstring."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left_eye, right_eye, nose = pts[0], pts[1], pts[2]
    eye_vec = right_eye - left_eye
    eye_dist = float(np.linalg.norm(eye_vec))
    if eye_dist < 1e-6:
        return 1.0, 1.0
    along = eye_vec / eye_dist
    across = np.array([-along[1], along[0]])  # points "down" for an upright face
    rel = nose - (left_eye + right_eye) / 2.0
    yaw = abs(float(rel @ along)) / eye_dist
    pitch = abs(float(rel @ across) / eye_dist - FRONTAL_NOSE_DROP)
    return yaw, pitch


def pose_score(landmarks: np.ndarray) -> float:
    yaw, pitch = pose_angles(landmarks)
    return float(np.clip(1.0 - max(yaw / 0.5, pitch / 0.6), 0.0, 1.0))


def face_quality(image: np.ndarray, box: tuple[int, int, int, int], landmarks: np.ndarray) -> float:
    parts = (size_score(box), blur_score(image, box), pose_score(landmarks))
    weights = (0.4, 0.3, 0.3)
    return float(np.prod([p**wgt for p, wgt in zip(parts, weights, strict=True)]))
