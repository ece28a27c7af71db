"""Hand a dead worker's task back to the queue at once, not after Q_RETRY.

The ORM broker hands a task out by pushing its ``lock`` Q_RETRY seconds into
the future; only then does another worker get it. A worker killed by the OOM
killer or a crash never says so, so its task used to wait those 12 minutes,
although django-q2's sentinel notices the death at once and starts a new
worker. Here each worker notes the task it runs (a small file per process:
the sentinel and its workers share one host), and every worker that starts,
the replacement included, releases the tasks of workers that are gone.

A release only touches a task that still carries the lock its dead worker
took, so a task another worker has taken since is never handed out twice.
Processing stays exactly-once through its own attempt counter
(media_ingest.processing) and the broker's ack.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import psutil
from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone
from django_q.signals import post_execute_in_worker, post_spawn, pre_execute

logger = logging.getLogger(__name__)


def _records_dir() -> Path:
    return Path(settings.Q_INFLIGHT_DIR) / settings.Q_CLUSTER["name"]


def _record_path(pid: int) -> Path:
    return _records_dir() / f"{pid}.json"


def _lock_of(ack_id) -> str | None:
    from django_q.models import OrmQ

    lock = OrmQ.objects.filter(pk=ack_id).values_list("lock", flat=True).first()
    return lock.isoformat() if lock else None


@receiver(pre_execute, dispatch_uid="facet.queue_leases.note")
def note_running_task(sender, func=None, task=None, **kwargs) -> None:
    ack_id = (task or {}).get("ack_id")
    if not ack_id:
        return
    process = psutil.Process()
    record = {
        "ack_id": ack_id,
        "lock": _lock_of(ack_id),
        "pid": process.pid,
        "started": process.create_time(),
        "name": (task or {}).get("name", ""),
    }
    path = _record_path(process.pid)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


@receiver(post_execute_in_worker, dispatch_uid="facet.queue_leases.forget")
def forget_finished_task(sender, **kwargs) -> None:
    _record_path(os.getpid()).unlink(missing_ok=True)


def _alive(record: dict) -> bool:
    try:
        process = psutil.Process(record["pid"])
        # The same pid, started at the same time: not a newcomer that reused it.
        return abs(process.create_time() - record["started"]) < 1 and process.is_running()
    except psutil.Error:
        return False


@receiver(post_spawn, dispatch_uid="facet.queue_leases.release")
def release_tasks_of_dead_workers(sender, **kwargs) -> int:
    """Make the tasks of workers that died runnable now. Returns how many."""
    from django_q.models import OrmQ

    released = 0
    directory = _records_dir()
    if not directory.is_dir():
        return 0
    for path in directory.glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _alive(record):
            continue
        held = OrmQ.objects.filter(pk=record["ack_id"])
        if record.get("lock"):
            held = held.filter(lock=record["lock"])
        if held.update(lock=timezone.now()):
            released += 1
            logger.warning(
                "worker %s died while running %s; its task is queued again",
                record["pid"],
                record.get("name") or record["ack_id"],
            )
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return released
