"""Fixtures for the ingestion tests: library tests (no database) and the
Django-side tests of uploads, processing, pages and the watch folder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FACES = SHARED / "data" / "faces"
VIDEOS = FACES / "videos"
HAMILTON = "facerec_short_hamilton_clip.mp4"
VIDEO_NAMES = (HAMILTON, "fnp_video.mp4", "dlib_MOT20-05-raw_even_shorter.mp4")


def shared_path(*parts: str) -> Path:
    """A file under ../shared; a missing one is a failure, never a skip."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"test data missing: {path} (../shared must sit beside the checkout)")
    return path


def video_path(name: str = HAMILTON) -> Path:
    return shared_path("data", "faces", "videos", name)


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), **save_options) -> bytes:
    """A small noisy RGB image encoded in ``fmt`` (Pillow format name)."""
    rng = np.random.default_rng(7)
    array = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(array)
    if fmt == "GIF":
        image = image.convert("P")
    out = io.BytesIO()
    image.save(out, format=fmt, **save_options)
    return out.getvalue()


@pytest.fixture
def write(tmp_path):
    """write(name, data) -> path of a new file in tmp_path."""

    def _write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write


def shared_file(*parts: str) -> Path:
    path = FACES.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"test data missing: {path} (../shared must sit beside the checkout)")
    return path


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="session")
def astronaut_jpeg() -> bytes:
    from skimage import data

    return jpeg_bytes(np.ascontiguousarray(data.astronaut()))


@pytest.fixture(autouse=True)
def _watch_folder_in_tmp(settings, tmp_path):
    settings.INGEST = {"WATCH_DIR": tmp_path / "watch", "WATCH_INTERVAL_S": 0.05}
