"""Facet's Prometheus metrics: the ground's families and the one /metrics page.

Every process writes its samples into ``PROMETHEUS_MULTIPROC_DIR`` (set by
config.settings.observability before prometheus_client is imported): the web
server, each django-q2 worker, the watch folder, GPU workers. The web
process's /metrics adds them up, and adds what is read at scrape time: queue
depth and age per cluster, cluster heartbeats, media disk space and, with a
GPU, its utilisation and memory (``SCRAPE_COLLECTORS``).

Each app defines its own families in its ``metrics.py``, named ``facet_…``,
with bounded label values; ``tenant_labels()`` / ``tenant_label_values()``
add a ``tenant`` label only when FACET_METRICS_TENANT_LABEL is on.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

logger = logging.getLogger(__name__)

# Seconds: from a cache lookup to a video's processing.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def tenant_labels() -> tuple[str, ...]:
    """``("tenant",)`` when FACET_METRICS_TENANT_LABEL is on; read when a family is defined."""
    from django.conf import settings

    return ("tenant",) if getattr(settings, "FACET_METRICS_TENANT_LABEL", False) else ()


def tenant_label_values() -> dict[str, str]:
    """``{"tenant": <current schema>}`` when the switch is on, else nothing."""
    if not tenant_labels():
        return {}
    from django.db import connection

    return {"tenant": getattr(connection, "schema_name", "") or "-"}


def with_tenant(metric, **labels: str):
    """``metric.labels(**labels, tenant=...)``; the metric itself when it has no labels."""
    labels = {**labels, **tenant_label_values()}
    return metric.labels(**labels) if labels else metric


# --- the ground's own families ---------------------------------------------------
HTTP_DURATION = Histogram(
    "facet_http_request_duration_seconds",
    "Time from the first middleware to the response, by surface (api, portal, operator, "
    "static) and method.",
    ["surface", "method"],
    buckets=DURATION_BUCKETS,
)
HTTP_RESPONSES = Counter(
    "facet_http_responses",
    "Responses by surface and status class (2xx, 3xx, 4xx, 5xx).",
    ["surface", "code"],
)
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def http_surface(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith(("/health", "/metrics")):
        return "operator"
    if path.startswith(("/static/", "/favicon")):
        return "static"
    return "portal"


def request_observed(path: str, method: str, status: int, seconds: float) -> None:
    surface = http_surface(path)
    method = method if method in _METHODS else "other"
    HTTP_DURATION.labels(surface, method).observe(seconds)
    HTTP_RESPONSES.labels(surface, f"{status // 100}xx").inc()


TASK_DURATION = Histogram(
    "facet_task_duration_seconds",
    "Time a tenant task ran in a worker, by task.",
    ["task"],
    buckets=DURATION_BUCKETS,
)
TASKS = Counter(
    "facet_tasks",
    "Tenant tasks that finished in a worker, by task and outcome (ok, failed).",
    ["task", "outcome"],
)
LOGIN_FAILURES = Counter(
    "facet_login_failures",
    "Failed sign-ins (portal, admin sites, token API), all tenants together.",
)


# --- the multiprocess directory --------------------------------------------------
_SAMPLE_FILE = re.compile(r"^(?:counter|histogram|summary|gauge_[a-z]+)_(\d+)\.db$")


def metrics_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def clean_metrics_dir() -> int:
    """Remove the sample files of processes that are gone; returns how many.

    Called as the platform starts (run_platform, the web server). Files of
    processes still running (a worker started beside this one, this process)
    are kept: removing a file a process has open would hide its samples.
    """
    directory = metrics_dir()
    if directory is None or not directory.is_dir():
        return 0
    removed = 0
    for path in directory.iterdir():
        match = _SAMPLE_FILE.match(path.name)
        if not match:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not _alive(pid):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# --- /metrics --------------------------------------------------------------------
# Callables returning metric families, read at every scrape of the web process.
SCRAPE_COLLECTORS: list[Callable[[], Iterable[Metric]]] = []


def register_scrape_collector(collect: Callable[[], Iterable[Metric]]) -> None:
    if collect not in SCRAPE_COLLECTORS:
        SCRAPE_COLLECTORS.append(collect)


class _ScrapeTime:
    def collect(self):
        for collect in SCRAPE_COLLECTORS:
            try:
                yield from collect()
            except Exception:
                # One failing source (the database, the GPU library) must not blank the page.
                logger.exception("metrics collector %s failed", getattr(collect, "__name__", ""))


def render() -> bytes:
    """The text exposition of every process's samples plus the scrape-time families."""
    registry = CollectorRegistry(auto_describe=False)
    if metrics_dir() is not None:
        multiprocess.MultiProcessCollector(registry)
        body = b""
    else:
        body = generate_latest(REGISTRY)
    registry.register(_ScrapeTime())
    return body + generate_latest(registry)


