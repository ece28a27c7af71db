"""Child process that opens an untrusted video with PyAV (FFmpeg).

Run only by :mod:`media_ingest.video`: ``python -m media_ingest.video_worker
'<json config>'``. It limits its own resources *before* importing PyAV or
touching the file (address space, CPU seconds, no core dumps, no files
written), so a decoder bug or a hostile file can at worst kill this process.
Setting the limits here rather than in ``preexec_fn`` keeps the parent safe:
``preexec_fn`` may deadlock a multi-threaded parent (Python docs).

Protocol on stdout, one message after another: 4-byte tag, little-endian
uint32 body length, body.

- ``INFO`` JSON: duration_s, width, height, fps, frame_count_estimate, codec
  (and rotation, when probing)
- ``FRAM`` ``<Idii`` header (index, time_s, width, height) + RGB24 pixels
- ``FAIL`` JSON: code, reason (a refusal the parent turns into MediaRejected)
- ``DONE`` empty: everything was sent

Only the standard library, numpy and av are imported here.
"""

from __future__ import annotations

import json
import math
import os
import resource
import struct
import sys

FRAME_HEADER = struct.Struct("<Idii")
MESSAGE_HEADER = struct.Struct("<4sI")


def _limit_resources(memory_limit_mb: int, cpu_limit_s: int) -> None:
    memory = memory_limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit_s, cpu_limit_s + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # It writes no files; 1 MB leaves room for a traceback on stderr (a file).
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


class _Refused(Exception):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _send(out, tag: bytes, body: bytes = b"") -> None:
    out.write(MESSAGE_HEADER.pack(tag, len(body)))
    out.write(body)


def _send_json(out, tag: bytes, payload: dict) -> None:
    _send(out, tag, json.dumps(payload).encode())
    out.flush()


# Decoders for camera, phone and web video. FFmpeg ships hundreds of rarely
# used decoders; each one left out is attack surface left out.
ALLOWED_CODECS = frozenset(
    [
        "h264",
        "hevc",
        "vp8",
        "vp9",
        "av1",
        "libdav1d",
        "mpeg4",
        "msmpeg4v2",
        "msmpeg4v3",
        "mpeg1video",
        "mpeg2video",
        "mjpeg",
        "prores",
        "dvvideo",
        "h263",
        "theora",
        "wmv1",
        "wmv2",
        "wmv3",
        "vc1",
    ]
)


def _demuxer(path: str) -> str:
    """The FFmpeg demuxer for the container the bytes say this is. Forcing it
    stops FFmpeg from probing other formats: an "MP4" that is really an HLS
    playlist or a concat script could make it read other files."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[4:8] == b"ftyp":
        return "mov"  # MP4, MOV (and the HEIC family, which has no video track)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"  # MKV and WebM
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    raise _Refused("video-undecodable", "The file is not an MP4, MOV, MKV, WebM or AVI video.")


def _open(av, path: str):
    demuxer = _demuxer(path)
    try:
        container = av.open(
            path,
            mode="r",
            format=demuxer,
            options={"protocol_whitelist": "file"},
            metadata_errors="ignore",
        )
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise _Refused(
            "video-undecodable", f"The file cannot be opened as a video ({_short(exc)})."
        ) from exc
    if not container.streams.video:
        container.close()
        raise _Refused("video-undecodable", "The file contains no video stream.")
    context = container.streams.video[0].codec_context
    if context is None:  # FFmpeg has no decoder at all for the stream's codec id
        container.close()
        raise _Refused("video-unsupported-codec", f"The video uses an unknown codec. {_CONVERT}")
    if context.name not in ALLOWED_CODECS:
        container.close()
        raise _Refused(
            "video-unsupported-codec",
            f"The video uses the {context.name!r} codec, which Facet does not decode. {_CONVERT}",
        )
    return container


_CONVERT = "Convert it to H.264 (MP4) or VP9 (WebM) and upload it again."


def _short(exc: BaseException) -> str:
    # FFmpegError's str() carries the errno, the path and FFmpeg's log: users
    # get the plain sentence ("Invalid data found when processing input").
    text = (getattr(exc, "strerror", None) or str(exc)).strip() or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "..."


def _info(container) -> dict:
    stream = container.streams.video[0]
    ctx = stream.codec_context
    fps = float(stream.average_rate or stream.guessed_rate or 0.0)
    duration = 0.0
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000
    frames = stream.frames or (round(duration * fps) if fps else 0)
    return {
        "duration_s": duration,
        "width": ctx.width,
        "height": ctx.height,
        "fps": fps,
        "frame_count_estimate": int(frames),
        "codec": ctx.name,
    }


def _check_length(info: dict, max_duration_s: float | None) -> None:
    if max_duration_s is not None and info["duration_s"] > max_duration_s:
        raise _Refused(
            "video-too-long",
            f"The video lasts {info['duration_s']:.1f} s; the limit is {max_duration_s:.0f} s.",
        )


def _target_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def probe(av, out, cfg: dict) -> None:
    with _open(av, cfg["path"]) as container:
        info = _info(container)
        _check_length(info, cfg.get("max_duration_s"))
        stream = container.streams.video[0]
        stream.codec_context.thread_count = cfg["threads"]
        try:  # the first frame proves the codec can decode it
            first = next(container.decode(stream), None) or _no_frames()
        except av.FFmpegError as exc:
            _raise_if_out_of_memory(cfg)
            raise _Refused(
                "video-undecodable", f"The video cannot be decoded ({_short(exc)})."
            ) from exc
        if not (info["width"] and info["height"]):
            raise _Refused("video-undecodable", "The video has no picture size.")
        info["rotation"] = _quarter_turns(first) * 90
        if info["rotation"] in (90, 270):  # report the size as displayed
            info["width"], info["height"] = info["height"], info["width"]
    _send_json(out, b"INFO", info)


def _quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns that make ``frame`` upright: phones
    record sideways and store a display matrix (PyAV's ``rotation``, degrees
    counter-clockwise; an iPhone portrait clip says -90, i.e. turn clockwise)."""
    rotation = getattr(frame, "rotation", 0) or 0
    return round(rotation / 90) % 4


