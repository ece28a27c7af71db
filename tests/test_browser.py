"""The portal in a real browser: Debian's Chromium driven by Playwright, against Daphne."""

from __future__ import annotations

import shutil
import threading

import pytest
from django.contrib.sessions.models import Session
from django_tenants.utils import schema_context

from tenants.events import send_event
from tests.conftest import ALPHA, running_web_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser


@pytest.fixture
def live_server_url(committed, test_subprocess_env, tmp_path):
    """The web server on the test database, as `make run` serves the real one."""
    with running_web_server(env=test_subprocess_env, log=tmp_path / "web.log") as port:
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


def _sign_in(page, base_url, account) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("E-mail").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Alpha Org").wait_for()


PAGES = [
    "/",
    "/library/",
    "/upload/",
    "/faces/",
    "/search/",
    "/search/log/",
    "/members/",
    "/settings/model/",
    "/api/docs/",
    "/admin/",
    "/admin/auth/user/",
    "/no-such-page/",
]


def test_no_page_needs_inline_script_or_styles_the_policy_refuses(live_server_url, page):
    """Every page is served with a Content-Security-Policy that allows no inline
    script, and nothing on them (portal, Swagger UI, the tenant admin) is refused."""
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    _sign_in(page, live_server_url, ALPHA.owner)
    for path in PAGES:
        response = page.goto(f"{live_server_url}{path}")
        policy = response.headers.get("content-security-policy", "")
        script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
        assert script_src.strip() == "script-src 'self'", path
        if not path.startswith(("/admin/", "/api/docs/")):  # their inline style attributes
            assert "unsafe-inline" not in policy, path
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server_url}/api/docs/")
    page.locator(".swagger-ui .information-container").wait_for(timeout=30_000)
    assert not refused, "\n".join(refused)


def test_library_filters_apply_on_change_without_inline_handlers(live_server_url, page):
    _sign_in(page, live_server_url, ALPHA.owner)
    page.goto(f"{live_server_url}/library/")
    page.get_by_label("Kind").select_option("video")
    page.wait_for_url("**/library/?*kind=video*")
