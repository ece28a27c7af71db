"""The platform as `make run` starts it (web server + a worker cluster), watched by a
real Prometheus (Debian's binary, as the browser tests use Debian's Chromium) with
the shipped rules: a processed upload shows up in the worker's samples and in
Prometheus, and a stopped worker cluster sends its heartbeat alert pending."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import pytest
from django.conf import settings
from django_q.models import OrmQ, Task
from django_tenants.utils import schema_context
from knox.models import AuthToken
from PIL import Image
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from tests.conftest import ALPHA, free_port, running_process, running_web_server
from tests.metrics_text import families, value

RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "rules"
TASK = "media_ingest.tasks.process_media"


@dataclass
class Platform:
    port: int
    worker: subprocess.Popen
    before: str
    after: str
    logs: Path


def _get(url: str, **headers) -> bytes:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - local http only
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read()


def _scrape(port: int) -> str:
    return _get(f"http://127.0.0.1:{port}/metrics").decode()


def _wait(what: str, check, timeout: float, logs: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    detail = ""
    if logs is not None:
        detail = "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in logs.glob("*.log"))
    pytest.fail(f"timed out waiting for {what}\n{detail}")


def _photo() -> bytes:
    """The astronaut, with a few pixels changed: new bytes, so never a duplicate."""
    from skimage import data

    image = np.ascontiguousarray(data.astronaut())
    image[0, :8] = np.frombuffer(uuid.uuid4().bytes[:8], dtype=np.uint8)[:, None]
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=92)
    return out.getvalue()


def _upload(port: int, token: str, photo: bytes) -> dict:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/media/",
        data=body,
        method="POST",
        headers={
            "Host": ALPHA.host,
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-Request-ID": "monitoring-upload-1",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - local
        assert response.status == 201
        return json.loads(response.read())


def _media_status(media_id: int) -> str:
    from media_ingest.models import MediaFile

    with schema_context(ALPHA.schema_name):
        return MediaFile.objects.filter(pk=media_id).values_list("status", flat=True).first()


def _cleanup(token_pk) -> None:
    from media_ingest import services
    from media_ingest.models import IngestJob, MediaFile

    with schema_context(ALPHA.schema_name):
        for media in MediaFile.objects.all():
            services.media_delete(media=media)
        IngestJob.objects.all().delete()
        AuthToken.objects.filter(pk=token_pk).delete()
    Task.objects.all().delete()
    OrmQ.objects.all().delete()


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker, tmp_path_factory):
    logs = tmp_path_factory.mktemp("platform")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "FACET_TEST_SUBPROCESS": "1",
        "PYTHONUNBUFFERED": "1",
        "Q_WORKERS": "1",
    }
    with django_db_blocker.unblock():
        from django.contrib.auth import get_user_model

        with schema_context(ALPHA.schema_name):
            owner = get_user_model().objects.get(username=ALPHA.owner.email)
            instance, token = AuthToken.objects.create(owner)
        OrmQ.objects.all().delete()  # the worker runs this test's tasks only
        try:
            with (
                running_web_server(env=env, log=logs / "web.log") as port,
                running_process(
                    ["manage.py", "qcluster"], env=env, log=logs / "worker.log"
                ) as worker,
            ):
                name = settings.Q_CLUSTER["name"]
                _wait(
                    "the worker cluster's heartbeat",
                    lambda: value(_scrape(port), "facet_queue_cluster_up", cluster=name) == 1,
                    90,
                    logs,
                )
                before = _scrape(port)
                media_id = _upload(port, token, _photo())["id"]
                _wait("the upload processed", lambda: _media_status(media_id) == "done", 180, logs)
                yield Platform(port, worker, before, _scrape(port), logs)
        finally:
            _cleanup(instance.pk)


def _worker_samples(worker: subprocess.Popen, into: Path) -> str:
    """Only the sample files the worker cluster's processes wrote, added up."""
    pids = {p.pid for p in psutil.Process(worker.pid).children(recursive=True)} | {worker.pid}
    source = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    for path in source.glob("*.db"):
        if int(re.findall(r"_(\d+)\.db$", path.name)[0]) in pids:
            shutil.copy(path, into / path.name)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(into))
    return generate_latest(registry).decode()


