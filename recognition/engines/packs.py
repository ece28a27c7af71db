"""InsightFace-style model packs: validation and safe zip extraction.

A pack is a directory (or a .zip of one) holding ONNX files: one face detector
with 5 keypoints (SCRFD layout: score/bbox/kps outputs per stride) and one
ArcFace-style recogniser (N x 3 x S x S -> N x D). Other ONNX files found in
InsightFace's own packs (2d106 landmarks, gender/age) are listed and ignored.
Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from recognition.engines.geometry import sha256_file
from recognition.errors import ModelPackError

LICENCE_FILE_NAMES = (
    "LICENSE",
    "LICENCE",
    "LICENSE.txt",
    "LICENCE.txt",
    "LICENSE.md",
    "licence.txt",
    "license.txt",
    "LICENSE.md",
    "NOTICE",
)
UNKNOWN_LICENCE = (
    "Licence unknown: no LICENSE file in the pack. InsightFace's own model packs "
    "(buffalo_l, buffalo_s, antelopev2, ...) are licensed for non-commercial research "
    "use only; do not use such a pack commercially without a licence from its authors."
)
MAX_PACK_BYTES = 2 * 1024**3  # refuse zips that expand beyond 2 GiB


@dataclass(frozen=True)
class PackManifest:
    path: str  # directory holding the ONNX files
    name: str
    version: str  # first 16 hex of a digest over all weight digests
    detector: str  # file name inside ``path``
    recogniser: str
    embedding_dim: int
    recogniser_input_size: int
    detector_keypoints: int
    weights: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    licence: str = UNKNOWN_LICENCE
    ignored: tuple[str, ...] = ()


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises several unrelated types
        raise ModelPackError(f"{path.name}: not a loadable ONNX model ({exc})") from exc


def _classify(path: Path) -> tuple[str, dict]:
    """Return ("detector" | "recogniser" | "other", details)."""
    sess = _session(path)
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1:
        return "other", {}
    shape = inputs[0].shape
    if len(shape) != 4 or shape[1] != 3:
        return "other", {}
    if len(outputs) in (6, 9, 10, 15):  # SCRFD: 3 or 5 strides x (score, bbox[, kps])
        fmc = 3 if len(outputs) in (6, 9) else 5
        if len(outputs) == fmc * 2:
            raise ModelPackError(
                f"{path.name}: detector has no 5-point keypoint outputs; "
                "alignment needs a keypoint model such as SCRFD *_bnkps / *_kps"
            )
        return "detector", {"keypoints": 5}
    size = shape[2]
    if (
        len(outputs) == 1
        and isinstance(size, int)
        and size == shape[3]
        and size >= 112
        and size % 16 == 0
    ):
        batch = shape[0] if isinstance(shape[0], int) else 1
        dummy = np.zeros((batch, 3, size, size), dtype=np.float32)
        try:
            out = sess.run(None, {inputs[0].name: dummy})[0]
        except Exception as exc:
            raise ModelPackError(f"{path.name}: recogniser fails on a dummy input ({exc})") from exc
        if out.ndim != 2 or out.shape[1] < 2:
            return "other", {}
        return "recogniser", {"dim": int(out.shape[1]), "size": int(size)}
    return "other", {}


def _read_licence(directory: Path) -> str:
    for name in LICENCE_FILE_NAMES:
        candidate = directory / name
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8", errors="replace").strip()
            if text:
                return text[:20_000]
    return UNKNOWN_LICENCE


def validate_pack(path: str | Path) -> PackManifest:
    """Check that ``path`` (a directory) holds exactly one usable detector and
    one recogniser; hash every ONNX file; measure the embedding dim by running
    the recogniser once. Raises ModelPackError with a reason."""
    directory = Path(path)
    if not directory.is_dir():
        raise ModelPackError(f"{directory}: not a directory (unzip packs with extract_pack)")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".onnx" and p.is_file())
    if not files:
        raise ModelPackError(f"{directory}: no .onnx files in the pack")
    found: dict[str, list[tuple[Path, dict]]] = {"detector": [], "recogniser": [], "other": []}
    for onnx_file in files:
        kind, details = _classify(onnx_file)
        found[kind].append((onnx_file, details))
    for kind in ("detector", "recogniser"):
        if not found[kind]:
            raise ModelPackError(
                f"{directory}: no face {kind} found among {[f.name for f in files]}"
                + (
                    " (need an SCRFD-style model with score/bbox/kps outputs)"
                    if kind == "detector"
                    else " (need one input N x 3 x S x S, S >= 112, one output N x D)"
                )
            )
        if len(found[kind]) > 1:
            raise ModelPackError(
                f"{directory}: more than one {kind}: {[f.name for f, _ in found[kind]]}"
            )
    (det_file, det), (rec_file, rec) = found["detector"][0], found["recogniser"][0]
    weights = {f.name: sha256_file(str(f)) for f in (det_file, rec_file)}
    version = hashlib.sha256(
        "".join(f"{k}:{v}\n" for k, v in sorted(weights.items())).encode()
    ).hexdigest()[:16]
    return PackManifest(
        path=str(directory.resolve()),
        name=directory.name,
        version=version,
        detector=det_file.name,
        recogniser=rec_file.name,
        embedding_dim=rec["dim"],
        recogniser_input_size=rec["size"],
        detector_keypoints=det["keypoints"],
        weights=weights,
        licence=_read_licence(directory),
        ignored=tuple(f.name for f, _ in found["other"]),
    )


def extract_pack(zip_path: str | Path, dest: str | Path) -> Path:
    """Extract a pack zip into ``dest`` and return the directory holding its
    ONNX files. Refuses absolute paths, '..', symlinks and zip bombs."""
    dest = Path(dest).resolve()
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelPackError(f"{zip_path}: not a readable zip file ({exc})") from exc
    with archive:
        members = archive.infolist()
        total = sum(m.file_size for m in members)
        if total > MAX_PACK_BYTES:
            raise ModelPackError(f"{zip_path}: expands to {total:,} bytes, over the limit")
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if (
                name.is_absolute()
                or ".." in name.parts
                or member.filename.startswith("/")
                or (len(name.parts) and ":" in name.parts[0])
            ):
                raise ModelPackError(f"{zip_path}: unsafe path in zip: {member.filename!r}")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise ModelPackError(f"{zip_path}: symlink in zip: {member.filename!r}")
            target = (dest / name).resolve()
            if not target.is_relative_to(dest):
                raise ModelPackError(f"{zip_path}: unsafe path in zip: {member.filename!r}")
        dest.mkdir(parents=True, exist_ok=True)
        for member in members:
            target = dest / PurePosixPath(member.filename.replace("\\", "/"))
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, open(target, "wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
    holders = sorted({p.parent for p in dest.rglob("*.onnx")})
    if not holders:
        raise ModelPackError(f"{zip_path}: no .onnx files in the zip")
    if len(holders) > 1:
        raise ModelPackError(
            f"{zip_path}: ONNX files in several folders: {[str(h) for h in holders]}"
        )
    return holders[0]
