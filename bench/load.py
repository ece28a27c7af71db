"""Load on a running platform: uploads, searches and page loads at once, then
the sustained rate of the API's read routes.

    .venv/bin/python -m bench.load [--uploaders 20] [--searches-per-s 10] [--duration 60]

Starts `manage.py run_platform` in a fresh var dir (embedded PostgreSQL,
2 workers), seeds a few processed photos, then for --duration seconds runs
--uploaders clients uploading distinct photos back to back, searches at a
fixed rate (alternately by a stored face and by a photo) and two portal
page loads a second. It counts every answer that is not 2xx as an error
(503s and 429s are listed apart), samples PostgreSQL's connections during
and after the load, and finally measures the read routes (/api/v1/media/ and
/api/v1/me/) with --read-clients keep-alive clients: requests per second and
the web process's CPU per request.

Only loopback is addressed, and every loop stops on its own (count and time).
The load generator shares this machine's cores with the platform: the
figures are for the whole machine, generator included.

Lines kept stable for docs/benchmarks.md:
    errors: E of N requests
    <route>: n N, errors E, p50 X ms, p95 Y ms, p99 Z ms
    db connections: peak P during load, Q after
    read routes: R requests/s ... web CPU per request C ms
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.cookiejar
import itertools
import json
import re
import statistics
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import WebProcesses
from bench.ingest import FACES, Client, Platform, pick_images

SEED_PHOTOS = 12
UPLOAD_PHOTOS = 400  # cycled, each send made distinct (distinct_jpeg)
MAX_UPLOADS = 20_000  # a bound on the run whatever its duration


class Recorder:
    """Latency and status of every request, by route."""

    def __init__(self):
        self.lock = threading.Lock()
        self.samples: dict[str, list[tuple[float, int]]] = defaultdict(list)
        self.refusals: list[str] = []

    def add(self, route: str, seconds: float, status: int) -> None:
        with self.lock:
            self.samples[route].append((seconds, status))

    def timed(self, route: str, call):
        started = time.monotonic()
        try:
            status, body = call()
        except OSError:
            status, body = 599, b""  # the connection failed: an error like any 5xx
        self.add(route, time.monotonic() - started, status)
        if not 200 <= status < 300 and len(self.refusals) < 5:
            self.refusals.append(f"{route} {status}: {body[:160]!r}")
        return status

    def report(self) -> int:
        total = errors = 0
        for route, rows in sorted(self.samples.items()):
            times = sorted(seconds for seconds, _ in rows)
            bad = [status for _, status in rows if not 200 <= status < 300]
            total += len(rows)
            errors += len(bad)
            by_status = ", ".join(f"{s}: {bad.count(s)}" for s in sorted(set(bad)))
            print(
                f"{route}: n {len(rows)}, errors {len(bad)}{f' ({by_status})' if bad else ''}, "
                f"p50 {percentile(times, 50):.0f} ms, p95 {percentile(times, 95):.0f} ms, "
                f"p99 {percentile(times, 99):.0f} ms"
            )
        print(f"errors: {errors} of {total} requests")
        for line in self.refusals:
            print(f"  e.g. {line}")
        return errors


def percentile(sorted_seconds: list[float], q: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_seconds:
        return float("nan")
    rank = max(1, round(q / 100 * len(sorted_seconds)))
    return sorted_seconds[min(rank, len(sorted_seconds)) - 1] * 1000


def multipart(field: str, path: Path, data: bytes | None = None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="{field}"; filename="{path.name}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            path.read_bytes() if data is None else data,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return body, f"multipart/form-data; boundary={boundary}"


def distinct_jpeg(path: Path, n: int) -> bytes:
    """The photo with a JPEG comment naming ``n``: new bytes (so a real upload,
    not a duplicate), the same picture."""
    data = path.read_bytes()
    comment = f"facet-load-{n}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


class PortalSession:
    """A signed-in browser session (cookies, CSRF) for page loads."""

    def __init__(self, port: int, host: str, email: str, password: str):
        self.base, self.host = f"http://127.0.0.1:{port}", host
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self._open("/accounts/login/").read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"username": email, "password": password, "csrfmiddlewaretoken": csrf}
        ).encode()
        self._open("/accounts/login/", form, {"Referer": f"http://{host}/accounts/login/"})

    def _open(self, path: str, data: bytes | None = None, headers=None):
        # Connect to loopback and name the tenant in Host (the jar keeps the
        # cookies for 127.0.0.1, which is where every request goes).
        request = urllib.request.Request(  # noqa: S310
            self.base + path, data=data, headers={"Host": self.host, **(headers or {})}
        )
        return self.opener.open(request, timeout=60)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self._open(path) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def database_connections(var: Path) -> int:
    from config import embedded_postgres

    settings = embedded_postgres.attach(var / "pgdata")
    import psycopg

    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"],
        autocommit=True,
    ) as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        return conn.execute(query).fetchone()[0] - 1  # less this one


def seed(client: Client, photos: list[Path]) -> list[int]:
    """Upload and process a few photos; the ids of their faces."""
    ids = [client.upload(path)[1]["id"] for path in photos]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        details = [client.json("GET", f"/api/v1/media/{media_id}/")[1] for media_id in ids]
        if all(d["status"] in ("done", "failed") for d in details):
            return [face["id"] for d in details for face in d["faces"]]
        time.sleep(1)
    raise TimeoutError("seed photos were not processed in 5 minutes")


def mixed_load(platform, client, portal, args, photos, face_ids) -> Recorder:
    recorder = Recorder()
    stop_at = time.monotonic() + args.duration
    upload_paths = enumerate(itertools.cycle(photos))
    paths_lock = threading.Lock()

    def uploader() -> None:
        while time.monotonic() < stop_at:
            with paths_lock:
                n, path = next(upload_paths)
            if n >= MAX_UPLOADS:
                return
            body, ctype = multipart("file", path, distinct_jpeg(path, n))
            recorder.timed(
                "upload",
                lambda b=body, c=ctype: client.request(
                    "POST", "/api/v1/media/", b, {"Content-Type": c}
                ),
            )

    probe_photos = itertools.cycle(sorted((FACES / "identities").glob("A*/*_0001.jpg")))
    faces = itertools.cycle(face_ids)

    def search(n: int) -> None:
        if n % 2:
            body, ctype = multipart("image", next(probe_photos))
            recorder.timed(
                "search by photo",
                lambda: client.request("POST", "/api/v1/search/", body, {"Content-Type": ctype}),
            )
        else:
            payload = {"face_id": next(faces), "top_k": 20}
            body = json.dumps(payload).encode()
            recorder.timed(
                "search by face",
                lambda: client.request(
                    "POST", "/api/v1/search/", body, {"Content-Type": "application/json"}
                ),
            )

    def page(n: int) -> None:
        recorder.timed("page", lambda: portal.get("/" if n % 2 else "/library/"))

    def paced(rate: float, action, pool) -> None:
        """Open loop: start one action every 1/rate s, whatever the answers' speed."""
        for n in itertools.count():
            due = start + n / rate
            if due >= stop_at:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(action, n)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        uploaders = [threading.Thread(target=uploader) for _ in range(args.uploaders)]
        pacers = [
            threading.Thread(target=paced, args=(args.searches_per_s, search, pool)),
            threading.Thread(target=paced, args=(2.0, page, pool)),
        ]
        for thread in uploaders + pacers:
            thread.start()
        peak = 0
        while any(thread.is_alive() for thread in uploaders + pacers):
            peak = max(peak, database_connections(platform.var))
            time.sleep(1)
        for thread in uploaders + pacers:
            thread.join()
    peak = max(peak, database_connections(platform.var))
    recorder.peak_connections = peak
    return recorder


