"""Video probing and sampling in the limited child process, including what
happens when the child is killed, starved of memory or too slow."""

from __future__ import annotations

import os
import signal
import struct
import time
from pathlib import Path

import av
import numpy as np
import psutil
import pytest

from media_ingest.validation import REJECTION_CODES, MediaRejected, sniff_media
from media_ingest.video import probe_video, sample_frames, validate_video
from tests.media_ingest.conftest import HAMILTON, VIDEO_NAMES, image_bytes, video_path

EXPECTED = {  # name: (width, height, codec)
    HAMILTON: (640, 360, "h264"),
    "fnp_video.mp4": (1920, 1080, "h264"),
    "dlib_MOT20-05-raw_even_shorter.mp4": (826, 540, "h264"),
}


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_shared_videos_are_probed(name):
    info = probe_video(video_path(name), timeout_s=30)
    assert (info.width, info.height, info.codec) == EXPECTED[name]
    assert 3.5 < info.duration_s < 11
    assert 20 < info.fps < 31
    assert info.frame_count_estimate == pytest.approx(info.duration_s * info.fps, rel=0.05)


def test_hamilton_clip_sampled_at_two_fps():
    path = video_path(HAMILTON)
    info = probe_video(path, timeout_s=30)
    frames = list(sample_frames(path, fps=2.0, timeout_s=60))
    assert abs(len(frames) - info.duration_s * 2) <= 2
    assert [f.index for f in frames] == list(range(len(frames)))
    times = [f.time_s for f in frames]
    # The picture starts 0.84 s into the clip (audio first): times are on the
    # player's timeline, so a page can seek to them.
    assert times[0] == pytest.approx(0.844, abs=0.02)
    assert times[-1] <= info.duration_s + 1.0
    assert times == sorted(set(times))  # strictly increasing
    gaps = np.diff(times)
    assert gaps.min() > 0.4 and gaps.max() < 0.6
    for frame in frames:
        assert frame.image.shape == (360, 640, 3) and frame.image.dtype == np.uint8
    assert frames[5].image.std() > 10  # real picture, not a blank buffer


def test_frames_are_downscaled_preserving_aspect():
    frames = list(sample_frames(video_path("fnp_video.mp4"), fps=1.0, max_side=480, timeout_s=60))
    assert len(frames) in (4, 5)
    assert {f.image.shape for f in frames} == {(270, 480, 3)}


def _refused(call) -> MediaRejected:
    with pytest.raises(MediaRejected) as caught:
        call()
    assert caught.value.code in REJECTION_CODES
    assert caught.value.reason and "Traceback" not in caught.value.reason
    return caught.value


def test_truncated_and_garbage_videos_are_refused(tmp_path):
    data = video_path(HAMILTON).read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: int(len(data) * 0.3)])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(50_000))
    for path in (truncated, garbage):
        assert _refused(lambda p=path: probe_video(p, timeout_s=20)).code == "video-undecodable"
        assert _refused(lambda p=path: list(sample_frames(p, timeout_s=20))).code == (
            "video-undecodable"
        )