def test_a_processed_upload_moves_counters_written_by_the_worker(platform, tmp_path):
    before, after = platform.before, platform.after

    def moved(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    # The web process accepted it; a worker process processed it.
    assert moved("facet_ingest_files_uploaded_total", source="api") == 1
    assert moved("facet_ingest_files_processed_total", outcome="done") == 1
    # At least: the cluster's schedules (the stuck-media reconciler) may queue a second,
    # skipped, delivery of the same file.
    assert moved("facet_tasks_total", task=TASK, outcome="ok") >= 1
    worker = _worker_samples(platform.worker, tmp_path)
    assert value(worker, "facet_ingest_files_processed_total", outcome="done") == 1
    assert value(worker, "facet_task_duration_seconds_count", task=TASK) >= 1
    assert value(worker, "facet_inference_duration_seconds_count", stage="embed") >= 1
    assert value(worker, "facet_ingest_files_uploaded_total") == 0  # that was the web's
    facet = [name for name in families(after) if name.startswith("facet_")]
    assert len(facet) >= 15, sorted(facet)

    # Detailed health from the running server sees the worker and the channel layer.
    # (A heartbeat lives 3 s in the queue cache: on a loaded machine a sentinel can
    # miss one, so the check is read until it has seen one.)
    def detailed_health():
        report = json.loads(_get(f"http://127.0.0.1:{platform.port}/health/detailed"))
        return report if report["status"] == "ok" else None

    checks = _wait("detailed health ok", detailed_health, 30, platform.logs)["checks"]
    assert checks["queue"]["clusters"][settings.Q_CLUSTER["name"]]["alive"] is True
    assert checks["channel_layer"]["ok"] and checks["database"]["ok"]
    # The web server's access line names the tenant (not [public]), the request and the time.
    web_log = (platform.logs / "web.log").read_text()
    line = next(x for x in web_log.splitlines() if "facet.access: POST /api/v1/media/" in x)
    assert f"[{ALPHA.schema_name}]" in line and "request=monitoring-upload-1" in line
    assert re.search(r" 201 \d+\.\dms", line)


@pytest.fixture
def prometheus(platform, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus missing: install Debian's prometheus package (make prometheus)")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES / "*.yml")],
                "scrape_configs": [
                    {
                        "job_name": "facet",
                        "static_configs": [{"targets": [f"127.0.0.1:{platform.port}"]}],
                    }
                ],
            }
        )
    )
    port = free_port()
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    log = tmp_path / "prometheus.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:

        def ready():
            try:
                return _get(f"{url}/-/ready")
            except OSError:
                assert process.poll() is None, log.read_text()
                return None

        _wait("Prometheus ready", ready, 60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _api(url: str, path: str, **params) -> dict:
    query = urllib.parse.urlencode(params)
    answer = json.loads(_get(f"{url}/api/v1/{path}?{query}"))
    assert answer["status"] == "success", answer
    return answer["data"]


def test_prometheus_scrapes_the_platform_loads_the_rules_and_sees_workers_stop(
    platform, prometheus
):
    done = _wait(
        "the worker's series in Prometheus",
        lambda: _api(
            prometheus, "query", query='facet_ingest_files_processed_total{outcome="done"}'
        )["result"],
        60,
    )
    assert float(done[0]["value"][1]) >= 1
    names = _api(prometheus, "label/__name__/values")
    assert len([n for n in names if n.startswith("facet_")]) >= 15
    rules = _api(prometheus, "rules")
    loaded = {r["name"]: r for g in rules["groups"] for r in g["rules"]}
    assert {"FacetWorkersDown", "FacetHighErrorRate", "FacetMediaDiskFull"} <= set(loaded)
    assert all(r["health"] != "err" for r in loaded.values()), loaded

    def workers_down_alerts():
        return [
            a
            for a in _api(prometheus, "alerts")["alerts"]
            if a["labels"]["alertname"] == "FacetWorkersDown"
        ]

    # Evaluated, and not pending while the cluster runs (read until so: a heartbeat
    # missed on a loaded machine makes it pending for a moment, which `for: 2m` absorbs).
    _wait("a rule evaluation", lambda: _api(prometheus, "rules")["groups"][1]["lastEvaluation"], 10)
    _wait("no FacetWorkersDown while workers run", lambda: workers_down_alerts() == [], 30)

    platform.worker.terminate()
    platform.worker.wait(timeout=30)
    pending = _wait("FacetWorkersDown pending", workers_down_alerts, 60, platform.logs)
    assert pending[0]["state"] == "pending"
    assert pending[0]["labels"]["cluster"] == settings.Q_CLUSTER["name"]
