"""What the browser tests share: Debian's Chromium through Playwright, and signing in."""

from __future__ import annotations

import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sign_in(page, base_url: str, account, *, heading: str = "Alpha Org") -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("E-mail").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=heading).wait_for()
