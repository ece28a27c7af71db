"""A dead worker's task is handed back at once, and never one another worker holds."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import psutil
import pytest
from django.utils import timezone
from django_q.models import OrmQ

from tenants import queue_leases


@pytest.fixture
def records(tmp_path, settings):
    settings.Q_INFLIGHT_DIR = str(tmp_path)
    return tmp_path / settings.Q_CLUSTER["name"]


def _dead_pid() -> tuple[int, float]:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time()
    child.wait()
    return child.pid, started


def _held_task(lock_in_s: int = 700) -> OrmQ:
    return OrmQ.objects.create(
        key="facet", payload="x", lock=timezone.now() + timedelta(seconds=lock_in_s)
    )


def _write(records, pid, started, task, lock=None):
    records.mkdir(parents=True, exist_ok=True)
    (records / f"{pid}.json").write_text(
        json.dumps(
            {
                "ack_id": task.pk,
                "lock": (lock or task.lock).isoformat(),
                "pid": pid,
                "started": started,
                "name": "t_alpha:process_media",
            }
        )
    )


def test_the_task_of_a_dead_worker_is_runnable_again_at_once(db, records):
    task = _held_task()
    pid, started = _dead_pid()
    _write(records, pid, started, task)
    assert queue_leases.release_tasks_of_dead_workers(sender="django_q") == 1
    task.refresh_from_db()
    assert task.lock <= timezone.now()
    assert not list(records.glob("*.json"))


def test_a_live_workers_task_is_left_alone(db, records):
    task = _held_task()
    me = psutil.Process()
    _write(records, me.pid, me.create_time(), task)
    assert queue_leases.release_tasks_of_dead_workers(sender="django_q") == 0
    task.refresh_from_db()
    assert task.lock > timezone.now()


def test_a_task_another_worker_took_since_is_not_released(db, records):
    task = _held_task()
    pid, started = _dead_pid()
    # The dead worker's lock expired and another worker dequeued the task (new lock).
    _write(records, pid, started, task, lock=task.lock - timedelta(seconds=900))
    assert queue_leases.release_tasks_of_dead_workers(sender="django_q") == 0
    task.refresh_from_db()
    assert task.lock > timezone.now()


def test_a_worker_notes_its_task_and_forgets_it_when_done(db, records):
    task = _held_task()
    queue_leases.note_running_task(sender="django_q", task={"ack_id": task.pk, "name": "n"})
    [path] = records.glob("*.json")
    assert json.loads(path.read_text())["ack_id"] == task.pk
    queue_leases.forget_finished_task(sender="django_q")
    assert not path.exists()
