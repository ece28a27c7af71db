"""Media ingestion end to end: upload API -> queue -> faces stored (issue 4).

    python -m bench.ingest [--engine dlib|onnx] [--images 300] [--uploaders 4] [--workers 2]
        [--video-runs 3] [--1080p-runs 1]

Starts the real platform the way `make run` does (`manage.py run_platform`:
embedded PostgreSQL, Daphne, a django-q2 cluster of WORKERS processes, the
watch folder) on a free port with a fresh FACET_VAR_DIR in a temp dir, signs
in as the demo tenant's owner through the token API and then:

- warm-up: uploads 2 files with no faces from ../shared/data/faces/nofaces and
  waits for them (each worker loads its engine lazily; on a fresh var dir the
  first one also converts dlib's ResNet to ONNX), reported apart;
- images: uploads IMAGES distinct photos (every groups/*.jpg, then LFW
  portraits from pairs.tsv, sorted) with UPLOADERS concurrent clients
  (`POST /api/v1/media/`, multipart field `file`), polls `GET /api/v1/stats/`
  until all are done or failed, and reports the upload phase, first upload to
  last file stored (the latest `processed_at`), images/s and faces/s end to
  end, faces found, failures, and the peak RSS of the worker cluster (the
  qcluster process and all its descendants, summed) and of Daphne;
- video: uploads videos/facerec_short_hamilton_clip.mp4, waits for `done` and
  reports processing time and the multiple of real time (duration / time),
  tracks and faces; deleted (`DELETE /api/v1/media/{id}/`) between runs since
  identical bytes are deduplicated; then the same for the 1080p
  videos/fnp_video.mp4 (`--1080p-runs`, default 1);
- peer line: after the platform has stopped, the same images through the bare
  engine in this process tree (`build_engine("dlib").analyze_batch([image])`,
  one image per call as the worker does) on WORKERS `multiprocessing`
  processes, weights loaded before the clock; the ratio platform / bare shows
  the platform's overhead.

Images are read from ../shared/data/faces and never copied into the checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import multiprocessing as mp
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "data" / "faces"
VIDEO = FACES / "videos" / "facerec_short_hamilton_clip.mp4"
VIDEO_1080P = FACES / "videos" / "fnp_video.mp4"


# --------------------------------------------------------------------- platform


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """Token API client for one tenant host, talking to 127.0.0.1."""

    def __init__(self, port: int, host: str):
        self.base = f"http://127.0.0.1:{port}"
        self.host = host
        self.token: str | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        request = urllib.request.Request(  # noqa: S310
            self.base + path, data=body, method=method, headers=headers or {}
        )
        request.add_header("Host", self.host)
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method: str, path: str, payload=None):
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body else {}
        status, data = self.request(method, path, body, headers)
        return status, (json.loads(data) if data else None)

    def login(self, email: str, password: str) -> None:
        status, data = self.json(
            "POST", "/api/v1/auth/token/", {"username": email, "password": password}
        )
        if status != 200:
            raise RuntimeError(f"token login failed: {status} {data}")
        self.token = data["token"]

    def upload(self, path: Path) -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="file"; filename="{path.name}"\r\n'.encode(),
                b"Content-Type: application/octet-stream\r\n\r\n",
                path.read_bytes(),
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        status, data = self.request(
            "POST",
            "/api/v1/media/",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        try:
            return status, json.loads(data)
        except ValueError:
            return status, {"raw": data[:200].decode(errors="replace")}

    def media_all(self) -> list[dict]:
        rows, page = [], 1
        while True:
            status, data = self.json("GET", f"/api/v1/media/?page={page}")
            if status != 200:
                raise RuntimeError(f"media list: {status} {data}")
            rows += data["results"]
            if not data.get("next"):
                return rows
            page += 1


class Platform:
    """`manage.py run_platform` on a free port with its own var dir."""

    def __init__(self, workers: int, extra_env: dict[str, str] | None = None):
        self.var = Path(tempfile.mkdtemp(prefix="facet-bench-ingest-"))
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "FACET_VAR_DIR": str(self.var),
            "FACET_HTTP_PORT": str(self.port),
            "FACET_AUTH_THROTTLE": "10000/min",
            "Q_WORKERS": str(workers),
            **(extra_env or {}),
        }
        self.log = self.var / "run_platform.log"
        self.process: subprocess.Popen | None = None

    def start(self, limit: float = 600) -> float:
        started = time.monotonic()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_platform", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while time.monotonic() - started < limit:
            if self.process.poll() is not None:
                raise RuntimeError(f"run_platform exited; see {self.log}")
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{self.port}/health/ready"
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            time.sleep(0.2)
        raise TimeoutError("platform never became ready")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C does
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        pid_file = self.var / "pgdata" / "postmaster.pid"
        deadline = time.monotonic() + 30
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def credentials(self) -> dict:
        return json.loads((self.var / "demo-credentials.json").read_text())


class RssSampler(threading.Thread):
    """Peak summed RSS of the worker cluster (qcluster + descendants) and of Daphne,
    and the CPU seconds used by each group of the platform's processes (worker
    cluster, web, database, the rest), summed per process id as last sampled."""

    def __init__(self, root_pid: int, pgdata: Path):
        super().__init__(daemon=True)
        self.root = psutil.Process(root_pid)
        self.pgdata = str(pgdata)
        self.peak = {"worker": 0, "web": 0}
        self.cpu: dict[int, tuple[str, float]] = {}
        self.running = True

    def _groups(self):
        with contextlib.suppress(psutil.Error):
            yield "other", [self.root]
            for child in self.root.children():
                try:
                    cmd = " ".join(child.cmdline())
                except psutil.Error:
                    continue
                group = (
                    "worker"
                    if "qcluster" in cmd
                    else "web"
                    if "config.web_server" in cmd
                    else "other"
                )
                procs = [child]
                with contextlib.suppress(psutil.Error):
                    procs += child.children(recursive=True)
                yield group, procs
        for proc in psutil.process_iter(["cmdline"]):
            if self.pgdata in " ".join(proc.info["cmdline"] or []):
                with contextlib.suppress(psutil.Error):
                    yield "database", [proc, *proc.children(recursive=True)]

    def sample(self) -> None:
        totals = {"worker": 0, "web": 0}
        for group, procs in self._groups():
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    if group in totals:
                        totals[group] += proc.memory_info().rss
                    times = proc.cpu_times()
                    self.cpu[proc.pid] = (group, times.user + times.system)
        for group, total in totals.items():
            self.peak[group] = max(self.peak[group], total)

    def cpu_by_group(self) -> dict[str, float]:
        self.sample()
        out: dict[str, float] = {}
        for group, seconds in list(self.cpu.values()):
            out[group] = out.get(group, 0.0) + seconds
        return out

    def run(self) -> None:
        while self.running:
            self.sample()
            time.sleep(0.1)


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def wait_stats(client: Client, total: int, limit: float) -> tuple[dict, float]:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        status, stats = client.json("GET", "/api/v1/stats/")
        if status == 200:
            finished = stats["by_status"]["done"] + stats["by_status"]["failed"]
            if finished >= total:
                return stats, time.time()
        time.sleep(0.25)
    raise TimeoutError(f"media not finished after {limit:.0f} s: {stats}")


# --------------------------------------------------------------------- phases


def pick_images(count: int) -> list[Path]:
    """Every group photo, then LFW portraits of pairs.tsv (sorted), distinct bytes."""
    with open(FACES / "pairs.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    portraits = sorted({r["image_a"] for r in rows} | {r["image_b"] for r in rows})
    candidates = sorted((FACES / "groups").glob("*.jpg")) + [FACES / p for p in portraits]
    chosen, seen = [], set()
    for path in candidates:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            chosen.append(path)
        if len(chosen) == count:
            return chosen
    raise SystemExit(f"only {len(chosen)} distinct images available")


def warm_up(client: Client) -> float:
    started = time.monotonic()
    paths = sorted((FACES / "nofaces").glob("*.jpg"))[:2]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(client.upload, paths))
    for status, _ in results:
        if status not in (200, 201):
            raise RuntimeError(f"warm-up upload refused: {results}")
    wait_stats(client, len(paths), 600)
    return time.monotonic() - started


def images_phase(client: Client, paths: list[Path], uploaders: int, already: int) -> dict:
    upload_times: list[float] = []

    def one(path: Path):
        start = time.time()
        status, data = client.upload(path)
        upload_times.append(time.time() - start)
        return path, status, data

    first = time.time()
    with ThreadPoolExecutor(uploaders) as pool:
        results = list(pool.map(one, paths))
    uploaded = time.time()
    refused = [(p.name, s, d) for p, s, d in results if s != 201]
    accepted = {d["id"] for _, s, d in results if s == 201}
    _, seen_done = wait_stats(client, already + len(accepted), 1800)
    rows = [r for r in client.media_all() if r["id"] in accepted]
    failed = [
        (r["original_name"], r["error_code"], r["error"]) for r in rows if r["status"] != "done"
    ]
    last_stored = max(_ts(r["processed_at"]) or 0 for r in rows)
    faces = sum(r["face_count"] for r in rows)
    span = last_stored - first
    return {
        "images": len(paths),
        "upload_s": uploaded - first,
        "upload_mean_ms": 1000 * sum(upload_times) / len(upload_times),
        "upload_p95_ms": 1000 * sorted(upload_times)[int(0.95 * (len(upload_times) - 1))],
        "end_to_end_s": span,
        "polled_s": seen_done - first,
        "img_s": len(paths) / span,
        "faces": faces,
        "faces_s": faces / span,
        "refused": refused,
        "failed": failed,
    }


def video_phase(client: Client, runs: int, video: Path = VIDEO) -> list[dict]:
    out = []
    for _ in range(runs):
        start = time.time()
        status, data = client.upload(video)
        if status != 201:
            raise RuntimeError(f"video upload: {status} {data}")
        media_id = data["id"]
        while True:
            status, media = client.json("GET", f"/api/v1/media/{media_id}/")
            if media["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        polled = time.time() - start
        server = (
            _ts(media["processed_at"]) - _ts(media["created_at"]) if media["processed_at"] else 0
        )
        out.append(
            {
                "status": media["status"],
                "error": media["error"],
                "duration_s": media["duration_s"] or 0.0,
                "upload_to_done_s": polled,
                "server_s": server,
                "tracks": len(media["tracks"]),
                "faces": len(media["faces"]),
            }
        )
        status, _ = client.request("DELETE", f"/api/v1/media/{media_id}/")
        if status != 204:
            raise RuntimeError(f"delete video: {status}")
    return out


def print_video_runs(video: Path, runs: list[dict]) -> None:
    print(f"\n## video: {video.name}, {len(runs)} runs (deleted between runs)")
    for i, v in enumerate(runs, 1):
        multiple = v["duration_s"] / v["upload_to_done_s"] if v["upload_to_done_s"] else 0
        print(
            f"run {i}: {v['status']} duration {v['duration_s']:.2f} s, upload -> done "
            f"{v['upload_to_done_s']:.2f} s (server created -> processed {v['server_s']:.2f} s), "
            f"{multiple:.2f}x real time, {v['tracks']} tracks, {v['faces']} faces"
            + (f", error {v['error']}" if v["error"] else "")
        )


# --------------------------------------------------------------------- bare engine

_engine = None


def _bare_init(pack: str | None) -> None:
    global _engine
    import numpy as np

    from recognition.engines.registry import build_engine

    _engine = build_engine("insightface", pack) if pack else build_engine("dlib")
    _engine.analyze_batch([np.zeros((64, 64, 3), np.uint8)])  # load weights before the clock


def _bare_one(path: str) -> tuple[int, float]:
    from recognition.imaging import load_image

    cpu = time.process_time()
    with open(path, "rb") as handle:
        image = load_image(handle.read())
    faces, _ = _engine.analyze_batch([image])[0]
    return len(faces), time.process_time() - cpu


def _ping(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def bare_phase(paths: list[Path], procs: int, var: Path, pack: str | None) -> dict:
    os.environ["FACET_VAR_DIR"] = str(var)  # reuse the platform's converted ResNet
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with mp.get_context("fork").Pool(procs, initializer=_bare_init, initargs=(pack,)) as pool:
        pool.map(_ping, range(procs * 4), chunksize=1)
        start = time.perf_counter()
        rows = pool.map(_bare_one, [str(p) for p in paths], chunksize=1)
        elapsed = time.perf_counter() - start
    return {
        "s": elapsed,
        "img_s": len(paths) / elapsed,
        "faces": sum(n for n, _ in rows),
        "cpu_ms": 1000 * sum(c for _, c in rows) / len(rows),
    }


def use_onnx_pack(plat: Platform) -> str:
    """Import the shared pack into the platform's var dir and choose it for demo."""
    from bench.common import make_pack_dir

    pack = make_pack_dir()
    for argv in (["import", pack, "--name", "bench-onnx"], ["use", "demo", "bench-onnx"]):
        subprocess.run(
            [sys.executable, "manage.py", "models", *argv],
            cwd=ROOT,
            env=plat.env,
            check=True,
            capture_output=True,
        )
    return pack