def test_video_truncated_after_its_index_fails_after_the_good_frames(tmp_path):
    """With the index (moov) first, a cut file opens and decodes for a while."""
    faststart = tmp_path / "faststart.mp4"
    with (
        av.open(str(video_path(HAMILTON))) as source,
        av.open(str(faststart), "w", options={"movflags": "faststart"}) as target,
    ):
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(faststart.read_bytes()[: faststart.stat().st_size * 3 // 10])
    assert probe_video(cut, timeout_s=20).width == 640
    seen = []
    with pytest.raises(MediaRejected) as caught:
        for frame in sample_frames(cut, timeout_s=20):
            seen.append(frame.index)
    assert caught.value.code == "video-undecodable"
    assert 0 < len(seen) < 15


def test_too_long_videos_are_refused_before_decoding():
    path = video_path(HAMILTON)
    assert _refused(lambda: probe_video(path, max_duration_s=5)).code == "video-too-long"
    assert _refused(lambda: list(sample_frames(path, max_frames=5))).code == "video-too-long"


def test_a_child_killed_mid_stream_is_a_rejection_not_a_crash():
    frames = sample_frames(video_path(HAMILTON), fps=2.0, timeout_s=30)
    first = next(frames)
    assert first.index == 0
    workers = [p for p in psutil.Process().children() if "media_ingest.video_worker" in p.cmdline()]
    assert len(workers) == 1
    os.kill(workers[0].pid, signal.SIGKILL)
    caught = _refused(lambda: list(frames))
    assert caught.code == "video-crashed" and "SIGKILL" in caught.reason
    # The caller carries on: the next video works.
    assert probe_video(video_path(HAMILTON), timeout_s=30).width == 640


def test_memory_limit_and_timeout_end_the_child_cleanly():
    path = video_path("fnp_video.mp4")
    starved = _refused(lambda: list(sample_frames(path, memory_limit_mb=150)))
    assert starved.code == "video-crashed"
    # The reason says what to do about it, in either case it cannot tell apart.
    assert "150 MB" in starved.reason and "upload it again" in starved.reason
    assert "convert it to H.264 (MP4) at 1080p or lower" in starved.reason
    started = time.monotonic()
    assert _refused(lambda: list(sample_frames(path, timeout_s=0.05))).code == "video-timeout"
    assert time.monotonic() - started < 5
    # No worker is left behind.
    time.sleep(0.1)
    assert not [p for p in psutil.Process().children() if p.is_running() and p.status() != "zombie"]


def test_closing_the_iterator_early_kills_the_child():
    frames = sample_frames(video_path(HAMILTON), timeout_s=30)
    next(frames)
    (worker,) = psutil.Process().children()
    frames.close()
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE


def test_phone_rotation_is_applied(tmp_path):
    """An iPhone portrait clip stores frames sideways with a display matrix
    (tkhd a=0 b=1 c=-1 d=0): players turn them 90 degrees clockwise."""
    data = bytearray(video_path(HAMILTON).read_bytes())
    tkhd = data.index(b"tkhd")  # the first track is the video track
    assert data[tkhd + 4] == 0  # version 0 layout
    matrix = tkhd + 4 + 4 + 20 + 16
    struct.pack_into(">9i", data, matrix, 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    portrait = tmp_path / "portrait.mp4"
    portrait.write_bytes(bytes(data))

    info = probe_video(portrait, timeout_s=30)
    assert (info.width, info.height, info.rotation) == (360, 640, 270)
    upright = list(sample_frames(portrait, fps=1.0, timeout_s=30))[3].image
    sideways = list(sample_frames(video_path(HAMILTON), fps=1.0, timeout_s=30))[3].image
    assert np.array_equal(upright, np.rot90(sideways, -1))  # clockwise


def _encode(path, codec: str, pix_fmt: str = "yuv420p", frames: int = 10) -> None:
    gradient = np.linspace(0, 255, 320, dtype=np.uint8)
    with av.open(str(path), "w") as target:
        stream = target.add_stream(codec, rate=5)
        stream.width, stream.height, stream.pix_fmt = 320, 180, pix_fmt
        for i in range(frames):
            image = np.ascontiguousarray(np.broadcast_to(gradient[None, :, None], (180, 320, 3)))
            image = np.roll(image, 8 * i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "mime"),
    [
        ("clip.webm", "libvpx", "yuv420p", "video/webm"),
        ("clip.mkv", "mpeg4", "yuv420p", "video/x-matroska"),
        ("clip.avi", "mpeg4", "yuv420p", "video/x-msvideo"),
        ("clip.mov", "mjpeg", "yuvj420p", "video/quicktime"),
    ],
)
def test_every_container_is_sniffed_probed_and_sampled(tmp_path, name, codec, pix_fmt, mime):
    path = tmp_path / name
    _encode(path, codec, pix_fmt)
    assert sniff_media(path).mime == mime
    info = probe_video(path, timeout_s=30)
    assert (info.width, info.height, info.duration_s) == (320, 180, pytest.approx(2.0))
    frames = list(sample_frames(path, fps=2.0, timeout_s=30))
    assert [f.time_s for f in frames] == pytest.approx([0.0, 0.6, 1.0, 1.6], abs=0.11)
    assert {f.image.shape for f in frames} == {(180, 320, 3)}


def test_uncommon_codecs_are_refused(tmp_path):
    path = tmp_path / "clip.avi"
    _encode(path, "png", "rgb24", frames=2)
    caught = _refused(lambda: probe_video(path, timeout_s=30))
    assert caught.code == "video-unsupported-codec" and "'png' codec" in caught.reason


@pytest.mark.parametrize("sampling", [False, True], ids=["probe", "sample"])
def test_a_codec_ffmpeg_does_not_know_is_reported_as_such(tmp_path, sampling):
    """A stream whose codec id FFmpeg has no decoder for (here an MKV whose CodecID
    was renamed) is an unsupported codec, not a memory problem."""
    path = tmp_path / "clip.mkv"
    _encode(path, "mpeg4", frames=3)
    path.write_bytes(path.read_bytes().replace(b"V_MPEG4/ISO/ASP", b"V_ZZZZZ/ISO/ASP"))
    action = (
        (lambda: list(sample_frames(path, timeout_s=30)))
        if sampling
        else (lambda: probe_video(path, timeout_s=30))
    )
    caught = _refused(action)
    assert caught.code == "video-unsupported-codec", caught.reason
    assert "unknown codec" in caught.reason and "memory" not in caught.reason


def test_the_child_runs_under_resource_limits():
    frames = sample_frames(video_path(HAMILTON), timeout_s=30, memory_limit_mb=700)
    next(frames)
    (worker,) = psutil.Process().children()
    limits = Path(f"/proc/{worker.pid}/limits").read_text()
    frames.close()
    address_space = next(line for line in limits.splitlines() if "address space" in line)
    assert str(700 * 1024 * 1024) in address_space
    assert any("cpu time" in line and "unlimited" not in line for line in limits.splitlines())


def test_validate_video(write):
    sniffed, info = validate_video(video_path(HAMILTON), max_bytes=10_000_000)
    assert (sniffed.mime, info.width) == ("video/mp4", 640)
    too_big = _refused(lambda: validate_video(video_path(HAMILTON), max_bytes=100_000))
    assert too_big.code == "too-large"
    photo = write("photo.mp4", image_bytes("JPEG"))
    assert _refused(lambda: validate_video(photo, max_bytes=10**9)).code == "unsupported-type"
    text = write("notes.mp4", b"just text")
    assert _refused(lambda: validate_video(text, max_bytes=10**9)).code == "unsupported-type"
    empty = write("empty.mp4", b"")
    assert _refused(lambda: validate_video(empty, max_bytes=10**9)).code == "empty"
