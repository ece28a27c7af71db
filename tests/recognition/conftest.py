"""Fixtures for the engine library tests. No Django here on purpose: the
engines are a plain library and must work without settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data as skdata

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FACES = SHARED / "data" / "faces"
MODELS = SHARED / "models"
PACK_FILES = ("scrfd_500m_bnkps.onnx", "mobilefacenet_128d_b_dynbatch.onnx")


def shared_path(*parts: str) -> Path:
    """A file under ../shared; a missing one is a failure, never a skip."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"test data missing: {path} (../shared must sit beside the checkout)")
    return path


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(skdata.astronaut())


@pytest.fixture(scope="session")
def dlib_engine(tmp_path_factory):
    """The default dlib engine (ResNet through onnxruntime); its converted
    model is cached in tmp, never in the checkout's var/."""
    from recognition.engines.dlib_engine import DlibEngine

    return DlibEngine(onnx_cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def pack_dir(tmp_path_factory) -> Path:
    """The small real pack from ../shared/models, symlinked into tmp."""
    pack = tmp_path_factory.mktemp("pack") / "scrfd500m-mbf128"
    pack.mkdir()
    for name in PACK_FILES:
        (pack / name).symlink_to(shared_path("models", name))
    return pack


@pytest.fixture(scope="session")
def onnx_engine(pack_dir):
    from recognition.engines.onnx_engine import OnnxEngine

    return OnnxEngine(pack_dir)


@pytest.fixture(params=["dlib", "onnx"])
def engine(request, dlib_engine, onnx_engine):
    return dlib_engine if request.param == "dlib" else onnx_engine


@pytest.fixture(scope="session")
def shared():
    """shared("data", "faces", ...) -> Path; fails (never skips) when missing."""
    return shared_path


@pytest.fixture(scope="session")
def face_image():
    """face_image("identities", "Al_Gore", "Al_Gore_0001.jpg") -> RGB array."""
    from recognition.imaging import load_image

    def load(*parts: str) -> np.ndarray:
        return load_image(shared_path("data", "faces", *parts))

    return load
