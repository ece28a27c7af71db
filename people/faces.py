"""Choosing and judging faces for people: which face of a photo is meant, and
whether a face is good enough to say what a person looks like."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from recognition.engines.base import DetectedFace
from recognition.quality import blur_score, pose_angles

from .conf import people_setting
from .errors import EnrolmentRefused

# A second face at least this large (by area) as the largest makes the photo
# ambiguous: nobody can tell whom the enrolment means.
SAME_SIZE_RATIO = 0.8
CROP_SIDE = 200


@dataclass(frozen=True)
class FaceCheck:
    side_px: int
    sharpness: float
    yaw: float


def check_face(image: np.ndarray, face: DetectedFace) -> FaceCheck:
    """Refuse (EnrolmentRefused, 422) a face too small, blurred or turned away."""
    side = min(face.width, face.height)
    sharpness = blur_score(image, face.box)
    yaw, _pitch = pose_angles(face.landmarks)
    if side < people_setting("ENROL_MIN_FACE_PX"):
        raise EnrolmentRefused(
            f"The face is {side} pixels across; enrolment needs at least "
            f"{people_setting('ENROL_MIN_FACE_PX')}. Use a closer or larger photo.",
            "face-too-small",
        )
    if sharpness < people_setting("ENROL_MIN_SHARPNESS"):
        raise EnrolmentRefused(
            "The face is blurred. Use a sharp photo, taken in good light.", "face-blurred"
        )
    if yaw > people_setting("ENROL_MAX_YAW"):
        raise EnrolmentRefused(
            "The face is turned away (in profile). Use a photo facing the camera.", "face-turned"
        )
    return FaceCheck(side, sharpness, yaw)


def the_one_face(faces: list[DetectedFace]) -> int:
    """The index of the face an enrolment photo is of: the largest one, when it
    is clearly the largest. Raises EnrolmentRefused otherwise."""
    if not faces:
        raise EnrolmentRefused("No face was found in the photo.", "no-face")
    areas = sorted(((f.width * f.height, i) for i, f in enumerate(faces)), reverse=True)
    if len(areas) > 1 and areas[1][0] >= SAME_SIZE_RATIO * areas[0][0]:
        raise EnrolmentRefused(
            f"The photo shows {len(faces)} faces of about the same size: use a photo of "
            "this person alone, or enrol one of its faces from the library.",
            "several-faces",
        )
    return areas[0][1]


def crop_jpeg(image: np.ndarray, box) -> bytes:
    """A square crop around the face with some margin, at most CROP_SIDE pixels."""
    left, top, right, bottom = box
    side = int(max(right - left, bottom - top) * 1.4)
    cx, cy = (left + right) // 2, (top + bottom) // 2
    height, width = image.shape[:2]
    x0, y0 = max(cx - side // 2, 0), max(cy - side // 2, 0)
    x1, y1 = min(cx + side // 2, width), min(cy + side // 2, height)
    crop = Image.fromarray(image[y0:y1, x0:x1])
    crop.thumbnail((CROP_SIDE, CROP_SIDE))
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=90)
    return out.getvalue()
