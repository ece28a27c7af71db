"""Fixtures for the ingestion library tests. No database here: media_ingest's
library modules are plain Python (helpers are in media.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path):
    """write(name, data) -> path of a new file in tmp_path."""

    def _write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write
