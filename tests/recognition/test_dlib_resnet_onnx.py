"""The dlib ResNet converted to ONNX gives dlib's own descriptors.

Correctness gate: on real aligned chips (dlib.get_face_chip(image, shape,
size=150, padding=0.25), exactly what compute_face_descriptor(image, shape)
extracts) the onnxruntime descriptors equal dlib's to float rounding. Plain
pytest, no Django."""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from recognition.engines.dlib_resnet_onnx import (
    DlibFormatError,
    DlibResnetOnnx,
    anet_ops,
    ensure_onnx,
    parse_dlib_net,
)

# Tolerances of the gate. Measured on these faces: max abs difference 3.6e-7, cosine 1 - 5e-8.
MAX_ABS = 1e-4
MIN_COSINE = 0.99999

IMAGES = (
    ("identities", "Al_Gore", "Al_Gore_0001.jpg"),
    ("identities", "Aaron_Peirsol", "Aaron_Peirsol_0001.jpg"),
    ("identities", "Aaron_Sorkin", "Aaron_Sorkin_0001.jpg"),
    ("groups", "2007_007763.jpg"),
)


@pytest.fixture(scope="module")
def weights():
    import face_recognition_models as frm

    return {
        "resnet": frm.face_recognition_model_location(),
        "shape5": frm.pose_predictor_five_point_model_location(),
    }


@pytest.fixture(scope="module")
def onnx_net(weights, tmp_path_factory):
    return DlibResnetOnnx(weights["resnet"], tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def faces(weights, face_image):
    """(image, shape, chip) for every face dlib's HOG finds in IMAGES."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(weights["shape5"])
    found = []
    for parts in IMAGES:
        image = face_image(*parts)
        for rect in detector(image, 1):
            shape = predictor(image, rect)
            chip = dlib.get_face_chip(image, shape, size=150, padding=0.25)
            found.append((image, shape, chip))
    assert len(found) >= 10, "expected the group photo to add several faces"
    return found


@pytest.fixture(scope="module")
def dlib_reference(weights, faces):
    """dlib's own descriptors, computed from (image, shape) as users call it."""
    import dlib

    recogniser = dlib.face_recognition_model_v1(weights["resnet"])
    return np.array([np.array(recogniser.compute_face_descriptor(img, s)) for img, s, _ in faces])


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_onnx_descriptors_equal_dlib(onnx_net, faces, dlib_reference):
    chips = [chip for _, _, chip in faces]
    ours = onnx_net.compute(chips)  # one batched call
    assert ours.shape == dlib_reference.shape == (len(faces), 128)
    diff = np.abs(ours - dlib_reference)
    assert diff.max() < MAX_ABS, f"max abs diff {diff.max():.3g}"
    assert _cosine(ours, dlib_reference).min() > MIN_COSINE
    # Raw descriptors, not normalised: same norms as dlib's (~0.4 .. 2).
    np.testing.assert_allclose(
        np.linalg.norm(ours, axis=1), np.linalg.norm(dlib_reference, axis=1), rtol=1e-5
    )


def test_batch_equals_one_by_one(onnx_net, faces):
    chips = [chip for _, _, chip in faces]
    batched = onnx_net.compute(chips)
    single = np.concatenate([onnx_net.compute([chip]) for chip in chips])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert onnx_net.compute([]).shape == (0, 128)
    with pytest.raises(ValueError):
        onnx_net.compute(np.zeros((1, 112, 112, 3), np.uint8))


def test_parser_reads_the_whole_network(weights):
    net = parse_dlib_net(weights["resnet"])
    layers = [op[1] for op in net.ops if op[0] == "layer"]
    assert len(net.ops) == len(anet_ops())
    assert sum(layer.kind == "con" for layer in layers) == 29
    assert net.size == (150, 150)
    np.testing.assert_allclose(net.mean_rgb, (122.782, 117.001, 104.298), atol=1e-3)
    assert layers[-1].kind == "fc" and layers[-1].weights["W"].shape == (256, 128)
    assert net.loss["distance_threshold"] == pytest.approx(0.6)


def test_truncated_or_foreign_file_is_rejected(weights, tmp_path):
    data = Path(weights["resnet"]).read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DlibFormatError):
        parse_dlib_net(cut)
    other = tmp_path / "other.dat"
    other.write_bytes(Path(weights["shape5"]).read_bytes())
    with pytest.raises(DlibFormatError):
        parse_dlib_net(other)


