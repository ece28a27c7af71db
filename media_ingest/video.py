"""Probe videos and sample frames in a separate, resource-limited process.

FFmpeg is a large C codebase parsing hostile input: a malformed file may make
it crash, hang or allocate without bound. So the decoding happens in a child
(:mod:`media_ingest.video_worker`) with an address-space limit, a CPU-time
limit and a wall-clock timeout; raw RGB frames come back over a pipe. Whatever
the child does (segfault, OOM, SIGKILL, hang, garbage on the pipe), the
caller gets :class:`MediaRejected` and carries on.

Plain Python: importable without Django settings.
"""

from __future__ import annotations

import json
import logging
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media_ingest.validation import MediaRejected, SniffedMedia, sniff_media
from media_ingest.video_worker import FRAME_HEADER, MESSAGE_HEADER

logger = logging.getLogger(__name__)

DEFAULT_FPS = 2.0
DEFAULT_MAX_SIDE = 1280
DEFAULT_TIMEOUT_S = 300.0
# Python + numpy + PyAV need ~250 MB of address space before any decoding;
# a 4K H.264/HEVC stream with two decoder threads stays well under 1.5 GB.
DEFAULT_MEMORY_LIMIT_MB = 1536
DECODER_THREADS = 2
# One message can never be larger than an 8K RGB frame (plus its header).
_MAX_MESSAGE = 8192 * 8192 * 3 + 64
_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    width: int
    height: int
    fps: float
    frame_count_estimate: int
    codec: str
    rotation: int = 0  # degrees counter-clockwise applied for display (0/90/180/270)


@dataclass(frozen=True, eq=False)
class SampledFrame:
    index: int  # 0, 1, 2 ... in sampling order
    time_s: float  # seconds on the player's timeline (from the container's start)
    image: np.ndarray  # (H, W, 3) RGB uint8, contiguous


def probe_video(
    path: str | os.PathLike,
    *,
    timeout_s: float = 30.0,
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
    max_duration_s: float | None = None,
) -> VideoInfo:
    """Container facts for ``path``, after proving the first frame decodes.
    ``width``/``height`` are as displayed (after the rotation phones store).

    Raises MediaRejected: "video-undecodable", "video-timeout",
    "video-crashed", or "video-too-long" (longer than ``max_duration_s``).
    """
    config = {"mode": "probe", "max_duration_s": max_duration_s}
    with _Child(path, config, timeout_s=timeout_s, memory_limit_mb=memory_limit_mb) as child:
        for tag, body in child.messages():
            if tag == b"INFO":
                return VideoInfo(**json.loads(body))
        child.fail_protocol("the decoder sent no video information")
    raise AssertionError("unreachable")  # pragma: no cover


def validate_video(
    path: str | os.PathLike,
    *,
    max_bytes: int,
    max_duration_s: float | None = None,
    timeout_s: float = 30.0,
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
) -> tuple[SniffedMedia, VideoInfo]:
    """The video counterpart of ``validate_image``: empty, over
    ``max_bytes``, not a sniffed video type, then :func:`probe_video` (opens,
    decodes the first frame, checks ``max_duration_s``). Raises MediaRejected."""
    path = Path(path)
    sniffed = sniff_media(path)  # "empty" / "unsupported-type"
    size = path.stat().st_size
    if size > max_bytes:
        raise MediaRejected(
            f"The file is {size / 1_000_000:.1f} MB; the limit for videos is "
            f"{max_bytes / 1_000_000:.1f} MB.",
            "too-large",
        )
    if sniffed.kind != "video":
        raise MediaRejected(
            f"Expected a video but this is a photo ({sniffed.mime}).", "unsupported-type"
        )
    info = probe_video(
        path, timeout_s=timeout_s, memory_limit_mb=memory_limit_mb, max_duration_s=max_duration_s
    )
    return sniffed, info