# --- scrape-time families ----------------------------------------------------------
def queue_clusters() -> list[str]:
    """The django-q2 clusters this deployment runs: the default and the GPU one."""
    from django.conf import settings

    names = [settings.Q_CLUSTER["name"]]
    gpu = (getattr(settings, "INGEST", {}) or {}).get("GPU_CLUSTER")
    if gpu and gpu not in names:
        names.append(gpu)
    return names


def cluster_stats(name: str) -> list:
    """The live Stat of every sentinel of cluster ``name`` (django-q2 saves one
    every heartbeat, kept 3 seconds in the queue cache)."""
    from django.core.cache import caches
    from django.core.signing import BadSignature
    from django_q.conf import Conf
    from django_q.signing import SignedPackage

    cache = caches[Conf.CACHE]
    stats = []
    for key in cache.get(f"django_q:{name}:cluster") or []:
        pack = cache.get(key)
        if pack is None:
            continue
        try:
            stats.append(SignedPackage.loads(pack))
        except BadSignature:
            continue
    return stats


def collect_queue() -> Iterable[Metric]:
    from .health import queue_state

    families = {
        "depth": GaugeMetricFamily(
            "facet_queue_depth", "Tasks waiting for a worker, per cluster.", labels=["cluster"]
        ),
        "leased": GaugeMetricFamily(
            "facet_queue_leased", "Tasks handed to a worker, not yet done.", labels=["cluster"]
        ),
        "oldest_age_s": GaugeMetricFamily(
            "facet_queue_oldest_task_age_seconds",
            "Age of the oldest waiting task (since it was queued or its lease ran out).",
            labels=["cluster"],
        ),
        "alive": GaugeMetricFamily(
            "facet_queue_cluster_up",
            "1 while a cluster's sentinel writes its heartbeat (every few seconds), else 0.",
            labels=["cluster"],
        ),
        "workers": GaugeMetricFamily(
            "facet_queue_workers",
            "Worker processes of a cluster's live sentinels.",
            labels=["cluster"],
        ),
        "last_heartbeat": GaugeMetricFamily(
            "facet_queue_heartbeat_timestamp_seconds",
            "Unix time of a cluster's latest heartbeat (absent while none is live).",
            labels=["cluster"],
        ),
    }
    for name, cluster in queue_state().items():
        for field, family in families.items():
            value = cluster[field]
            if value is not None:
                family.add_metric([name], float(value))
    yield from families.values()


def collect_media_disk() -> Iterable[Metric]:
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT)
    probe = root if root.exists() else root.parent
    usage = shutil.disk_usage(probe)
    free = GaugeMetricFamily("facet_media_disk_free_bytes", "Free space where media is stored.")
    free.add_metric([], usage.free)
    used = GaugeMetricFamily(
        "facet_media_disk_used_ratio", "Share of the media file system in use (0 to 1)."
    )
    used.add_metric([], (usage.total - usage.free) / usage.total if usage.total else 0.0)
    yield from (free, used)


_nvml: dict[str, object] = {}


def collect_gpu() -> Iterable[Metric]:
    """GPU utilisation and memory through NVML; nothing on a machine without one."""
    if _nvml.get("failed"):
        return
    try:
        import pynvml

        if not _nvml.get("ready"):
            pynvml.nvmlInit()
            _nvml["ready"] = True
        count = pynvml.nvmlDeviceGetCount()
    except Exception:
        _nvml["failed"] = True  # no driver, no device: do not retry every scrape
        return
    utilisation = GaugeMetricFamily(
        "facet_gpu_utilization_ratio", "GPU busy share over the last sample.", labels=["gpu"]
    )
    used = GaugeMetricFamily("facet_gpu_memory_used_bytes", "GPU memory in use.", labels=["gpu"])
    total = GaugeMetricFamily("facet_gpu_memory_total_bytes", "GPU memory.", labels=["gpu"])
    for index in range(count):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        utilisation.add_metric([str(index)], rates.gpu / 100.0)
        used.add_metric([str(index)], memory.used)
        total.add_metric([str(index)], memory.total)
    yield from (utilisation, used, total)


for _collect in (collect_queue, collect_media_disk, collect_gpu):
    register_scrape_collector(_collect)


class timed:
    """``with timed(histogram.labels(...)):`` observes the seconds the block took."""

    def __init__(self, child) -> None:
        self.child = child

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.elapsed = time.perf_counter() - self.started
        self.child.observe(self.elapsed)
