"""The portal in a real browser: Debian's Chromium driven by Playwright, against Daphne."""

from __future__ import annotations

import shutil
import socket
import threading
import time
import urllib.request

import pytest
from django.contrib.sessions.models import Session
from django_tenants.utils import schema_context

from tenants.events import send_event
from tests.conftest import ALPHA, running_process

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server_url(committed, test_subprocess_env, tmp_path):
    """Daphne serving the test database, as `make run` serves the real one."""
    port = _free_port()
    log = tmp_path / "daphne.log"
    argv = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    with running_process(argv, env=test_subprocess_env, log=log):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("Daphne did not start:\n" + log.read_text())
        yield f"http://{ALPHA.host}:{port}"
    with schema_context(ALPHA.schema_name):
        Session.objects.all().delete()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser.new_page()
        browser.close()


def test_sign_in_see_dashboard_and_receive_a_live_event(live_server_url, page):
    page.goto(f"{live_server_url}/")
    assert "/accounts/login/" in page.url

    page.get_by_label("E-mail").fill(ALPHA.owner.email)
    page.get_by_label("Password").fill(ALPHA.owner.password)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("heading", name="Alpha Org").wait_for()
    assert page.url == f"{live_server_url}/"
    page.locator("[data-events-status][data-state='open']").wait_for(timeout=30_000)

    # Playwright's sync API owns this thread's event loop: publish from another thread,
    # as a worker process would.
    publisher = threading.Thread(
        target=send_event,
        kwargs={
            "schema_name": ALPHA.schema_name,
            "kind": "test",
            "data": {"message": "Job 7: 3/10 files"},
        },
    )
    publisher.start()
    publisher.join(timeout=30)
    page.get_by_text("Job 7: 3/10 files").wait_for(timeout=30_000)
    assert page.locator("[data-events-empty]").count() == 0