def sample_frames(
    path: str | os.PathLike,
    *,
    fps: float = DEFAULT_FPS,
    max_frames: int = 3600,
    max_side: int = DEFAULT_MAX_SIDE,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
    max_duration_s: float | None = None,
    on_info: Callable[[VideoInfo], None] | None = None,
) -> Iterator[SampledFrame]:
    """Decode ``path`` sequentially (no seeking) and yield one frame per
    ``1/fps`` seconds of video time: the first picture, then the first frame
    at or after each further ``1/fps``. Times count from the container's
    start, as a browser's ``currentTime`` does (a page can seek to a track).
    Frames are downscaled so the longer side is at most ``max_side`` (aspect
    preserved, never upscaled) and turned upright when the file stores a
    display rotation (phone videos).

    ``timeout_s`` bounds the time spent *waiting for the decoder*; the time
    the caller spends between frames does not count (the child just blocks
    on the pipe). The child also gets a CPU-time limit of about the same.
    A video that would give more than ``max_frames`` samples, or lasts longer
    than ``max_duration_s``, is refused ("video-too-long") rather than cut.

    ``on_info`` gets what :func:`probe_video` would say, before the first
    frame: one decoder process does both.

    Raises MediaRejected (possibly after some frames were yielded: a file
    can be damaged half-way): "video-undecodable", "video-timeout",
    "video-crashed", "video-too-long". Closing the iterator early kills the
    child.
    """
    if fps <= 0 or max_frames < 1 or max_side < 16:
        raise ValueError("fps must be > 0, max_frames >= 1 and max_side >= 16")
    config = {
        "mode": "sample",
        "fps": float(fps),
        "max_frames": int(max_frames),
        "max_side": int(max_side),
        "max_duration_s": max_duration_s,
    }
    with _Child(path, config, timeout_s=timeout_s, memory_limit_mb=memory_limit_mb) as child:
        for tag, body in child.messages():
            if tag == b"FRAM":
                index, time_s, width, height = FRAME_HEADER.unpack_from(body)
                pixels = memoryview(body)[FRAME_HEADER.size :]
                if len(pixels) != width * height * 3:
                    child.fail_protocol("a frame had the wrong size")
                image = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 3)
                yield SampledFrame(index=index, time_s=time_s, image=image)
            elif tag == b"INFO" and on_info is not None:
                on_info(VideoInfo(**json.loads(body)))
            elif tag == b"DONE":
                return
        child.fail_protocol("the decoder stopped without finishing")


class _Child:
    """One worker process, read message by message with a wait budget."""

    def __init__(self, path, config: dict, *, timeout_s: float, memory_limit_mb: int):
        path = Path(path)
        if not path.is_file():
            raise MediaRejected("The video file does not exist.", "video-undecodable")
        self.timeout_s = float(timeout_s)
        self.memory_limit_mb = int(memory_limit_mb)
        self.waited = 0.0
        config = {
            **config,
            "path": str(path.resolve()),
            "memory_limit_mb": self.memory_limit_mb,
            "cpu_limit_s": max(2, math.ceil(self.timeout_s * DECODER_THREADS) + 1),
            "threads": DECODER_THREADS,
        }
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (_PROJECT_ROOT, os.environ.get("PYTHONPATH", "")) if p
            ),
            # Few malloc arenas and BLAS threads keep address space predictable.
            "MALLOC_ARENA_MAX": "2",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
        }
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
            [sys.executable, "-m", "media_ingest.video_worker", json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            close_fds=True,
            start_new_session=True,  # a terminal's Ctrl-C goes to the caller only
        )
        self._fd = self.proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self._stderr.close()

    def messages(self) -> Iterator[tuple[bytes, bytes]]:
        """(tag, body) until DONE or FAIL; FAIL and every failure raise."""
        while True:
            header = self._read(MESSAGE_HEADER.size)
            tag, length = MESSAGE_HEADER.unpack(header)
            if tag not in (b"INFO", b"FRAM", b"FAIL", b"DONE") or length > _MAX_MESSAGE:
                self.fail_protocol(f"unexpected message {tag!r}")
            body = self._read(length) if length else b""
            if tag == b"FAIL":
                failure = json.loads(body)
                raise MediaRejected(str(failure["reason"]), str(failure["code"]))
            yield tag, body
            if tag == b"DONE":
                return

    def _read(self, n: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < n:
            remaining = self.timeout_s - self.waited
            if remaining <= 0:
                self._timed_out()
            started = time.monotonic()
            ready = self._poll.poll(remaining * 1000)  # poll, not select: fds may be > 1024
            self.waited += time.monotonic() - started
            if not ready:
                continue  # loops to _timed_out
            try:
                chunk = os.read(self._fd, min(n - len(chunks), 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                self._ended_early()
            chunks += chunk
        return bytes(chunks)

    def _timed_out(self):
        self.proc.kill()
        self.proc.wait()
        raise MediaRejected(
            f"Decoding the video took longer than {self.timeout_s:g} s and was stopped.",
            "video-timeout",
        )

    def _ended_early(self):
        try:
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._log_stderr(rc)
        if rc == -signal.SIGXCPU:
            raise MediaRejected(
                "Decoding the video used too much processor time and was stopped.",
                "video-timeout",
            )
        if rc < 0:
            what = signal.Signals(-rc).name if -rc in signal.valid_signals() else str(-rc)
            raise MediaRejected(
                f"The video decoder crashed on this file (killed by {what}).", "video-crashed"
            )
        raise MediaRejected(
            "The video could not be decoded. If it does not play on your computer either, "
            "the file is damaged: upload it again from the original. If it plays, it may be "
            f"too large to decode here (over {self.memory_limit_mb} MB of memory): convert "
            "it to H.264 (MP4) at 1080p or lower, for example with HandBrake, and upload it "
            "again.",
            "video-crashed",
        )

    def fail_protocol(self, what: str):
        self.proc.kill()
        raise MediaRejected(f"The video could not be processed: {what}.", "video-crashed")

    def _log_stderr(self, rc: int) -> None:
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - 2000))
        tail = self._stderr.read().decode("utf-8", "replace")
        logger.warning("video worker exited with %s: %s", rc, tail.strip()[-2000:])
