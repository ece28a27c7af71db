import numpy as np
import pytest

from recognition.engines.geometry import (
    points_to_original,
    points_to_rotated,
    rotate,
    similarity_transform,
)
from recognition.quality import blur_score, face_quality, pose_score, size_score

FRONTAL = np.array(
    [[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]], np.float32
)


def test_pose_frontal_beats_profile():
    profile = FRONTAL.copy()
    profile[2, 0] = 80  # nose far outside the eye midpoint: turned head
    assert pose_score(FRONTAL) > 0.9
    assert pose_score(profile) < 0.2


def test_size_and_blur():
    assert size_score((0, 0, 10, 10)) == 0.0 and size_score((0, 0, 200, 200)) == 1.0
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 255, (112, 112, 3), dtype=np.uint8)
    flat = np.full((112, 112, 3), 120, np.uint8)
    assert blur_score(sharp, (0, 0, 112, 112)) > 0.9
    assert blur_score(flat, (0, 0, 112, 112)) == 0.0
    assert 0.0 <= face_quality(sharp, (0, 0, 112, 112), FRONTAL) <= 1.0
    assert face_quality(sharp, (0, 0, 112, 112), FRONTAL) > face_quality(
        flat, (0, 0, 112, 112), FRONTAL
    )


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_rotation_mapping_round_trips(k):
    image = np.zeros((30, 50, 3), np.uint8)
    image[5, 40] = 255  # pixel (x=40, y=5)
    frame = rotate(image, k)
    ys, xs = np.nonzero(frame[..., 0])
    centre_rotated = np.array([[xs[0] + 0.5, ys[0] + 0.5]])
    back = points_to_original(centre_rotated, k, 50, 30)
    assert np.allclose(back, [[40.5, 5.5]])
    assert np.allclose(points_to_rotated(back, k, 50, 30), centre_rotated)


def test_similarity_transform_matches_skimage_estimate():
    """The closed form used for face alignment gives skimage's Umeyama estimate."""
    from skimage.transform import SimilarityTransform

    rng = np.random.default_rng(3)
    for _ in range(50):
        angle, scale = rng.uniform(-np.pi, np.pi), rng.uniform(0.2, 4.0)
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        src = (FRONTAL @ turn.T) * scale + rng.uniform(-300, 300, 2) + rng.normal(0, 3, (5, 2))
        expected = SimilarityTransform.from_estimate(src, FRONTAL.astype(np.float64)).params[:2]
        assert np.allclose(similarity_transform(src, FRONTAL), expected, atol=1e-9)


def test_similarity_transform_maps_points_onto_target():
    moved = FRONTAL * 2.5 + np.array([40.0, -7.0])
    matrix = similarity_transform(moved, FRONTAL)
    mapped = moved @ matrix[:, :2].T + matrix[:, 2]
    assert np.allclose(mapped, FRONTAL, atol=1e-4)
    # All landmarks on one pixel: identity scale, no division by zero.
    assert np.isfinite(similarity_transform(np.ones((5, 2)), FRONTAL)).all()
