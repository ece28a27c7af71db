"""The task queue's housekeeping: finished results are trimmed on a schedule."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone
from django_q.models import Failure, Success, Task

from tenants.maintenance import trim_task_results


def _task(minutes_ago: int, *, success: bool = True) -> Task:
    stopped = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return Task.objects.create(
        id=uuid.uuid4().hex, name=f"task {minutes_ago}", func="tenants.maintenance.x",
        started=stopped - dt.timedelta(seconds=1), stopped=stopped, success=success,
    )  # fmt: skip


def test_the_newest_successes_are_kept_and_every_failure(db, settings):
    settings.FACET_TASK_RESULTS_KEPT = 3
    for minutes_ago in range(6):
        _task(minutes_ago)
    failed = _task(60, success=False)
    assert trim_task_results() == 3
    kept = sorted(Success.objects.values_list("name", flat=True))
    assert kept == ["task 0", "task 1", "task 2"]
    assert list(Failure.objects.values_list("pk", flat=True)) == [failed.pk]
    assert trim_task_results() == 0  # nothing past the limit now
