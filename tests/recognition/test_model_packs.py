"""Pack validation and extraction: real pack for the happy path, tiny
generated ONNX graphs for the error paths."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from recognition.engines.packs import UNKNOWN_LICENCE, extract_pack, validate_pack
from recognition.engines.registry import build_engine, clear_cache
from recognition.errors import ModelPackError, RecognitionError


def tiny_recogniser(path: Path, dim: int = 8) -> None:
    """N x 3 x 112 x 112 -> N x dim (global pool, then a 1x1 conv)."""
    x = helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 112, 112])
    y = helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", dim])
    weight = helper.make_tensor("w", TensorProto.FLOAT, [dim, 3, 1, 1], [0.1] * (dim * 3))
    nodes = [
        helper.make_node("GlobalAveragePool", ["data"], ["pooled"]),
        helper.make_node("Conv", ["pooled", "w"], ["conv"]),
        helper.make_node("Flatten", ["conv"], ["fc1"]),
    ]
    graph = helper.make_graph(nodes, "tiny_rec", [x], [y], initializer=[weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def tiny_detector(path: Path, with_kps: bool) -> None:
    """SCRFD-shaped outputs (3 strides x score/bbox[/kps]) from Identity nodes."""
    x = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "H", "W"])
    kinds = ("score", "bbox", "kps") if with_kps else ("score", "bbox")
    outputs, nodes = [], []
    for kind in kinds:
        for stride in (8, 16, 32):
            name = f"{kind}_{stride}"
            nodes.append(helper.make_node("Identity", ["input.1"], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "tiny_det", [x], outputs)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def test_real_pack_manifest(pack_dir):
    manifest = validate_pack(pack_dir)
    assert manifest.detector == "scrfd_500m_bnkps.onnx"
    assert manifest.recogniser == "mobilefacenet_128d_b_dynbatch.onnx"
    assert manifest.embedding_dim == 128 and manifest.recogniser_input_size == 112
    assert manifest.weights["scrfd_500m_bnkps.onnx"] == (
        "6c6ba7956684796d7d582bfa1ab95dfe01dd280159f6bff1e23c1bc32bcc8431"
    )
    assert manifest.licence == UNKNOWN_LICENCE and "non-commercial" in manifest.licence


def test_licence_file_is_read(tmp_path, shared):
    pack = tmp_path / "p"
    pack.mkdir()
    (pack / "det.onnx").symlink_to(shared("models", "scrfd_500m_bnkps.onnx"))
    tiny_recogniser(pack / "rec.onnx", dim=16)
    (pack / "LICENSE").write_text("MIT, use freely\n")
    manifest = validate_pack(pack)
    assert manifest.licence == "MIT, use freely"
    assert manifest.embedding_dim == 16  # measured with a dummy input


def test_missing_detector(tmp_path):
    tiny_recogniser(tmp_path / "rec.onnx")
    with pytest.raises(ModelPackError, match="no face detector"):
        validate_pack(tmp_path)


def test_missing_recogniser(tmp_path, shared):
    (tmp_path / "det.onnx").symlink_to(shared("models", "scrfd_500m_bnkps.onnx"))
    with pytest.raises(ModelPackError, match="no face recogniser"):
        validate_pack(tmp_path)


def test_detector_without_keypoints(tmp_path):
    tiny_detector(tmp_path / "det.onnx", with_kps=False)
    tiny_recogniser(tmp_path / "rec.onnx")
    with pytest.raises(ModelPackError, match="keypoint"):
        validate_pack(tmp_path)


def test_generated_detector_with_keypoints_is_accepted(tmp_path):
    tiny_detector(tmp_path / "det.onnx", with_kps=True)
    tiny_recogniser(tmp_path / "rec.onnx", dim=4)
    manifest = validate_pack(tmp_path)
    assert (manifest.detector, manifest.embedding_dim) == ("det.onnx", 4)


def test_two_recognisers_are_ambiguous(tmp_path, shared):
    (tmp_path / "det.onnx").symlink_to(shared("models", "scrfd_500m_bnkps.onnx"))
    tiny_recogniser(tmp_path / "a.onnx")
    tiny_recogniser(tmp_path / "b.onnx")
    with pytest.raises(ModelPackError, match="more than one recogniser"):
        validate_pack(tmp_path)


def test_corrupt_onnx(tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(ModelPackError, match=r"broken\.onnx: not a loadable ONNX model"):
        validate_pack(tmp_path)


def test_empty_and_missing_directories(tmp_path):
    with pytest.raises(ModelPackError, match=r"no \.onnx files"):
        validate_pack(tmp_path)
    with pytest.raises(ModelPackError, match="not a directory"):
        validate_pack(tmp_path / "nope")
    assert issubclass(ModelPackError, RecognitionError)


def test_zip_pack_extracts_and_validates(tmp_path, shared):
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(shared("models", "scrfd_500m_bnkps.onnx"), "mypack/det_500m.onnx")
        zf.write(shared("models", "mobilefacenet_128d_b_dynbatch.onnx"), "mypack/w600k.onnx")
    directory = extract_pack(archive, tmp_path / "out")
    assert directory == (tmp_path / "out" / "mypack").resolve()
    assert validate_pack(directory).embedding_dim == 128


@pytest.mark.parametrize("member", ["../evil.onnx", "/abs/evil.onnx", "a/../../evil.onnx"])
def test_zip_path_traversal_is_refused(tmp_path, member):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(member, b"x")
    with pytest.raises(ModelPackError, match="unsafe path"):
        extract_pack(archive, tmp_path / "out")
    assert not (tmp_path / "evil.onnx").exists()


def test_zip_symlink_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    info = zipfile.ZipInfo("pack/link.onnx")
    info.external_attr = 0o120777 << 16
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ModelPackError, match="symlink"):
        extract_pack(archive, tmp_path / "out")


def test_not_a_zip(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"nope")
    with pytest.raises(ModelPackError, match="not a readable zip"):
        extract_pack(bad, tmp_path / "out")


def test_registry_builds_and_caches(pack_dir):
    clear_cache()
    a = build_engine("insightface", str(pack_dir))
    assert build_engine("insightface", str(pack_dir)) is a
    assert build_engine("insightface", str(pack_dir), det_size=320) is not a
    assert build_engine("dlib") is build_engine("dlib")
    with pytest.raises(ValueError, match="unknown engine kind"):
        build_engine("facenet")
    with pytest.raises(ValueError, match="needs the path"):
        build_engine("insightface")
    with pytest.raises(ValueError, match="takes no path"):
        build_engine("dlib", str(pack_dir))


def test_importing_the_library_loads_no_model_and_no_django():
    code = (
        "import sys\n"
        "import recognition.engines.registry, recognition.engines.onnx_engine, "
        "recognition.engines.dlib_engine, recognition.imaging, recognition.quality\n"
        "assert 'django' not in sys.modules\n"
        "assert 'onnxruntime' not in sys.modules, 'onnxruntime imported at import time'\n"
        "assert 'dlib' not in sys.modules, 'dlib imported at import time'\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


def test_wide_pack_embeddings_come_out_in_the_sketch_basis(tmp_path, shared, astronaut):
    """A 512-D pack's embeddings are rotated into the fixed basis search's
    sketch index relies on (recognition.engines.basis); cosines are unchanged."""
    import numpy as np

    from recognition.engines.basis import sketch_basis
    from recognition.engines.onnx_engine import OnnxEngine

    pack = tmp_path / "wide"
    pack.mkdir()
    (pack / "det.onnx").symlink_to(shared("models", "scrfd_500m_bnkps.onnx"))
    tiny_recogniser(pack / "rec.onnx", dim=512)  # every output is c * (1, ..., 1)
    engine = OnnxEngine(pack)
    assert engine.info.embedding_dim == 512
    faces = engine.detect(astronaut)
    embedding = engine.embed(astronaut, faces[:1])[0]
    raw = np.full(512, 1 / np.sqrt(512), np.float32)
    assert embedding == pytest.approx(raw @ sketch_basis(512), abs=1e-5)
    assert float(np.linalg.norm(embedding)) == pytest.approx(1.0, abs=1e-6)