# --------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--uploaders", type=int, default=4, help="concurrent upload clients")
    parser.add_argument("--workers", type=int, default=2, help="django-q2 workers (Q_WORKERS)")
    parser.add_argument("--video-runs", type=int, default=3)
    parser.add_argument(
        "--1080p-runs", dest="hd_runs", type=int, default=1, help="runs of fnp_video.mp4 (1080p)"
    )
    parser.add_argument(
        "--engine",
        choices=["dlib", "onnx"],
        default="dlib",
        help="onnx: the ../shared/models pack, imported into the bench's var dir and "
        "chosen for the demo tenant before the warm-up",
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-engine line")
    parser.add_argument("--keep-var", action="store_true", help="keep the temp var dir (logs)")
    parser.add_argument(
        "--observability",
        choices=["on", "off"],
        default="on",
        help="off: no shared metrics directory (samples stay in each process's memory) and "
        "logs at WARNING (no access or info lines); on: as shipped, JSON logs at INFO",
    )
    args = parser.parse_args()

    paths = pick_images(args.images)
    groups = sum(1 for p in paths if p.parent.name == "groups")
    print(
        f"machine: {platform.machine()}, os.cpu_count()={os.cpu_count()}, "
        f"Python {platform.python_version()}; {args.workers} workers, "
        f"{args.uploaders} upload clients"
    )
    print(f"images: {len(paths)} distinct ({groups} group photos + {len(paths) - groups} LFW)")

    if args.observability == "off":
        observability = {"FACET_METRICS_SHARED": "0", "FACET_LOG_LEVEL": "WARNING"}
    else:
        observability = {"FACET_LOG_FORMAT": "json", "FACET_LOG_LEVEL": "INFO"}
    print(f"observability: {args.observability} {observability}")
    plat = Platform(args.workers, observability)
    print(f"var dir: {plat.var}, port {plat.port}")
    ready = plat.start()
    print(f"run_platform -> /health/ready 200: {ready:.1f} s", flush=True)
    pack = use_onnx_pack(plat) if args.engine == "onnx" else None
    print(f"engine: {args.engine}" + (f" (pack {pack})" if pack else ""), flush=True)
    sampler = RssSampler(plat.process.pid, plat.var / "pgdata")
    sampler.start()
    try:
        creds = plat.credentials()
        client = Client(plat.port, f"demo.localhost:{plat.port}")
        client.login(creds["email"], creds["password"])
        warm = warm_up(client)
        print(f"warm-up (2 no-face files, engine load per worker): {warm:.1f} s", flush=True)
        cpu_before = sampler.cpu_by_group()
        img = images_phase(client, paths, args.uploaders, already=2)
        cpu_after = sampler.cpu_by_group()
        rss_images = dict(sampler.peak)
        videos = video_phase(client, args.video_runs)
        hd_videos = video_phase(client, args.hd_runs, VIDEO_1080P)
    finally:
        sampler.running = False
        sampler.join()
        plat.stop()

    bare = None if args.no_bare else bare_phase(paths, args.workers, plat.var, pack)
    log = plat.log.read_text(errors="replace").splitlines()
    problems = [line for line in log if "Traceback" in line or "ERROR" in line]
    if args.keep_var:
        print(f"var dir kept: {plat.var}")
    else:
        shutil.rmtree(plat.var, ignore_errors=True)

    print(f"\n## images: {img['images']} through POST /api/v1/media/")
    print(
        f"upload phase ({args.uploaders} clients): {img['upload_s']:.1f} s "
        f"(mean {img['upload_mean_ms']:.0f} ms, p95 {img['upload_p95_ms']:.0f} ms per request)"
    )
    print(
        f"first upload -> last file stored: {img['end_to_end_s']:.1f} s "
        f"(seen by polling: {img['polled_s']:.1f} s)"
    )
    print(
        f"end to end: {img['img_s']:.2f} images/s, {img['faces_s']:.2f} faces/s, "
        f"{img['faces']} faces"
    )
    print(f"refused uploads: {len(img['refused'])}; failed files: {len(img['failed'])}")
    for item in img["refused"][:10] + img["failed"][:10]:
        print(f"  {item}")
    print(
        f"peak RSS worker cluster (qcluster + descendants, summed): "
        f"{rss_images['worker'] / 2**20:.0f} MiB; web: {rss_images['web'] / 2**20:.0f} MiB"
    )
    cpu = {g: cpu_after.get(g, 0.0) - cpu_before.get(g, 0.0) for g in cpu_after}
    per_img = {g: 1000 * v / img["images"] for g, v in cpu.items()}
    print(
        "platform CPU ms per image (images phase): "
        + ", ".join(f"{g} {per_img.get(g, 0):.0f}" for g in ("worker", "web", "database", "other"))
        + f"; all {sum(per_img.values()):.0f}"
    )
    if bare:
        kind = "'insightface', pack" if pack else "'dlib'"
        print(f"\n## bare engine: build_engine({kind}).analyze_batch, {args.workers} processes")
        print(f"{bare['img_s']:.2f} images/s ({bare['s']:.1f} s), {bare['faces']} faces")
        print(f"bare engine CPU ms per image: {bare['cpu_ms']:.0f}")
        print(f"platform / bare engine images/s: {img['img_s'] / bare['img_s']:.2f}x")
        print(
            f"CPU per image, bare / platform: worker cluster only "
            f"{bare['cpu_ms'] / per_img['worker']:.2f}x, "
            f"all platform processes {bare['cpu_ms'] / sum(per_img.values()):.2f}x"
        )

    for video, runs in ((VIDEO, videos), (VIDEO_1080P, hd_videos)):
        if runs:
            print_video_runs(video, runs)
    print(f"peak RSS worker cluster over the whole run: {sampler.peak['worker'] / 2**20:.0f} MiB")
    print(f"run_platform log: {len(problems)} lines with Traceback/ERROR")
    for line in problems[:10]:
        print(f"  {line}")


if __name__ == "__main__":
    main()
