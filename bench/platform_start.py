"""Start-up time and memory of `make run`, measured end to end.

    python -m bench.platform_start [--repo PATH] [--requests 200]

Runs `make run` in REPO (default: this checkout) with a fresh FACET_VAR_DIR,
and reports:
- cold start: `make run` until /health/ready first answers 200 (includes
  venv creation and installs when REPO has no .venv yet, the embedded
  PostgreSQL's initdb, every migration and the demo tenant);
- stop: SIGINT until every process, the database included, has exited;
- warm restart: the second `make run` on the same data until ready;
- peak RSS of the web process (Daphne) and of the worker cluster (qcluster
  and its children, summed), sampled while REQUESTS portal and API requests
  are served.
Absolute times depend on the machine; the suite's own figures are in
docs/benchmarks.md with the machine they came from.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, host: str | None = None, data: bytes | None = None, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None, b""


def wait_ready(port: int, started: float, limit: float = 900) -> float:
    while time.monotonic() - started < limit:
        status, _ = get(f"http://127.0.0.1:{port}/health/ready")
        if status == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError("platform never became ready")


def start(repo: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        ["make", "run"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, pgdata: Path) -> float:
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does to the foreground group
    process.wait(timeout=60)
    while (pgdata / "postmaster.pid").exists() and time.monotonic() - started < 60:
        time.sleep(0.05)
    return time.monotonic() - started


def processes(root: psutil.Process) -> tuple[list[psutil.Process], list[psutil.Process]]:
    web, worker = [], []
    for child in root.children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "config.web_server" in cmd:
            web.append(child)
        elif "qcluster" in cmd:
            worker.append(child)
    return web, worker


def rss(procs: list[psutil.Process]) -> int:
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def load(port: int, count: int, credentials: dict) -> None:
    host = f"demo.localhost:{port}"
    base = f"http://127.0.0.1:{port}"
    body = json.dumps({"username": credentials["email"], "password": credentials["password"]})
    for i in range(count):
        get(f"{base}/accounts/login/", host)
        if i % 10 == 0:
            status, token = get(
                f"{base}/api/v1/auth/token/",
                host,
                body.encode(),
                {"Content-Type": "application/json"},
            )
            if status == 200:
                token_value = json.loads(token)["token"]
                get(f"{base}/api/v1/me/", host, headers={"Authorization": f"Token {token_value}"})
        get(f"{base}/api/schema/", host)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="facet-var-"))
    port = free_port()
    env = {
        **os.environ,
        "FACET_VAR_DIR": str(var),
        "FACET_HTTP_PORT": str(port),
        "FACET_AUTH_THROTTLE": "10000/min",
    }
    had_venv = (args.repo / ".venv" / ".runtime").exists()

    t0 = time.monotonic()
    process = start(args.repo, env)
    cold = wait_ready(port, t0)
    stop_time = stop(process, var / "pgdata")

    t0 = time.monotonic()
    process = start(args.repo, env)
    warm = wait_ready(port, t0)

    root = psutil.Process(process.pid)
    web, worker = processes(root)
    peaks = {"web": rss(web), "worker": rss(worker)}
    credentials = json.loads((var / "demo-credentials.json").read_text())
    loader = threading.Thread(target=load, args=(port, args.requests, credentials))
    loader.start()
    while loader.is_alive():
        web, worker = processes(root)
        peaks["web"] = max(peaks["web"], rss(web))
        peaks["worker"] = max(peaks["worker"], rss(worker))
        time.sleep(0.05)
    stop(process, var / "pgdata")

    print(f"repo: {args.repo} ({'venv present' if had_venv else 'no venv: cold includes install'})")
    print(f"cold make run -> /health/ready 200: {cold:.1f} s")
    print(f"stop (Ctrl-C) -> all processes and database gone: {stop_time:.1f} s")
    print(f"warm restart -> /health/ready 200: {warm:.1f} s")
    print(f"peak RSS web: {peaks['web'] / 2**20:.0f} MiB")
    print(
        f"peak RSS worker cluster (qcluster + children, summed): {peaks['worker'] / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
