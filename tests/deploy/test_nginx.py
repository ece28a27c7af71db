"""deploy/nginx/facet.conf.template: `nginx -t` with Debian's nginx, then the
real thing in front of a real Facet web server: HTTP to HTTPS, the Host with
its port (the WebSocket Origin check), the WebSocket upgrade, limit_req."""

from __future__ import annotations

import base64
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django_tenants.utils import schema_context

from tests.conftest import ALPHA, free_port, running_web_server

ROOT = Path(settings.BASE_DIR)
TEMPLATE = ROOT / "deploy" / "nginx" / "facet.conf.template"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")

pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists() and not os.environ.get("CI"),
    reason="Debian's nginx is installed by `make deploy-tools` (make test)",
)


def render(values: dict[str, str]) -> str:
    """What the nginx image's envsubst step does: ${NAME} for the names given only."""
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, "a template variable the compose file does not set"
    return text


def self_signed(directory: Path) -> tuple[Path, Path]:
    crt, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(crt), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,DNS:*.localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return crt, key


def nginx_prefix(tmp: Path, site: str) -> Path:
    """A prefix directory with a main config around ``site`` (as the image's
    /etc/nginx/nginx.conf includes conf.d/*.conf inside http {})."""
    (tmp / "conf.d").mkdir(parents=True, exist_ok=True)
    (tmp / "logs").mkdir(exist_ok=True)
    (tmp / "conf.d" / "facet.conf").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/logs/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  access_log {tmp}/logs/access.log;\n"
        + "".join(
            f"  {kind}_temp_path {tmp}/{kind}_temp;\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {tmp}/conf.d/*.conf;\n"
        "}\n"
    )
    return tmp / "nginx.conf"


def compose_values() -> dict[str, str]:
    """The values deploy/compose.yaml gives the template."""
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    values = {}
    for name in ("FACET_HTTPS_PORT", "FACET_WEB_UPSTREAM", "FACET_RESOLVER"):
        found = re.search(rf"{name}: \"?([^\s\"]+)", compose)
        assert found, f"compose.yaml sets {name} for the nginx template"
        values[name] = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", found.group(1))
    return values


def test_nginx_t_accepts_the_shipped_config(tmp_path):
    crt, key = self_signed(tmp_path)
    site = render(compose_values())
    site = site.replace("/etc/nginx/certs/tls.crt", str(crt))
    site = site.replace("/etc/nginx/certs/tls.key", str(key))
    conf = nginx_prefix(tmp_path / "prefix", site)
    out = subprocess.run(
        [NGINX, "-t", "-p", str(conf.parent), "-c", str(conf)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stderr
    assert "[warn]" not in out.stderr.replace('user" directive', ""), out.stderr


def test_api_and_sign_in_are_rate_limited_in_the_config():
    site = render(compose_values())
    for location, zone in (
        ("location /api/", "facet_api"),
        ("location = /api/v1/auth/token/", "facet_signin"),
        ("location = /accounts/login/", "facet_signin"),
    ):
        block = site.split(location, 1)[1].split("}", 1)[0]
        assert f"limit_req zone={zone}" in block, location


@pytest.fixture
def proxied(tmp_path, committed, test_subprocess_env):
    """nginx on free ports in front of config.web_server; yields (http_port, https_port)."""
    http_port, https_port = free_port(), free_port()
    crt, key = self_signed(tmp_path)
    with running_web_server(env=test_subprocess_env, log=tmp_path / "web.log") as web_port:
        site = render(
            {
                "FACET_HTTPS_PORT": str(https_port),
                "FACET_WEB_UPSTREAM": f"127.0.0.1:{web_port}",
                "FACET_RESOLVER": "127.0.0.1",
            }
        )
        site = site.replace("listen [::]:80 default_server;", "")
        site = site.replace("listen [::]:443 ssl http2 default_server;", "")
        site = site.replace("listen 80 ", f"listen 127.0.0.1:{http_port} ")
        site = site.replace("listen 443 ", f"listen 127.0.0.1:{https_port} ")
        site = site.replace("/etc/nginx/certs/tls.crt", str(crt))
        site = site.replace("/etc/nginx/certs/tls.key", str(key))
        conf = nginx_prefix(tmp_path / "prefix", site)
        process = subprocess.Popen(
            [NGINX, "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                    break
                except OSError:
                    assert process.poll() is None, process.stderr.read().decode()
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.1)
            yield http_port, https_port
        finally:
            process.terminate()
            process.wait(timeout=20)
            shutil.rmtree(tmp_path / "prefix", ignore_errors=True)


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
    return context


def _https(port: int) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", port, context=_tls(), timeout=20)


def _websocket_status(port: int, *, host: str, origin: str, session_key: str) -> int:
    request = (
        "GET /ws/events/ HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n"
        f"Cookie: {settings.SESSION_COOKIE_NAME}={session_key}\r\n\r\n"
    )
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    with _tls().wrap_socket(raw, server_hostname="alpha.localhost") as tls:
        tls.sendall(request.encode())
        status_line = tls.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


@pytest.fixture
def alpha_session(committed):
    with schema_context(ALPHA.schema_name):
        user = ALPHA.user(ALPHA.owner)
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
    yield session.session_key
    with schema_context(ALPHA.schema_name):
        session.delete()


def test_plain_http_is_redirected_to_https_on_the_clients_port(proxied):
    http_port, https_port = proxied
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=20)
    connection.request("GET", "/accounts/login/?next=/", headers={"Host": "alpha.localhost"})
    response = connection.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == (
        f"https://alpha.localhost:{https_port}/accounts/login/?next=/"
    )


def test_the_host_keeps_its_port_and_websockets_upgrade(proxied, alpha_session):
    _, https_port = proxied
    host = f"alpha.localhost:{https_port}"
    connection = _https(https_port)
    connection.request("GET", "/accounts/login/", headers={"Host": host})
    response = connection.getresponse()
    assert response.status == 200, response.read()[:500]

    # The Origin check compares the browser's origin with Host, port included:
    # with `Host $host` this was 403 on any port but 80/443.
    assert (
        _websocket_status(
            https_port, host=host, origin=f"https://{host}", session_key=alpha_session
        )
        == 101
    )
    assert (
        _websocket_status(
            https_port,
            host=host,
            origin=f"https://beta.localhost:{https_port}",
            session_key=alpha_session,
        )
        == 403
    )


def test_sign_in_is_rate_limited_by_nginx(proxied):
    _, https_port = proxied
    connection = _https(https_port)
    answers = []
    for _ in range(15):
        connection.request(
            "GET", "/accounts/login/", headers={"Host": f"alpha.localhost:{https_port}"}
        )
        response = connection.getresponse()
        answers.append((response.status, response.read()))
    statuses = [status for status, _ in answers]
    assert statuses[:11] == [200] * 11, statuses  # burst 10 on top of the first
    assert 429 in statuses[11:], statuses
    limited = next(body for status, body in answers if status == 429)
    assert b"nginx" in limited  # refused by the proxy, before Daphne
