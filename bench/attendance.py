"""Attendance: frame to answer, over the real frame API and over /ws/kiosk/,
with kiosks sending frames at a fixed rate, against a gallery of people.

    .venv/bin/python -m bench.attendance [--engines dlib onnx] [--kiosks 4]
        [--fps 2] [--seconds 60] [--people 500]

`run_platform` starts in a fresh var dir (the ONNX pack from ../shared/models
imported there for `onnx`). One real identity per kiosk is enrolled from 2
photos through the API; synthetic people (3 unit embeddings each) fill the
gallery up to --people. Each kiosk is registered through the API (door logs:
no groups) and sends --fps frames a second for --seconds: 640x480 JPEGs of a
third photo of its person (3 frames in 4) or of a stranger (1 in 4), as the
kiosk page sends them. A kiosk keeps one frame in flight, as the page does: a
frame whose slot comes while the previous answer is awaited is dropped (and
counted). Then the same over the WebSocket, after the marks are cleared.

Printed per engine and transport:
    <engine> <transport>: <n> frames, p50 <a> ms, p95 <b> ms, p99 <c> ms,
      dropped <d>, errors <e>, marks <m> of <k> (lost <l>), web CPU <s> ms/frame
A mark is lost when a kiosk's person, shown in frames answered without
error, does not end with exactly one mark. Then the peer way, in this
process: face_recognition.load_image_file + face_encodings + compare_faces
against --people known encodings, per frame; and how many kiosks one core
carries at --fps (1 / (web CPU per frame x fps)).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import FACES, WebProcesses, make_pack_dir
from bench.identify import _django, _fill_gallery, _percentile
from bench.load import multipart

STRANGER = "Yasser_Arafat"


def _photo(name: str, number: int) -> Path:
    return FACES / "identities" / name / f"{name}_{number:04d}.jpg"


def _enrol(client, count: int) -> tuple[dict[str, tuple[Path, Path]], int]:
    """``count`` real people, each enrolled from the first 2 of their photos the
    enrolment checks accept; {name: (2 other photos, for frames)}, and the id of
    one enrolled face (to find the model)."""
    folders = sorted(p for p in (FACES / "identities").iterdir() if p.is_dir())
    enrolled, face_id = {}, None
    for folder in folders:
        photos = sorted(folder.glob("*.jpg"))
        if folder.name == STRANGER or len(photos) < 4:
            continue
        status, person = client.json(
            "POST", "/api/v1/people/", {"name": folder.name, "consent_basis": "consent"}
        )
        assert status == 201, person
        accepted = []
        for path in photos:
            if len(accepted) == 2:
                break
            body, ctype = multipart("photo", path)
            status, data = client.request(
                "POST", f"/api/v1/people/{person['id']}/faces/", body, {"Content-Type": ctype}
            )
            if status == 201:
                accepted.append(path)
                face_id = json.loads(data)["id"]
        rest = [p for p in photos if p not in accepted and p > accepted[-1]] if accepted else []
        if len(accepted) < 2 or len(rest) < 2:
            client.request("DELETE", f"/api/v1/people/{person['id']}/")
            continue
        enrolled[folder.name] = (rest[0], rest[1])
        if len(enrolled) == count:
            return enrolled, face_id
    raise RuntimeError("not enough enrollable identities")


def _frame(path: Path) -> bytes:
    """What the kiosk page sends: a 640x480 JPEG, the face in the middle."""
    from PIL import Image

    canvas = Image.new("RGB", (640, 480), (128, 128, 128))
    face = Image.open(path).convert("RGB")
    face = face.resize((face.width * 3 // 2, face.height * 3 // 2))
    canvas.paste(face, ((640 - face.width) // 2, (480 - face.height) // 2))
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=85)
    return out.getvalue()


# ------------------------------------------------------------------ transports


class HttpKiosk:
    def __init__(self, port: int, host: str, key: str):
        self.port, self.host, self.key = port, host, key

    def send(self, frame: bytes) -> tuple[int, dict]:
        import http.client

        body, ctype = multipart("frame", Path("frame.jpg"), frame)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(
                "POST",
                "/api/v1/attendance/frames/",
                body,
                {"Host": self.host, "Content-Type": ctype, "Authorization": f"Kiosk {self.key}"},
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    def close(self) -> None:
        pass


class SocketKiosk:
    """A minimal RFC 6455 client (no library on these machines): masked binary
    frames out, unfragmented text frames in."""

    def __init__(self, port: int, host: str, key: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        nonce = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /ws/kiosk/ HTTP/1.1\r\n"
                f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Kiosk {key}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("the kiosk socket was refused")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"the kiosk socket was refused: {head[:80]!r}")
        self.buffer = head.split(b"\r\n\r\n", 1)[1]
        ready = self._receive()
        if ready.get("kind") != "ready":
            raise RuntimeError(f"the kiosk socket did not accept the key: {ready}")

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the kiosk socket closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _receive(self) -> dict:
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("the kiosk socket closed")
            if opcode == 0x1:
                return json.loads(payload)

    def send(self, frame: bytes) -> tuple[int, dict]:
        mask = os.urandom(4)
        length = len(frame)
        if length < 126:
            header = struct.pack(">BB", 0x82, 0x80 | length)
        elif length < 65536:
            header = struct.pack(">BBH", 0x82, 0x80 | 126, length)
        else:
            header = struct.pack(">BBQ", 0x82, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(frame))
        self.sock.sendall(header + mask + masked)
        answer = self._receive()
        return (200 if answer.get("kind") == "frame" else 400), answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# ------------------------------------------------------------------ the run


def _kiosk_loop(kiosk, frames, fps, seconds, start, results, index):
    """Send at fixed slots; a slot that comes while an answer is awaited is dropped."""
    period = 1.0 / fps
    slots = int(seconds * fps)
    sent = dropped = errors = 0
    latencies, named = [], set()
    next_free = start
    for slot in range(slots):
        due = start + slot * period
        if next_free > due:
            dropped += 1
            continue
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        began = time.monotonic()
        try:
            status, answer = kiosk.send(frames[slot % len(frames)])
        except (OSError, ConnectionError, ValueError):
            status, answer = 599, {}
        ended = time.monotonic()
        next_free = ended
        sent += 1
        if status != 200:
            errors += 1
            continue
        latencies.append(ended - began)
        named.update(m["person"]["name"] for m in answer.get("marks", []))
    results[index] = {
        "sent": sent,
        "dropped": dropped,
        "errors": errors,
        "latencies": latencies,
        "named": named,
    }


def _clear_marks(schema: str) -> None:
    from django_tenants.utils import schema_context

    from attendance.models import Mark, UnknownFace

    with schema_context(schema):
        Mark.objects.all().delete()
        UnknownFace.objects.all().delete()


def _marks_by_name(schema: str) -> dict[str, int]:
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from attendance.models import Mark

    with schema_context(schema):
        rows = Mark.objects.values("person__name").annotate(n=Count("id"))
        return {row["person__name"]: row["n"] for row in rows}


def _warm(port: int, key: str, concurrent: int) -> None:
    """The first frames load the engine into each web process, and each frame
    in flight at once its own dlib detector (0.9 s to build). Which process
    takes a connection is the kernel's choice: rounds of concurrent frames."""
    frame = _frame(_photo(STRANGER, 1))
    for _ in range(3):
        threads = [
            threading.Thread(target=HttpKiosk(port, "demo.localhost", key).send, args=(frame,))
            for _ in range(concurrent)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _run(engine, transport, platform, keys, people, args, web) -> float:
    """One run; returns the web process's CPU seconds per frame."""
    kind = HttpKiosk if transport == "http" else SocketKiosk
    kiosks = [kind(platform.port, "demo.localhost", key) for key in keys]
    stranger = _frame(_photo(STRANGER, 1))
    frames = [[_frame(a), _frame(b), _frame(a), stranger] for a, b in people.values()]
    results = [None] * len(kiosks)
    cpu_before = web.cpu_seconds()
    start = time.monotonic() + 1.0
    threads = [
        threading.Thread(
            target=_kiosk_loop, args=(k, frames[i], args.fps, args.seconds, start, results, i)
        )
        for i, k in enumerate(kiosks)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = web.cpu_seconds() - cpu_before
    for kiosk in kiosks:
        kiosk.close()
    latencies = [t for r in results for t in r["latencies"]]
    sent = sum(r["sent"] for r in results)
    marks = _marks_by_name("t_demo")
    lost = sum(1 for name in people if marks.get(name, 0) != 1)
    people = list(people)
    print(
        f"{engine} {transport}: {sent} frames, p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {_percentile(latencies, 95) * 1000:.0f} ms, "
        f"p99 {_percentile(latencies, 99) * 1000:.0f} ms, "
        f"dropped {sum(r['dropped'] for r in results)}, "
        f"errors {sum(r['errors'] for r in results)}, "
        f"marks {sum(marks.get(n, 0) for n in people)} of {len(people)} (lost {lost}), "
        f"web CPU {cpu / max(sent, 1) * 1000:.0f} ms/frame",
        flush=True,
    )
    return cpu / max(sent, 1)


def _peer(people: dict[str, tuple[Path, Path]], known: int, frames: int) -> list[float]:
    import face_recognition
    import numpy as np

    rng = np.random.default_rng(0)
    encodings = list(rng.standard_normal((known, 128)) * 0.05)
    images = [_frame(a) for a, _ in people.values()] + [_frame(_photo(STRANGER, 1))]
    times = []
    for i in range(frames):
        started = time.perf_counter()
        image = face_recognition.load_image_file(io.BytesIO(images[i % len(images)]))
        for encoding in face_recognition.face_encodings(image):
            face_recognition.compare_faces(encodings, encoding, tolerance=0.6)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    from bench.ingest import Client, Platform

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=["dlib", "onnx"], choices=["dlib", "onnx"])
    parser.add_argument("--kiosks", type=int, default=4)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--people", type=int, default=500)
    args = parser.parse_args()

    platform = Platform(workers=1, extra_env={"FACET_KIOSK_THROTTLE": "1000/s"})
    try:
        print(f"run_platform -> ready: {platform.start():.1f} s", flush=True)
        _django(platform.var)
        creds = platform.credentials()
        client = Client(platform.port, "demo.localhost")
        client.login(creds["email"], creds["password"])
        web = WebProcesses(platform.process.pid)
        print(f"web server processes: {len(web.processes)}", flush=True)
        keys = []
        for i in range(args.kiosks):
            status, kiosk = client.json(
                "POST", "/api/v1/attendance/kiosks/", {"name": f"Door {i + 1}"}
            )
            assert status == 201, kiosk
            keys.append(kiosk["key"])
        per_frame = {}
        for engine in args.engines:
            if engine == "onnx":
                pack = make_pack_dir()
                for argv in (
                    ["import", pack, "--name", "bench-onnx"],
                    ["use", "demo", "bench-onnx"],
                ):
                    subprocess.run(
                        [sys.executable, "manage.py", "models", *argv],
                        env={**os.environ, **platform.env},
                        check=True,
                        capture_output=True,
                    )
            enrolled, face_id = _enrol(client, args.kiosks)
            from django_tenants.utils import schema_context

            from people.models import EnrolledFace

            with schema_context("t_demo"):
                model = EnrolledFace.objects.get(pk=face_id).face_model
            _fill_gallery("t_demo", model.pk, args.people * 3, model.embedding_dim, seed=1)
            for transport in ("http", "socket"):
                _clear_marks("t_demo")
                _warm(platform.port, keys[0], args.kiosks * len(web.processes))
                per_frame[(engine, transport)] = _run(
                    engine, transport, platform, keys, enrolled, args, web
                )
            # The next engine's people are new rows: drop this engine's names.
            with schema_context("t_demo"):
                from people.models import Person

                Person.objects.filter(name__in=list(enrolled)).delete()
        peer = _peer(enrolled, args.people, max(20, int(args.fps * 10)))
        peer_p50 = statistics.median(peer) * 1000
        print(
            f"peer (face_recognition loop, {args.people} known): p50 {peer_p50:.0f} ms, "
            f"p95 {_percentile(peer, 95) * 1000:.0f} ms per frame",
            flush=True,
        )
        for (engine, transport), cpu in per_frame.items():
            print(
                f"{engine} {transport}: one core carries {1 / (cpu * args.fps):.1f} kiosks at "
                f"{args.fps:g} frames/s (web CPU {cpu * 1000:.0f} ms/frame; peer/web CPU "
                f"{peer_p50 / (cpu * 1000):.2f}x)",
                flush=True,
            )
    finally:
        with contextlib.suppress(Exception):
            platform.stop()


if __name__ == "__main__":
    main()
