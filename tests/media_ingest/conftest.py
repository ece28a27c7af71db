from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FACES = SHARED / "data" / "faces"


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


@pytest.fixture
def processing(django_capture_on_commit_callbacks):
    """Run on-commit work (enqueue, events) then every queued task, like a worker."""
    from tests.conftest import run_queued_tasks

    class Runner:
        def __call__(self, action):
            with django_capture_on_commit_callbacks(execute=True):
                result = action()
            run_queued_tasks()
            return result

    return Runner()
