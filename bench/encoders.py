"""JPEG encoders for what a worker writes per file: a thumbnail and one crop per face.

    .venv/bin/python -m bench.encoders [--images 60] [--repeat 5]

The same decoded RGB arrays (shared group photos and LFW portraits, as
bench.ingest uploads them) are encoded by each candidate, in this process,
one after another, so the machine's noise hits them alike:
- ``pil``: what media_ingest.processing does (PIL ``thumbnail`` + ``save``);
- ``opencv``: ``cv2.resize`` (INTER_AREA) + ``cv2.imencode`` (OpenCV's bundled libjpeg-turbo);
- ``simplejpeg``: ``cv2.resize`` + ``simplejpeg.encode_jpeg`` (libjpeg-turbo on
  the numpy array, no PIL image), when installed.
Crops are the boxes the default engine finds, with processing's margin.

Decoding is compared the same way (``pil``: recognition.imaging.load_image,
with its EXIF orientation; the others decode only).

Printed (stable lines):
    decode <decoder>: <a> ms per image, <r>x pil
    <encoder>: thumbnail <a> ms, crops <b> ms per image (<c> faces), <r>x pil
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np

from bench.common import FACES


def _pil(array: np.ndarray, side: int, quality: int) -> bytes:
    from PIL import Image

    image = Image.fromarray(array)
    image.thumbnail((side, side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _resized(array: np.ndarray, side: int) -> np.ndarray:
    import cv2

    height, width = array.shape[:2]
    scale = min(1.0, side / max(height, width))
    if scale == 1.0:
        return array
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_AREA)


def _opencv(array: np.ndarray, side: int, quality: int) -> bytes:
    import cv2

    bgr = cv2.cvtColor(_resized(array, side), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def _simplejpeg(array: np.ndarray, side: int, quality: int) -> bytes:
    import simplejpeg

    return simplejpeg.encode_jpeg(
        np.ascontiguousarray(_resized(array, side)), quality=quality, colorspace="RGB"
    )


def _decode_opencv(data: bytes) -> np.ndarray:
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _decode_simplejpeg(data: bytes) -> np.ndarray:
    import simplejpeg

    return simplejpeg.decode_jpeg(data, colorspace="RGB")


def _crops(image: np.ndarray, boxes) -> list[np.ndarray]:
    height, width = image.shape[:2]
    out = []
    for left, top, right, bottom in boxes:
        side = int(max(right - left, bottom - top) * 1.4)
        cx, cy = (left + right) // 2, (top + bottom) // 2
        x0, y0 = max(cx - side // 2, 0), max(cy - side // 2, 0)
        x1, y1 = min(cx + side // 2, width), min(cy + side // 2, height)
        out.append(image[y0:y1, x0:x1])
    return out


def main() -> None:
    from media_ingest.conf import ingest_setting
    from media_ingest.processing import THUMBNAIL_SIDE
    from recognition.engines.registry import build_engine
    from recognition.imaging import load_image

    crop_side = ingest_setting("CROP_SIDE")

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    paths = sorted((FACES / "groups").glob("*.jpg"))[: args.images // 2]
    paths += sorted((FACES / "identities").rglob("*.jpg"))[: args.images - len(paths)]
    engine = build_engine("dlib")
    samples = []
    for path in paths:
        image = load_image(path.read_bytes())
        faces, _ = engine.analyze_batch([image])[0]
        samples.append((image, _crops(image, [f.box for f in faces])))
    face_count = sum(len(c) for _, c in samples)

    encoders = {"pil": _pil, "opencv": _opencv}
    try:
        import simplejpeg  # noqa: F401

        encoders["simplejpeg"] = _simplejpeg
    except ImportError:
        print("simplejpeg: not installed (pip install simplejpeg)")
    timings = {name: [0.0, 0.0] for name in encoders}
    for _ in range(args.repeat):
        for name, encode in encoders.items():  # interleaved: the same noise for each
            started = time.process_time()
            for image, _ in samples:
                encode(image, THUMBNAIL_SIDE, 82)
            middle = time.process_time()
            for _, crops in samples:
                for crop in crops:
                    encode(crop, crop_side, 88)
            timings[name][0] += middle - started
            timings[name][1] += time.process_time() - middle
    per_image = {
        name: (t / (args.repeat * len(samples)) * 1000, c / (args.repeat * len(samples)) * 1000)
        for name, (t, c) in timings.items()
    }
    datas = [path.read_bytes() for path in paths]
    decoders = {"pil": load_image, "opencv": _decode_opencv}
    if "simplejpeg" in encoders:
        decoders["simplejpeg"] = _decode_simplejpeg
    decode_cpu = dict.fromkeys(decoders, 0.0)
    for _ in range(args.repeat):
        for name, decode in decoders.items():
            started = time.process_time()
            for data in datas:
                decode(data)
            decode_cpu[name] += time.process_time() - started
    for name, seconds in decode_cpu.items():
        print(
            f"decode {name}: {seconds / (args.repeat * len(datas)) * 1000:.2f} ms per image, "
            f"{decode_cpu['pil'] / seconds:.2f}x pil"
        )
    base = sum(per_image["pil"])
    for name, (thumb, crops) in per_image.items():
        print(
            f"{name}: thumbnail {thumb:.2f} ms, crops {crops:.2f} ms per image "
            f"({face_count / len(samples):.1f} faces), {base / (thumb + crops):.2f}x pil"
        )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    main()
