"""Web-process memory for one large upload: Facet's web server against stock Daphne.

    .venv/bin/python -m bench.upload_memory [--mb 200]

Starts `manage.py run_platform` (whose web process is config.web_server) in
a fresh var dir, and beside it stock Daphne serving the same application and
database. Each gets the same upload: a --mb MB video (an MP4 header and
random bytes) posted to /api/v1/media/ with a token, streamed from this
process. Prints each web process's peak RSS growth while it receives and
stores the file, and their ratio.

Lines kept stable for docs/benchmarks.md:
    <server>: RSS +N MB for a M MB upload (status S)
    stock Daphne / config.web_server RSS growth: R.Rx
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import subprocess
import sys
import threading
import time
import urllib.request

import psutil

from bench.ingest import ROOT, Client, Platform, free_port

MB = 1024 * 1024


def upload(port: int, host: str, token: str, size: int) -> int:
    boundary = "bench-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode() + b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    tail = f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.putrequest("POST", "/api/v1/media/", skip_host=True)
    conn.putheader("Host", host)
    conn.putheader("Authorization", f"Token {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + size + len(tail)))
    conn.endheaders()
    conn.send(head)
    block = os.urandom(MB)
    for _ in range(size // MB):
        conn.send(block)
    conn.send(tail)
    response = conn.getresponse()
    response.read()
    return response.status


def peak_growth(process: psutil.Process, action) -> tuple[int, object]:
    base = peak = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                peak = max(peak, process.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = action()
    finally:
        done.set()
        sampler.join()
    return peak - base, result


def wait_for(port: int, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing answers on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    size = args.mb * MB
    host = "demo.localhost"

    platform = Platform(workers=1)
    daphne = None
    try:
        platform.start()
        creds = platform.credentials()
        client = Client(platform.port, host)
        client.login(creds["email"], creds["password"])
        ours = next(
            p
            for p in psutil.Process(platform.process.pid).children()
            if "config.web_server" in " ".join(p.cmdline())
        )
        stock_port = free_port()
        daphne = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(stock_port),
             "config.asgi:application"],
            cwd=ROOT,
            env=platform.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(stock_port)
        stock = psutil.Process(daphne.pid)
        growth = {}
        for name, process, port in (
            ("config.web_server", ours, platform.port),
            ("stock Daphne", stock, stock_port),
        ):
            upload(port, host, client.token, MB)  # warm: imports, first connections
            grew, status = peak_growth(process, lambda p=port: upload(p, host, client.token, size))
            growth[name] = grew
            print(f"{name}: RSS +{grew / MB:.0f} MB for a {args.mb} MB upload (status {status})")
        ratio = growth["stock Daphne"] / max(growth["config.web_server"], MB)
        print(f"stock Daphne / config.web_server RSS growth: {ratio:.1f}x")
    finally:
        if daphne is not None:
            daphne.terminate()
            daphne.wait(timeout=30)
        platform.stop()


if __name__ == "__main__":
    main()
