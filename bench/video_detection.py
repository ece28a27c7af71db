"""Video: the decoder against HOG detection, and what cheaper detection options lose.

    .venv/bin/python -m bench.video_detection [--clips hamilton fnp mot20]

Each shared clip is sampled as the worker samples it (media_ingest.video.
sample_frames at VIDEO_SAMPLE_FPS, at most VIDEO_MAX_SIDE px), once; then the
default engine with its video options (recognition.services.SOURCE_OPTIONS)
and with each variant detects faces on the same frames, one frame at a time
in this process (CPU seconds, so the machine's other load matters little).

Printed (stable lines):
    <clip>: <n> frames <w>x<h>, decode <s> s wall
    <clip> <variant>: detection <s> s CPU, <f> faces, <r>x the video options
"""

from __future__ import annotations

import argparse
import time

from bench.common import FACES

CLIPS = {
    "hamilton": "facerec_short_hamilton_clip.mp4",
    "fnp": "fnp_video.mp4",
    "mot20": "dlib_MOT20-05-raw_even_shorter.mp4",
}
VARIANTS = {
    "video options (upsample 1)": {},
    "upsample 0, at least 960 px": {"upsample": 0, "min_detect_side": 960},
    "upsample 0": {"upsample": 0},
}


def main() -> None:
    import numpy as np

    from media_ingest.conf import ingest_setting
    from media_ingest.video import sample_frames
    from recognition.engines.registry import build_engine
    from recognition.models import FaceModel
    from recognition.services import SOURCE_OPTIONS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    args = parser.parse_args()

    engines = {}
    for name, change in VARIANTS.items():
        engines[name] = build_engine(
            "dlib", **{**SOURCE_OPTIONS["video"][FaceModel.Engine.DLIB], **change}
        )
        engines[name].analyze_batch([np.zeros((64, 64, 3), np.uint8)])  # load before the clock
    for clip in args.clips:
        started = time.perf_counter()
        frames = list(
            sample_frames(
                str(FACES / "videos" / CLIPS[clip]),
                fps=ingest_setting("VIDEO_SAMPLE_FPS"),
                max_frames=ingest_setting("VIDEO_MAX_FRAMES"),
                max_side=ingest_setting("VIDEO_MAX_SIDE"),
                timeout_s=ingest_setting("VIDEO_TIMEOUT_S"),
                memory_limit_mb=ingest_setting("VIDEO_MEMORY_MB"),
            )
        )
        height, width = frames[0].image.shape[:2]
        print(
            f"{clip}: {len(frames)} frames {width}x{height}, "
            f"decode {time.perf_counter() - started:.2f} s wall",
            flush=True,
        )
        baseline = None
        for name, engine in engines.items():
            cpu = time.process_time()
            faces = sum(len(engine.detect(frame.image)) for frame in frames)
            seconds = time.process_time() - cpu
            baseline = baseline or seconds
            print(
                f"{clip} {name}: detection {seconds:.2f} s CPU, {faces} faces, "
                f"{baseline / seconds:.2f}x the video options",
                flush=True,
            )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    main()
