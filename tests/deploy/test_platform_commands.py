"""The commands a deployment runs besides the servers: the migrate/init step
(compose `init`, the k8s migrate Job) and the workers' liveness probe."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tenants.models import Domain
from tests.conftest import running_process


def _manage(*argv, env, timeout=300):
    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_platform_prepare_is_idempotent_and_creates_the_public_host(committed, test_subprocess_env):
    from django_q.models import Schedule

    host = "platform.deploy.test"
    env = {**test_subprocess_env, "FACET_PUBLIC_HOST": host}
    try:
        for _ in range(2):  # a rerun (the next release's Job) changes nothing
            out = _manage("platform_prepare", env=env)
            assert out.returncode == 0, out.stdout + out.stderr
            assert f"public host {host}" in out.stdout
        domain = Domain.objects.get(domain=host)
        assert domain.tenant.schema_name == "public"
        assert Domain.objects.filter(tenant=domain.tenant).count() >= 1
        names = set(Schedule.objects.values_list("name", flat=True))
        assert set(settings.FACET_SCHEDULES) <= names
    finally:
        Domain.objects.filter(domain=host).delete()


def test_worker_probe_fails_without_a_cluster_on_this_host(committed):
    with pytest.raises(CommandError, match="no heartbeat"):
        call_command("queue_worker_alive", wait=0)


def test_worker_probe_passes_while_the_cluster_runs(committed, test_subprocess_env, tmp_path):
    env = {**test_subprocess_env, "Q_WORKERS": "1"}
    with running_process(["manage.py", "qcluster"], env=env, log=tmp_path / "q.log") as worker:
        deadline = time.monotonic() + 90
        while True:
            out = _manage("queue_worker_alive", "--wait", "2", env=env, timeout=60)
            if out.returncode == 0:
                break
            assert worker.poll() is None, (tmp_path / "q.log").read_text()
            assert time.monotonic() < deadline, out.stderr + (tmp_path / "q.log").read_text()
            time.sleep(1)
        assert "cluster facet on" in out.stdout
