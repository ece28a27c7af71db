"""Session-wide fixtures: two tenants with colliding ids, created once.

Tenants ``alpha`` and ``beta`` each have an owner (user id 1) and a viewer
(user id 2) in their own schema, so every id exists in both and only the
schema keeps them apart: the canary for tenant leaks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from tenants import services
from tenants.metrics import clean_metrics_dir
from tenants.models import Tenant
from tenants.roles import Role

PUBLIC_HOST = "localhost"


@dataclass(frozen=True)
class Account:
    email: str
    password: str


@dataclass(frozen=True)
class TenantSetup:
    slug: str
    host: str
    schema_name: str
    owner: Account
    viewer: Account

    @property
    def tenant(self) -> Tenant:
        return Tenant.objects.get(slug=self.slug)

    def client(self, account: Account | None = None) -> Client:
        """A test client on this tenant's host, signed in as ``account`` if given."""
        client = Client(HTTP_HOST=self.host)
        if account is not None:
            # Client.login skips the middleware (and the sign-in lock-out, which needs
            # a request): enter the schema the way a request would and sign in directly.
            with schema_context(self.schema_name):
                client.force_login(self.user(account))
        return client

    def user(self, account: Account):
        from django.contrib.auth import get_user_model

        return get_user_model().objects.get(username=account.email)


def _setup(slug: str) -> TenantSetup:
    return TenantSetup(
        slug=slug,
        host=f"{slug}.localhost",
        schema_name=Tenant.schema_name_for(slug),
        owner=Account(f"owner@{slug}.test", f"owner-{slug}-pass"),
        viewer=Account(f"viewer@{slug}.test", f"viewer-{slug}-pass"),
    )


ALPHA = _setup("alpha")
BETA = _setup("beta")


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker):
    """Create the test database and the two canary tenants, once per session.

    Replaces pytest-django's fixture, which sets up only the databases that
    ``django_db``-marked tests name: a run of only ``committed`` tests would
    otherwise write into the development database.
    """
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
    # Metric samples of earlier runs' processes (this run's are kept: they are open).
    clean_metrics_dir()
    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        test_name = connection.settings_dict["TEST"]["NAME"]
        assert connection.settings_dict["NAME"] == test_name, "refusing to seed a non-test DB"
        _create_canary_tenants()
    yield
    with django_db_blocker.unblock():
        _close_channel_layer_pool()
        # Channels' database thread and the channel layer keep connections of their own.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        teardown_databases(config, verbosity=0)


def _close_channel_layer_pool() -> None:
    """channels-postgres keeps a process-wide pool; close it so the test DB can be dropped."""
    import asyncio

    from channels_postgres import db as channel_db

    if channel_db.connection_pool is not None:
        with contextlib.suppress(Exception):
            asyncio.run(asyncio.wait_for(channel_db.connection_pool.close(), timeout=5))
        channel_db.connection_pool = None


def _create_canary_tenants() -> None:
    services.public_tenant_ensure(domain=PUBLIC_HOST)
    for setup in (ALPHA, BETA):
        services.tenant_create(
            slug=setup.slug,
            domain=setup.host,
            owner_email=setup.owner.email,
            owner_password=setup.owner.password,
            name=f"{setup.slug.title()} Org",
        )
        with schema_context(setup.schema_name):
            services.member_create(
                email=setup.viewer.email, role=Role.VIEWER, password=setup.viewer.password
            )
    connection.set_schema_to_public()


@pytest.fixture
def alpha(db) -> TenantSetup:
    return ALPHA


@pytest.fixture
def beta(db) -> TenantSetup:
    return BETA


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Database access outside a test transaction: writes are visible to other
    threads and processes (servers, workers). The test removes what it adds;
    tasks it left queued are removed here, or a later test's worker would run
    them (for a tenant the test has deleted, say)."""
    from django_q.models import OrmQ

    with django_db_blocker.unblock():
        last_task = OrmQ.objects.order_by("-id").values_list("id", flat=True).first() or 0
        yield
        connection.set_schema_to_public()
        OrmQ.objects.filter(id__gt=last_task).delete()


@pytest.fixture
def test_subprocess_env() -> dict[str, str]:
    """Environment for a server or worker process that must use the test database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "FACET_TEST_SUBPROCESS": "1",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    """Requests leave the connection on their tenant's schema (each real request
    resets it first); start every test from the public schema."""
    yield
    connection.set_schema_to_public()  # sets the search path lazily: no query


def run_queued_tasks(cluster: str | None = None) -> list:
    """Take every task off the real ORM broker (the default cluster's queue, or
    ``cluster``'s) and run it here, as a worker would (tests that need a
    separate worker process start `qcluster` instead)."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker(cluster) if cluster else get_broker()
    results = []
    while True:
        if not broker.queue_size():
            return results
        for ack_id, payload in broker.dequeue() or []:
            task = SignedPackage.loads(payload)
            results.append(task["func"](*task["args"], **task["kwargs"]))
            broker.acknowledge(ack_id)


@contextlib.contextmanager
def running_process(argv: list[str], *, env: dict[str, str], log):
    """A server or worker process for the test, its output in ``log`` (a file, so a
    chatty child never blocks on a full pipe); stopped, or killed, on exit."""
    import subprocess
    import sys

    from django.conf import settings

    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_web_server(*, env: dict[str, str], log):
    """``config.web_server`` (as `make run` starts it) on a free port, once it
    answers /health; yields the port."""
    import time
    import urllib.request

    port = free_port()
    argv = ["-m", "config.web_server", "-b", "127.0.0.1", "-p", str(port)]
    with running_process(argv, env=env, log=log) as process:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.2)
        else:
            pytest.fail("the web server did not start:\n" + log.read_text())
        yield port


@pytest.fixture
def model(db):
    """The tenant's 128-D model (the built-in dlib one)."""
    from recognition.models import FaceModel

    found = FaceModel.objects.filter(is_default=True, embedding_dim=128).first()
    return found or FaceModel.objects.create(
        name="test-128", version="1", engine="dlib", embedding_dim=128, licence="test"
    )


@pytest.fixture
def processing(django_capture_on_commit_callbacks):
    """Run on-commit work (enqueue, events) then every queued task, like a worker."""
    from tests.conftest import run_queued_tasks

    class Runner:
        def __call__(self, action):
            with django_capture_on_commit_callbacks(execute=True):
                result = action()
            # Tasks queue more work on commit (a processed file is matched against
            # the galleries): run until nothing is left, as the workers would.
            while True:
                with django_capture_on_commit_callbacks(execute=True) as callbacks:
                    ran = run_queued_tasks()
                if not ran and not callbacks:
                    return result

    return Runner()
