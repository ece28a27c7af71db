"""How long the Faces page takes to show its first 50 crops, cold and warm.

    .venv/bin/python -m bench.portal_crops [--faces 60] [--runs 5]

Starts `manage.py run_platform` in a fresh var dir (embedded PostgreSQL, 2
workers), uploads group photos until the tenant has --faces faces, then, in
Debian's Chromium (Playwright), signs in and loads /faces/ --runs times in
one browser context: the first load is cold (nothing cached), the later
ones warm (the crops' URLs are content-addressed and sent with
`Cache-Control: private, max-age=31536000, immutable`, so the browser does
not ask again). Each load is timed from navigation start to the moment the
first 50 crops are decoded (`img.complete && naturalWidth`), scrolled into
view so that lazy loading does not hold them back, and the crop requests
that came over the network are counted (a cached one transfers 0 bytes).

Lines kept stable for docs/benchmarks.md:
    cold: first 50 crops in X ms (N crop requests; the page itself H ms)
    warm: first 50 crops in p50 X ms, max Y ms (N crop requests per load; the page itself p50 H ms)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time

from bench.ingest import Client, Platform, pick_images, wait_stats

CROPS = 50
HOST = "demo.localhost"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Milliseconds from navigation start until the first `count` crops are decoded.
_UNTIL_DECODED = """async (count) => {
  const crops = [...document.querySelectorAll(".crops img")].slice(0, count);
  crops.forEach((img) => { img.loading = "eager"; });
  await Promise.all(crops.map((img) => img.complete && img.naturalWidth ? null :
    new Promise((done) => {
      img.addEventListener("load", done);
      img.addEventListener("error", done);
    })));
  if (crops.some((img) => !img.naturalWidth)) throw new Error("a crop failed to load");
  const html = performance.getEntriesByType("navigation")[0].responseEnd;
  return [crops.length, performance.now(), html];
}"""


def seed(client: Client, faces: int) -> int:
    uploaded = 0
    for path in pick_images(42):
        _, stats = client.json("GET", "/api/v1/stats/")
        if stats["faces"] >= faces:
            break
        code, _ = client.upload(path)
        if code not in (200, 201):
            continue
        uploaded += 1
        stats, _ = wait_stats(client, uploaded, limit=600)
    return stats["faces"]


def measure(port: int, email: str, password: str, runs: int) -> list[tuple[float, int, float]]:
    from playwright.sync_api import sync_playwright

    base = f"http://{HOST}:{port}"
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        # The portal has no favicon yet, and a 404 under Daphne drops the session
        # (Django renders it in a thread outside the tenant's schema). Blocked in
        # the browser, not routed: Playwright's routing turns the HTTP cache off.
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setBlockedURLs", {"urls": ["*/favicon.ico"]})
        page.goto("/accounts/login/")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/")
        for _ in range(runs):
            page.goto("/faces/", wait_until="commit")
            page.wait_for_selector(".crops img", state="attached")
            count, elapsed, html = page.evaluate(_UNTIL_DECODED, CROPS)
            if count < CROPS:
                raise SystemExit(f"the page shows only {count} crops")
            # Crops that came over the network (a cached one has transferSize 0).
            fetched = sum(
                1
                for entry in page.evaluate(
                    "() => performance.getEntriesByType('resource')"
                    ".filter(e => e.name.includes('/image')).map(e => e.transferSize)"
                )
                if entry > 0
            )
            results.append((elapsed, fetched, html))
            time.sleep(0.5)
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    platform = Platform(workers=2)
    print(f"platform: {platform.var}")
    try:
        print(f"run_platform -> ready: {platform.start():.1f} s", flush=True)
        creds = platform.credentials()
        client = Client(platform.port, HOST)
        client.login(creds["email"], creds["password"])
        print(f"seeded: {seed(client, args.faces)} faces", flush=True)
        results = measure(platform.port, creds["email"], creds["password"], args.runs)
    finally:
        platform.stop()
    (cold, cold_fetched, cold_html), warm = results[0], results[1:]
    print(
        f"cold: first {CROPS} crops in {cold:.0f} ms ({cold_fetched} crop requests; "
        f"the page itself {cold_html:.0f} ms)"
    )
    if warm:
        times = [t for t, _, _ in warm]
        fetched = max(n for _, n, _ in warm)
        html = statistics.median(h for _, _, h in warm)
        print(
            f"warm: first {CROPS} crops in p50 {statistics.median(times):.0f} ms, "
            f"max {max(times):.0f} ms ({fetched} crop requests per load; "
            f"the page itself p50 {html:.0f} ms)"
        )


if __name__ == "__main__":
    main()
