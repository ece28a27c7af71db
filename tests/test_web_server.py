"""The web server as `make run` starts it: bodies on disk and capped, and a
bounded database pool that answers 503 + Retry-After when it runs dry."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time

import psutil
import pytest
from django.db import connection
from django_q.models import OrmQ
from django_tenants.utils import schema_context
from knox.models import AuthToken

from tests.conftest import ALPHA, running_web_server

MB = 1024 * 1024


@pytest.fixture
def alpha_token(committed):
    with schema_context(ALPHA.schema_name):
        from django.contrib.auth import get_user_model

        instance, token = AuthToken.objects.create(
            get_user_model().objects.get(username=ALPHA.owner.email)
        )
    yield token
    with schema_context(ALPHA.schema_name):
        instance.delete()


def _multipart_upload(port: int, token: str, payload_size: int, *, chunk=MB):
    """POST /api/v1/media/ with a video of ``payload_size`` bytes, streamed."""
    boundary = "facet-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"'
        "\r\nContent-Type: video/mp4\r\n\r\n"
    ).encode() + b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    tail = f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.putrequest("POST", "/api/v1/media/", skip_host=True)
    conn.putheader("Host", ALPHA.host)
    conn.putheader("Authorization", f"Token {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + payload_size + len(tail)))
    conn.endheaders()
    conn.send(head)
    block = os.urandom(chunk)
    for _ in range(payload_size // chunk):
        conn.send(block)
    conn.send(tail)
    response = conn.getresponse()
    return response.status, response.read()


def _web_process(port: int) -> psutil.Process:
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "config.web_server" in cmdline and str(port) in cmdline:
            return process
    raise AssertionError("web server process not found")


def _delete_uploads() -> None:
    from media_ingest import services
    from media_ingest.models import IngestJob, MediaFile

    with schema_context(ALPHA.schema_name):
        for media in MediaFile.objects.all():
            services.media_delete(media=media)
        IngestJob.objects.all().delete()
    OrmQ.objects.all().delete()


def test_a_200_mb_upload_grows_the_web_process_by_less_than_100_mb(
    alpha_token, test_subprocess_env, tmp_path
):
    try:
        with running_web_server(env=test_subprocess_env, log=tmp_path / "web.log") as port:
            web = _web_process(port)
            _multipart_upload(port, alpha_token, MB)  # warm: imports, first connections
            base = peak = web.memory_info().rss
            done = threading.Event()

            def sample():
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, web.memory_info().rss)
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                status, body = _multipart_upload(port, alpha_token, 200 * MB)
            finally:
                done.set()
                sampler.join()
        assert status == 201, body
        assert json.loads(body)["status"] == "queued"
        assert peak - base < 100 * MB, f"web RSS grew {(peak - base) / MB:.0f} MB"
    finally:
        _delete_uploads()


def test_a_body_larger_than_any_upload_is_refused_from_its_content_length(
    alpha_token, test_subprocess_env, tmp_path
):
    env = {**test_subprocess_env, "FACET_MAX_VIDEO_MB": "5", "FACET_MAX_PHOTO_MB": "2"}
    with running_web_server(env=env, log=tmp_path / "web.log") as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.putrequest("POST", "/api/v1/media/", skip_host=True)
        conn.putheader("Host", ALPHA.host)
        conn.putheader("Authorization", f"Token {alpha_token}")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(50 * MB))
        conn.endheaders()  # and no body at all: the answer cannot wait for it
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["code"] == "too-large"


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(
    alpha_token, test_subprocess_env, tmp_path
):
    env = {**test_subprocess_env, "FACET_MAX_VIDEO_MB": "5", "FACET_MAX_PHOTO_MB": "2"}
    with running_web_server(env=env, log=tmp_path / "web.log") as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.putrequest("POST", "/api/v1/media/", skip_host=True)
        conn.putheader("Host", ALPHA.host)
        conn.putheader("Authorization", f"Token {alpha_token}")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        block = b"x" * MB
        try:
            for _ in range(50):
                conn.send(b"%x\r\n%s\r\n" % (len(block), block))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server hung up: what is tested
        response = conn.getresponse()
        assert response.status == 413


def test_an_exhausted_pool_answers_503_with_retry_after_and_never_500(
    alpha_token, test_subprocess_env, tmp_path
):
    env = {
        **test_subprocess_env,
        "FACET_DB_POOL_SIZE": "2",
        "FACET_DB_POOL_MIN": "1",
        "FACET_DB_POOL_TIMEOUT": "1",
        "FACET_DB_POOL_MAX_WAITING": "1",
    }
    statuses: list[int] = []
    busy: list[tuple[str | None, dict]] = []
    peak_connections = 0

    def count_web_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'facet-web'"
            )
            return cursor.fetchone()[0]

    def client() -> None:
        for _ in range(10):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(
                "GET",
                "/api/v1/media/",
                headers={"Host": ALPHA.host, "Authorization": f"Token {alpha_token}"},
            )
            response = conn.getresponse()
            body = response.read()
            statuses.append(response.status)
            if response.status == 503:
                busy.append((response.getheader("Retry-After"), json.loads(body)))

    with running_web_server(env=env, log=tmp_path / "web.log") as port:
        threads = [threading.Thread(target=client) for _ in range(30)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            peak_connections = max(peak_connections, count_web_connections())
            time.sleep(0.05)
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert statuses.count(200) > 0 and busy, "the pool was never exhausted"
    retry_after, body = busy[0]
    assert int(retry_after) > 0
    assert body["code"] == "busy"
    assert peak_connections <= 2


def test_the_web_processes_of_make_run_share_one_socket(test_subprocess_env, tmp_path):
    """`make run` starts FACET_WEB_PROCESSES web servers on the socket it opens:
    each one answers on the port, so with one gone the other still does."""
    import subprocess
    import sys
    import urllib.request

    from django.conf import settings

    from tenants.management.commands.run_platform import web_commands

    assert list(web_commands(sys.executable, "::1", 8000, 2)[0]) == ["web"]  # IPv6: one
    assert web_commands(sys.executable, "127.0.0.1", 8000, 1)[1] is None
    commands, listener = web_commands(sys.executable, "127.0.0.1", 0, 2)
    port = listener.getsockname()[1]
    assert sorted(commands) == ["web-1", "web-2"]
    processes = []
    try:
        for name, argv in commands.items():
            with (tmp_path / f"{name}.log").open("wb") as log:
                process = subprocess.Popen(
                    argv, cwd=settings.BASE_DIR, env=test_subprocess_env, stdout=log,
                    stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),),
                )  # fmt: skip
                processes.append(process)
        listener.close()

        def answers() -> bool:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                        return True
                except OSError:
                    time.sleep(0.2)
            return False

        assert answers()
        processes[0].terminate()
        processes[0].wait(timeout=30)
        assert all(answers() for _ in range(5))
    finally:
        for process in processes:
            process.kill()
            process.wait()