def read_routes(platform, token: str, host: str, clients: int, seconds: float) -> None:
    web = WebProcesses(platform.process.pid)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    routes = ("/api/v1/media/", "/api/v1/me/")
    cpu_before = web.cpu_seconds()

    def client() -> None:
        nonlocal failures
        conn = http.client.HTTPConnection("127.0.0.1", platform.port, timeout=30)
        mine, bad = [], 0
        for n in itertools.count():
            if time.monotonic() >= stop_at:
                break
            started = time.monotonic()
            try:
                conn.request(
                    "GET", routes[n % 2], headers={"Host": host, "Authorization": f"Token {token}"}
                )
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", platform.port, timeout=30)
            mine.append(time.monotonic() - started)
            bad += not ok
        with lock:
            latencies.extend(mine)
            failures += bad

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cpu = web.cpu_seconds() - cpu_before
    latencies.sort()
    print(
        f"read routes: {len(latencies) / elapsed:.0f} requests/s sustained ({clients} clients, "
        f"{elapsed:.0f} s, {failures} errors), p50 {percentile(latencies, 50):.0f} ms, "
        f"p95 {percentile(latencies, 95):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, "
        f"web CPU per request {cpu / max(len(latencies), 1) * 1000:.1f} ms"
    )
    print(f"  (mean latency {statistics.fmean(latencies) * 1000:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploaders", type=int, default=20)
    parser.add_argument("--searches-per-s", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--read-clients", type=int, default=16)
    parser.add_argument("--read-duration", type=float, default=20.0)
    args = parser.parse_args()

    # One account drives all searches here; the per-member throttle would
    # answer 429 to a real member searching ten times a second.
    platform = Platform(workers=2, extra_env={"FACET_SEARCH_THROTTLE": "100000/min"})
    print(f"platform: {platform.var}")
    try:
        print(f"run_platform -> ready: {platform.start():.1f} s", flush=True)
        creds = platform.credentials()
        host = "demo.localhost"
        client = Client(platform.port, host)
        client.login(creds["email"], creds["password"])
        portal = PortalSession(platform.port, host, creds["email"], creds["password"])
        # JPEGs only: distinct_jpeg makes each send new bytes by a JPEG comment.
        photos = [
            p for p in pick_images(SEED_PHOTOS + UPLOAD_PHOTOS) if p.read_bytes()[:2] == b"\xff\xd8"
        ]
        face_ids = seed(client, photos[:SEED_PHOTOS])
        print(f"seeded {SEED_PHOTOS} photos, {len(face_ids)} faces", flush=True)
        # First, while the workers are idle: afterwards they process the backlog.
        read_routes(platform, client.token, host, args.read_clients, args.read_duration)
        print(
            f"load: {args.uploaders} uploaders + {args.searches_per_s:g} searches/s + 2 pages/s "
            f"for {args.duration:g} s",
            flush=True,
        )
        recorder = mixed_load(platform, client, portal, args, photos[SEED_PHOTOS:], face_ids)
        recorder.report()
        time.sleep(10)
        print(
            f"db connections: peak {recorder.peak_connections} during load, "
            f"{database_connections(platform.var)} after 10 s"
        )
    finally:
        with contextlib.suppress(Exception):
            platform.stop()


if __name__ == "__main__":
    main()
