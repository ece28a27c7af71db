"""/metrics: every process's samples, the scrape-time families, and who may read it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client
from django_q.models import OrmQ
from django_q.tasks import async_task

from tenants.metrics import clean_metrics_dir, tenant_label_values, tenant_labels
from tests.metrics_text import value


def _metrics(host="10.0.0.7", **extra):
    return Client(HTTP_HOST=host).get("/metrics", **extra)


@pytest.mark.django_db
def test_samples_written_by_another_process_are_added_up():
    before = value(_metrics().content.decode(), "facet_tasks_total", task="t", outcome="ok")
    code = (
        "from prometheus_client import Counter\n"
        "Counter('facet_tasks', 'x', ['task', 'outcome']).labels('t', 'ok').inc(3)\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": settings.PROMETHEUS_MULTIPROC_DIR}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    after = value(_metrics().content.decode(), "facet_tasks_total", task="t", outcome="ok")
    assert after - before == 3
    # The writer is gone: a start cleans its file, and its samples with it.
    assert clean_metrics_dir() >= 1
    cleaned = value(_metrics().content.decode(), "facet_tasks_total", task="t", outcome="ok")
    assert cleaned == before


@pytest.mark.django_db
def test_queue_depth_and_age_per_cluster_and_no_heartbeat_without_workers():
    async_task("math.floor", 1.5)
    async_task("math.floor", 2.5, cluster="gpu")
    try:
        text = _metrics().content.decode()
    finally:
        OrmQ.objects.all().delete()
    name = settings.Q_CLUSTER["name"]
    assert value(text, "facet_queue_depth", cluster=name) == 1
    assert value(text, "facet_queue_depth", cluster="gpu") == 1
    assert value(text, "facet_queue_oldest_task_age_seconds", cluster=name) >= 0
    assert f'facet_queue_cluster_up{{cluster="{name}"}} 0.0' in text
    assert "facet_media_disk_used_ratio" in text


@pytest.mark.django_db
def test_internal_scrape_host_is_served_and_tenant_hosts_never_are():
    assert _metrics(host="web:8000").status_code == 200
    assert _metrics(host="alpha.localhost").status_code == 404
    assert _metrics(host="web.localhost").status_code == 404


@pytest.mark.django_db
def test_bearer_token_protects_metrics(settings):
    settings.FACET_METRICS_TOKEN = "scrape-secret"
    assert _metrics().status_code == 401
    assert _metrics(HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert _metrics(HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    assert Client(HTTP_HOST="10.0.0.7").get("/health/detailed").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(("allowed", "status"), [(["10.1.0.0/16"], 200), (["10.2.0.0/16"], 403)])
def test_ip_allow_list_protects_metrics(settings, allowed, status):
    settings.FACET_METRICS_ALLOWED_IPS = allowed
    assert _metrics(REMOTE_ADDR="10.1.2.3").status_code == status


def test_tenant_label_is_off_by_default_and_names_the_schema_when_on(settings, alpha):
    assert tenant_labels() == ()
    assert tenant_label_values() == {}
    settings.FACET_METRICS_TENANT_LABEL = True
    from django_tenants.utils import schema_context

    with schema_context(alpha.schema_name):
        assert tenant_label_values() == {"tenant": alpha.schema_name}


def test_gpu_families_come_from_nvml_and_are_absent_without_a_gpu(monkeypatch):
    """No GPU on the test machines: NVML's answers are stood in for (its API, by name)."""
    import types

    from tenants import metrics

    fake = types.SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda index: f"gpu{index}",
        nvmlDeviceGetUtilizationRates=lambda handle: types.SimpleNamespace(gpu=37, memory=5),
        nvmlDeviceGetMemoryInfo=lambda handle: types.SimpleNamespace(used=2**30, total=2**34),
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(metrics, "_nvml", {})
    found = {f.name: f.samples for f in metrics.collect_gpu()}
    assert found["facet_gpu_utilization_ratio"][0].value == 0.37
    assert found["facet_gpu_memory_used_bytes"][0].labels == {"gpu": "0"}
    assert found["facet_gpu_memory_total_bytes"][0].value == 2**34

    def no_driver():
        raise OSError("NVML Shared Library Not Found")

    monkeypatch.setattr(fake, "nvmlInit", no_driver)
    monkeypatch.setattr(metrics, "_nvml", {})
    assert list(metrics.collect_gpu()) == []


def test_unshared_metrics_stay_in_memory(tmp_path):
    """FACET_METRICS_SHARED=0: no sample file anywhere (an empty PROMETHEUS_MULTIPROC_DIR
    would still put prometheus_client in multiprocess mode, writing into the cwd)."""
    code = (
        "import django; django.setup()\n"
        "import os, prometheus_client.values as v\n"
        "from tenants.metrics import LOGIN_FAILURES, metrics_dir\n"
        "LOGIN_FAILURES.inc()\n"
        "assert 'PROMETHEUS_MULTIPROC_DIR' not in os.environ and metrics_dir() is None\n"
        "assert v.ValueClass.__name__ == 'MutexValue', v.ValueClass\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "FACET_METRICS_SHARED": "0",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": str(settings.BASE_DIR)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.glob("*.db"))
