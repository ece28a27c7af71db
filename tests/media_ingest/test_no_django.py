"""The ingestion library is plain Python: it must import and work in a
process where Django was never configured (the video child, scripts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_library_imports_without_django():
    code = (
        "import sys\n"
        "import media_ingest.archives, media_ingest.tracking, media_ingest.validation\n"
        "import media_ingest.video, media_ingest.video_worker, recognition.imaging\n"
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_package_marker_is_empty():
    assert (ROOT / "media_ingest" / "__init__.py").stat().st_size == 0
