import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django_q.models import OrmQ, Task
from django_q.signing import SignedPackage
from django_tenants.utils import schema_context
from knox.models import AuthToken

from tenants.maintenance import purge_expired_tokens
from tenants.tasks import TenantTaskError, enqueue_tenant_task, run_tenant_task, tenant_task
from tests.conftest import ALPHA, BETA, running_process


@tenant_task(timeout_s=30)
def current_schema() -> str:
    return connection.schema_name


@tenant_task(timeout_s=30)
def failing_task() -> None:
    raise ValueError("boom")


def _queued_payloads():
    return [SignedPackage.loads(row.payload) for row in OrmQ.objects.all()]


def test_enqueue_waits_for_commit_and_carries_the_schema(alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        current_schema.enqueue(schema_name=alpha.schema_name)
        assert OrmQ.objects.count() == 0
    assert len(callbacks) == 1
    callbacks[0]()
    [payload] = _queued_payloads()
    assert payload["func"] is run_tenant_task
    assert payload["args"] == (alpha.schema_name, current_schema.task_path)


def test_rolled_back_work_enqueues_nothing(alpha, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                current_schema.enqueue(schema_name=alpha.schema_name)
                raise RuntimeError("request failed")
        except RuntimeError:
            pass
    assert OrmQ.objects.count() == 0


@pytest.mark.parametrize("schema_name", ["", None, "public"])
def test_enqueue_without_a_tenant_schema_raises(db, schema_name):
    with pytest.raises(TenantTaskError):
        current_schema.enqueue(schema_name=schema_name)


def test_unregistered_functions_cannot_be_queued(alpha):
    with pytest.raises(TenantTaskError, match="not a registered tenant task"):
        enqueue_tenant_task("os.system", "true", schema_name=alpha.schema_name)
    with pytest.raises(TenantTaskError, match="not a registered tenant task"):
        run_tenant_task(alpha.schema_name, "os.system", "true")


def test_runner_enters_the_schema_and_restores_it(alpha, beta):
    assert run_tenant_task(alpha.schema_name, current_schema.task_path) == alpha.schema_name
    assert run_tenant_task(beta.schema_name, current_schema.task_path) == beta.schema_name
    assert connection.schema_name == "public"
    with pytest.raises(ValueError, match="boom"):
        run_tenant_task(alpha.schema_name, failing_task.task_path)
    assert connection.schema_name == "public"


@pytest.mark.parametrize("schema_name", ["", "t_nobody"])
def test_runner_refuses_a_missing_or_unknown_schema(db, schema_name):
    with pytest.raises(TenantTaskError):
        run_tenant_task(schema_name, current_schema.task_path)


def _expired_token(schema_name: str) -> str:
    with schema_context(schema_name):
        from django.contrib.auth import get_user_model

        instance, _ = AuthToken.objects.create(
            get_user_model().objects.get(pk=1), expiry=timedelta(seconds=-1)
        )
        return instance.token_key


def test_a_real_worker_runs_the_task_in_the_right_tenant(committed, test_subprocess_env, tmp_path):
    alpha, beta = ALPHA, BETA
    alpha_key = _expired_token(alpha.schema_name)
    beta_key = _expired_token(beta.schema_name)
    purge_expired_tokens.enqueue(schema_name=alpha.schema_name)  # no transaction: queued now

    log = tmp_path / "qcluster.log"
    try:
        with running_process(["manage.py", "qcluster"], env=test_subprocess_env, log=log):
            _wait_for_the_task_then_check_readiness(log)
    finally:
        Task.objects.all().delete()
        OrmQ.objects.all().delete()
        with schema_context(beta.schema_name):
            beta_left = AuthToken.objects.filter(token_key=beta_key).exists()
            AuthToken.objects.filter(token_key=beta_key).delete()
        with schema_context(alpha.schema_name):
            alpha_left = AuthToken.objects.filter(token_key=alpha_key).exists()
    output = log.read_text()
    assert not alpha_left, output
    assert beta_left, "a task for alpha touched beta's schema"


def _wait_for_the_task_then_check_readiness(log) -> None:
    deadline = time.monotonic() + 90
    while not Task.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    task = Task.objects.first()
    assert task is not None, "no task finished in 90 s:\n" + log.read_text()
    assert task.success, task.result
    assert task.result == 1
    ready = Client(HTTP_HOST="127.0.0.1").get("/health/ready")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["workers_alive"] is True


def test_a_task_is_queued_with_its_own_budget(alpha, django_capture_on_commit_callbacks):
    from media_ingest.tasks import PROCESS_MEDIA_TIMEOUT_S, process_media

    with django_capture_on_commit_callbacks(execute=True):
        process_media.enqueue(1, schema_name=alpha.schema_name)
    [row] = OrmQ.objects.all()
    payload = SignedPackage.loads(row.payload)
    assert payload["timeout"] == PROCESS_MEDIA_TIMEOUT_S
    OrmQ.objects.all().delete()


def test_the_video_task_budget_covers_the_decode_budget():
    from media_ingest.conf import ingest_setting
    from media_ingest.tasks import process_media

    assert process_media.timeout_s > ingest_setting("VIDEO_TIMEOUT_S") + 60


def test_a_task_without_a_budget_cannot_be_declared():
    with pytest.raises(TypeError):

        @tenant_task
        def no_budget() -> None: ...

    with pytest.raises(TenantTaskError, match="budget"):
        tenant_task(timeout_s=0)


def test_settings_whose_lease_is_shorter_than_a_budget_are_refused(settings):
    from tenants.checks import task_budgets_fit_the_lease

    assert task_budgets_fit_the_lease() == []
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "retry": 700}
    errors = task_budgets_fit_the_lease()
    assert [e.id for e in errors] == ["tenants.E001"]
    assert "media_ingest.tasks.process_media" in errors[0].msg


def test_a_cluster_refuses_to_start_with_such_settings(test_subprocess_env, tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    out = subprocess.run(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env={**test_subprocess_env, "Q_TIMEOUT": "600", "Q_RETRY": "700"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "tenants.E001" in out.stderr