def test_cache_is_tied_to_the_weights_sha256(weights, tmp_path):
    import onnx

    dat_sha = hashlib.sha256(Path(weights["resnet"]).read_bytes()).hexdigest()
    first = ensure_onnx(weights["resnet"], tmp_path)
    assert first.source_sha256 == dat_sha
    assert dat_sha[:16] in first.onnx_path.name
    assert first.onnx_sha256 == hashlib.sha256(first.onnx_path.read_bytes()).hexdigest()
    props = {p.key: p.value for p in onnx.load(first.onnx_path).metadata_props}
    assert props["source_sha256"] == dat_sha

    mtime = first.onnx_path.stat().st_mtime_ns
    again = ensure_onnx(weights["resnet"], tmp_path)
    assert again == first and first.onnx_path.stat().st_mtime_ns == mtime  # reused

    first.onnx_path.write_bytes(b"tampered")  # a damaged cache entry is rebuilt
    rebuilt = ensure_onnx(weights["resnet"], tmp_path)
    assert rebuilt.onnx_sha256 == hashlib.sha256(rebuilt.onnx_path.read_bytes()).hexdigest()
    assert rebuilt.onnx_path.stat().st_size > 20_000_000


def test_engine_uses_onnx_and_matches_dlib_backend(face_image, tmp_path):
    from recognition.engines.dlib_engine import DlibEngine

    fast = DlibEngine(onnx_cache_dir=tmp_path)
    slow = DlibEngine(descriptor_backend="dlib")
    images = [face_image(*parts) for parts in IMAGES[:2]]
    a = fast.analyze_batch(images)
    b = slow.analyze_batch(images)
    assert fast.descriptor_backend == "onnx" and slow.descriptor_backend == "dlib"
    assert fast.info.provider == "dlib-cpu+CPUExecutionProvider"
    assert fast.info.weights == slow.info.weights and fast.info.name == slow.info.name
    for (faces_a, emb_a), (faces_b, emb_b) in zip(a, b, strict=True):
        assert [f.box for f in faces_a] == [f.box for f in faces_b]
        np.testing.assert_allclose(emb_a, emb_b, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(emb_a, axis=1), 1.0, rtol=1e-5)


def test_engine_falls_back_to_dlib_with_a_logged_reason(face_image, tmp_path, monkeypatch, caplog):
    from recognition.engines.dlib_engine import DlibEngine

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    engine = DlibEngine(onnx_cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="recognition.engines.dlib_engine"):
        faces, emb = engine.analyze(face_image(*IMAGES[0]))
    assert engine.descriptor_backend == "dlib" and engine.info.provider == "dlib-cpu"
    assert "onnxruntime" in caplog.text and "using dlib" in caplog.text
    assert faces and emb.shape == (len(faces), 128)


def test_unknown_backend_is_refused():
    from recognition.engines.dlib_engine import DlibEngine

    with pytest.raises(ValueError):
        DlibEngine(descriptor_backend="tensorflow")


def test_info_is_cheap_and_names_the_descriptor_backend(tmp_path):
    from recognition.engines.dlib_engine import DlibEngine

    engine = DlibEngine(onnx_cache_dir=tmp_path)
    assert engine.info.provider == "dlib-cpu+CPUExecutionProvider"
    assert engine._loaded is None and not any(tmp_path.iterdir())  # nothing loaded or built
    assert DlibEngine(descriptor_backend="dlib").info.provider == "dlib-cpu"
    assert DlibEngine(jitters=1).info.provider == "dlib-cpu"
