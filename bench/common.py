"""Shared pieces of the benchmarks: the runners (Facet engines and the peer
library ``face_recognition``), each used from worker processes.

No-face policy (identical for every runner): when the detector finds no face
in an image, the whole image is taken as the face box (for the ONNX engine the
ArcFace landmark template is laid into that box) and embedded anyway. When
several faces are found, the one whose box centre is nearest the image centre
is compared (LFW images are centred on their subject; measured on the ONNX
engine: centre 99.20%, largest box 99.07%, highest score 94.33%).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FACES = SHARED / "data" / "faces"
PACK_FILES = ("scrfd_500m_bnkps.onnx", "mobilefacenet_128d_b_dynbatch.onnx")
RUNNERS = ("facet-dlib", "facet-onnx", "face_recognition")

# ArcFace 112x112 template, as fractions of the box
_TEMPLATE = (
    np.array(
        [
            [38.2946, 51.6963],
            [73.5318, 51.5014],
            [56.0252, 71.7366],
            [41.5493, 92.3655],
            [70.7299, 92.2041],
        ],
        np.float32,
    )
    / 112.0
)


def make_pack_dir() -> str:
    """The ../shared/models pack, symlinked into a temp dir (never the repo)."""
    pack = Path(tempfile.mkdtemp(prefix="facet-bench-pack-")) / "scrfd500m-mbf128"
    pack.mkdir()
    for name in PACK_FILES:
        (pack / name).symlink_to(SHARED / "models" / name)
    return str(pack)


_state: dict = {}


def init_worker(runner: str, pack_dir: str | None) -> None:
    """Pool initializer: build the runner in this process (lazily loaded)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _state["runner"] = runner
    if runner == "facet-dlib":
        from recognition.engines.registry import build_engine

        _state["engine"] = build_engine("dlib")
    elif runner == "facet-onnx":
        from recognition.engines.registry import build_engine

        _state["engine"] = build_engine("insightface", pack_dir, intra_op_threads=1)
    else:
        import face_recognition

        _state["fr"] = face_recognition


def whole_image_face(image: np.ndarray):
    from recognition.engines.base import DetectedFace

    h, w = image.shape[:2]
    landmarks = (_TEMPLATE * np.array([w, h], np.float32)).astype(np.float32)
    return DetectedFace(box=(0, 0, w, h), landmarks=landmarks, score=0.0, quality=0.0)


def central(boxes, shape) -> int:
    """Index of the box whose centre is nearest the image centre."""
    h, w = shape[:2]
    dist = [((b[0] + b[2]) / 2 - w / 2) ** 2 + ((b[1] + b[3]) / 2 - h / 2) ** 2 for b in boxes]
    return int(np.argmin(dist))


def analyse_paths(paths: list[str]) -> list[dict]:
    """End to end for a chunk of files: decode -> detect -> align -> embed.
    Returns per image: boxes (l, t, r, b) and the central face's embedding
    (no-face policy applied), plus this process's peak RSS and CPU seconds."""
    runner = _state["runner"]
    cpu_start = time.process_time()
    out = []
    if runner == "face_recognition":
        fr = _state["fr"]
        for path in paths:
            image = fr.load_image_file(path)
            locations = fr.face_locations(image)  # HOG, upsample 1 (its defaults)
            # Same as face_recognition.face_encodings(image): one landmark pass
            encodings = fr.face_encodings(image, known_face_locations=locations)
            boxes = [(left, top, right, bottom) for top, right, bottom, left in locations]
            if not boxes:
                h, w = image.shape[:2]
                encodings = fr.face_encodings(image, known_face_locations=[(0, w, h, 0)])
                chosen = np.asarray(encodings[0], np.float32)
            else:
                chosen = np.asarray(encodings[central(boxes, image.shape)], np.float32)
            out.append({"path": path, "boxes": boxes, "embedding": chosen})
    else:
        from recognition.imaging import load_image

        engine = _state["engine"]
        images = [load_image(path) for path in paths]
        for path, image, (faces, emb) in zip(
            paths, images, engine.analyze_batch(images), strict=True
        ):
            boxes = [f.box for f in faces]
            if not faces:
                chosen = engine.embed(image, [whole_image_face(image)])[0]
            else:
                chosen = emb[central([f.box for f in faces], image.shape)]
            out.append({"path": path, "boxes": boxes, "embedding": chosen})
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # CPU seconds this process spent on the chunk (all its threads), spread over
    # its images: unlike wall time, it does not move when other work shares the cores.
    cpu_s = (time.process_time() - cpu_start) / max(len(out), 1)
    for row in out:
        row["rss_kib"] = rss_kib
        row["cpu_s"] = cpu_s
    return out


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class WebProcesses:
    """The platform's web server processes (FACET_WEB_PROCESSES of them, on one
    socket), with their CPU and memory summed."""

    def __init__(self, root_pid: int):
        import psutil

        self.processes = [
            p
            for p in psutil.Process(root_pid).children()
            if "config.web_server" in " ".join(p.cmdline())
        ]
        if not self.processes:
            raise RuntimeError("run_platform started no web server")

    def cpu_seconds(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self.processes)

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.processes)
