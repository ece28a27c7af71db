"""A worker killed in the middle of a file: the file still finishes, exactly once."""

from __future__ import annotations

import io
import os
import re
import signal
import time
from pathlib import Path

from django_q.models import OrmQ, Task
from django_tenants.utils import schema_context

from media_ingest import services
from media_ingest.models import Face, IngestJob, MediaFile, Source
from tests.conftest import ALPHA, running_process

from .conftest import shared_file


def _worker_pids(log: Path) -> list[int]:
    """The cluster's task workers, as it announces them (its other children push,
    monitor and guard, and must live on to re-deliver the task)."""
    return [int(pid) for pid in re.findall(r"ready for work at (\d+)", log.read_text())]


def test_killed_worker_mid_task_file_finishes_exactly_once(
    committed, test_subprocess_env, tmp_path
):
    photo = shared_file("groups", "dlib_bald_guys.jpg").read_bytes()
    # The production lease: the ORM broker would re-deliver only after 25 minutes.
    # The replacement worker hands the dead one's task back at once instead.
    env = {**test_subprocess_env, "Q_WORKERS": "1", "Q_TIMEOUT": "600", "Q_RETRY": "1500"}
    with schema_context(ALPHA.schema_name):
        job = services.job_create(source=Source.API)
        media_id = services.media_accept(
            stream=io.BytesIO(photo), name="crowd.jpg", source=Source.API, job=job
        ).media.pk
    log = tmp_path / "qcluster.log"
    try:
        with running_process(["manage.py", "qcluster"], env=env, log=log):
            media = _kill_the_worker_mid_file_then_wait(media_id, log)
        with schema_context(ALPHA.schema_name):
            faces = Face.objects.filter(media_id=media_id)
            assert media.attempts == 2
            assert faces.count() == media.face_count > 5
            assert faces.values("ordinal").distinct().count() == faces.count()
            assert IngestJob.objects.get(pk=job.pk).done_files == 1
    finally:
        with schema_context(ALPHA.schema_name):
            for item in MediaFile.objects.all():
                services.media_delete(media=item)
            IngestJob.objects.all().delete()
        Task.objects.all().delete()
        OrmQ.objects.all().delete()


def _kill_the_worker_mid_file_then_wait(media_id: int, log: Path) -> MediaFile:
    killed = False
    deadline = time.monotonic() + 90  # far below the 1500 s lease
    while time.monotonic() < deadline:
        with schema_context(ALPHA.schema_name):
            media = MediaFile.objects.get(pk=media_id)
        if media.status == MediaFile.Status.PROCESSING and not killed:
            for pid in _worker_pids(log):
                os.kill(pid, signal.SIGKILL)  # as the OOM killer would
            killed = True
        if media.status == MediaFile.Status.DONE:
            break
        time.sleep(0.05)
    assert killed, "the worker was never seen processing:\n" + log.read_text()
    assert media.status == MediaFile.Status.DONE, log.read_text()
    return media