def _raise_if_out_of_memory(cfg: dict) -> None:
    """FFmpeg reports a failed allocation as a decoding error (EAGAIN, "no
    frame"); if memory is nearly exhausted, say that instead of "damaged"."""
    try:
        bytearray(64 << 20)
    except MemoryError:
        raise _Refused("video-crashed", _memory_reason(cfg)) from None


def _memory_reason(cfg: dict) -> str:
    return (
        f"Decoding this video needs more memory than a video may use here "
        f"({cfg['memory_limit_mb']} MB). Convert it to H.264 (MP4) at 1080p or lower, "
        "for example with HandBrake, and upload it again."
    )


def _no_frames():
    raise _Refused("video-undecodable", "The video contains no decodable frames.")


def sample(av, out, cfg: dict) -> None:
    import numpy as np  # imported after the limits are set, like av

    fps, max_frames = cfg["fps"], cfg["max_frames"]
    max_duration_s = cfg.get("max_duration_s")
    with _open(av, cfg["path"]) as container:
        info = _info(container)
        _check_length(info, max_duration_s)
        if info["duration_s"] * fps > max_frames + 1:
            raise _Refused(
                "video-too-long",
                f"The video lasts {info['duration_s']:.1f} s: more than {max_frames} frames "
                f"at {fps:g} frames per second.",
            )
        stream = container.streams.video[0]
        stream.codec_context.thread_count = cfg["threads"]
        # Times are on the player's timeline: from the container's start (the
        # earliest stream), as browsers count; the video may begin later
        # (the Hamilton clip's first picture is at 0.84 s).
        start = container.start_time / 1_000_000 if container.start_time is not None else None
        next_time = 0.0
        index = 0
        decoded = 0
        first_time = None
        last_time = 0.0
        step = 1.0 / fps
        try:
            for frame in container.decode(stream):
                decoded += 1
                t = frame.time
                if t is None:  # no timestamps: assume a steady rate
                    t = (decoded - 1) / (info["fps"] or 25.0)
                if start is None:
                    start = t
                t = max(0.0, t - start)
                first_time = t if first_time is None else first_time
                last_time = max(last_time, t)
                if max_duration_s is not None and t > max_duration_s:
                    raise _Refused(
                        "video-too-long",
                        f"The video runs past {max_duration_s:.0f} s (its header said "
                        f"{info['duration_s']:.1f} s).",
                    )
                if t + 1e-6 < next_time:
                    continue
                if index >= max_frames:
                    raise _Refused(
                        "video-too-long",
                        f"The video has more than {max_frames} frames at {fps:g} frames per "
                        "second.",
                    )
                # The grid starts at the first picture: first + k / fps.
                next_time = first_time + (math.floor((t - first_time) / step + 1e-6) + 1) * step
                width, height = _target_size(frame.width, frame.height, cfg["max_side"])
                rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
                turns = _quarter_turns(frame)
                if index == 0:  # what probe() reports, from the first picture
                    info["rotation"] = turns * 90
                    if turns % 2:  # the size as displayed
                        info["width"], info["height"] = info["height"], info["width"]
                    _send_json(out, b"INFO", info)
                if turns:
                    rgb = np.ascontiguousarray(np.rot90(rgb, turns))
                height, width = rgb.shape[:2]
                body = FRAME_HEADER.pack(index, t, width, height)
                out.write(MESSAGE_HEADER.pack(b"FRAM", len(body) + rgb.nbytes))
                out.write(body)
                out.write(np.ascontiguousarray(rgb).data)
                out.flush()
                index += 1
        except av.FFmpegError as exc:
            _raise_if_out_of_memory(cfg)
            raise _Refused(
                "video-undecodable",
                f"The video is damaged after {last_time:.1f} s ({_short(exc)}).",
            ) from exc
        if index == 0:
            _no_frames()
        declared = info["duration_s"]
        if declared > 2.0 and last_time - (first_time or 0.0) < 0.9 * declared - 0.5:
            raise _Refused(
                "video-undecodable",
                f"The video stops at {last_time:.1f} s but declares {declared:.1f} s: "
                "the file is truncated or damaged.",
            )
    _send(out, b"DONE")
    out.flush()


def main() -> int:
    cfg = json.loads(sys.argv[1])
    _limit_resources(cfg["memory_limit_mb"], cfg["cpu_limit_s"])
    out = sys.stdout.buffer
    try:
        import av

        av.logging.set_level(av.logging.PANIC)  # FFmpeg's chatter is not for users
        (probe if cfg["mode"] == "probe" else sample)(av, out, cfg)
    except _Refused as exc:
        _send_json(out, b"FAIL", {"code": exc.code, "reason": exc.reason})
    except MemoryError:
        _send_json(out, b"FAIL", {"code": "video-crashed", "reason": _memory_reason(cfg)})
    except BrokenPipeError:  # the parent stopped reading: nothing left to do
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
