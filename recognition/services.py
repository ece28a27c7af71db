"""Registering models and choosing a tenant's model."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from django.db import transaction

from recognition.engines.base import FaceEngine
from recognition.engines.packs import extract_pack, validate_pack
from recognition.engines.registry import build_engine
from recognition.errors import ModelPackError
from tenants.models import Tenant

from .conf import recognition_setting
from .models import FaceModel, TenantFaceModel

# dlib's 128-D descriptors on ../shared/data/faces: same person >= 0.914 cosine
# for 99% of pairs, different people <= 0.903 for 99% (docs/benchmarks.md).
DLIB_MATCH_THRESHOLD = 0.91
# ArcFace-style recognisers commonly separate at about 0.35-0.45 cosine; an
# operator calibrates an imported pack with `models import --threshold`.
PACK_MATCH_THRESHOLD = 0.4
# Discovery's link thresholds, measured on ../shared/data/faces (docs/benchmarks.md,
# "Clusters"): about the highest recall that keeps pairwise precision >= 0.98.
DLIB_CLUSTER_THRESHOLD = 0.94
PACK_CLUSTER_THRESHOLD = 0.45


def builtin_model_ensure() -> FaceModel:
    """Register the dlib engine (weights from the installed package) and make it
    the default if no other default exists. Idempotent."""
    info = build_engine("dlib").info
    model, _ = FaceModel.objects.get_or_create(
        name=info.name,
        version=info.version,
        defaults={
            "engine": FaceModel.Engine.DLIB,
            "embedding_dim": info.embedding_dim,
            "weights": info.weights,
            "licence": info.licence,
            "match_threshold": DLIB_MATCH_THRESHOLD,
            "cluster_threshold": DLIB_CLUSTER_THRESHOLD,
        },
    )
    if not FaceModel.objects.filter(is_default=True).exists():
        model.is_default = True
        model.save(update_fields=["is_default"])
    return model


def face_model_import(
    *,
    source: Path,
    name: str | None = None,
    licence: str | None = None,
    match_threshold: float = PACK_MATCH_THRESHOLD,
    cluster_threshold: float = PACK_CLUSTER_THRESHOLD,
) -> FaceModel:
    """Check an InsightFace-style pack (a directory or a .zip), copy it under
    MODELS_DIR and register it. Nothing is downloaded; the pack must load.

    Raises ModelPackError with the reason when the pack is unusable.
    """
    source = Path(source)
    if not source.exists():
        raise ModelPackError(f"{source}: no such file or directory")
    with tempfile.TemporaryDirectory(prefix="facet-pack-") as scratch:
        if source.is_file():
            if not zipfile.is_zipfile(source):
                raise ModelPackError(f"{source.name}: neither a directory nor a .zip archive")
            pack_dir = extract_pack(source, Path(scratch) / "pack")
        else:
            pack_dir = source
        manifest = validate_pack(pack_dir)
        model_name = name or manifest.name
        if FaceModel.objects.filter(name=model_name, version=manifest.version).exists():
            raise ModelPackError(f"{model_name} {manifest.version} is already registered")

        destination = Path(recognition_setting("MODELS_DIR")) / f"{model_name}-{manifest.version}"
        if destination.exists():
            shutil.rmtree(destination)
        destination.mkdir(parents=True)
        for file_name in (manifest.detector, manifest.recogniser):
            shutil.copy2(Path(manifest.path) / file_name, destination / file_name)
        licence_text = licence or manifest.licence
        (destination / "LICENSE.txt").write_text(licence_text)

    # The copy must load and hash exactly as validated, or it is not registered.
    copied = validate_pack(destination)
    expected = {f: manifest.weights[f] for f in (manifest.detector, manifest.recogniser)}
    if copied.weights != expected:
        shutil.rmtree(destination, ignore_errors=True)
        raise ModelPackError("the copied pack does not match the source (disk full?)")
    return FaceModel.objects.create(
        name=model_name,
        version=manifest.version,
        engine=FaceModel.Engine.INSIGHTFACE,
        embedding_dim=copied.embedding_dim,
        weights=copied.weights,
        licence=licence_text,
        path=str(destination),
        match_threshold=match_threshold,
        cluster_threshold=cluster_threshold,
    )


@transaction.atomic
def face_model_set_default(*, face_model: FaceModel) -> FaceModel:
    FaceModel.objects.filter(is_default=True).exclude(pk=face_model.pk).update(is_default=False)
    face_model.is_default = True
    face_model.save(update_fields=["is_default"])
    return face_model


def tenant_face_model_set(*, tenant: Tenant, face_model: FaceModel) -> None:
    """Switch a tenant to another model. Existing embeddings stay tied to the
    model that made them; search compares only the active model's."""
    TenantFaceModel.objects.update_or_create(tenant=tenant, defaults={"face_model": face_model})


# What each kind of picture can skip, by engine. Video frames skip the
# 90/180/270-degree retry: a frame without a face is normal in a video, and
# retrying it triples the detection time. Camera frames (kiosks) skip it too,
# and the faces in them are near the lens: dlib needs no upsampling pass
# (on a copy 640 px long, it finds faces from ~80 px, a person about a metre
# from a tablet's camera, at a third of the cost) and SCRFD no 640-px canvas
# (320 px finds faces from ~30 px, at half the cost).
VIDEO_DETECT_THREADS = min(os.cpu_count() or 1, 4)
SOURCE_OPTIONS = {
    "photo": {FaceModel.Engine.DLIB: {}, FaceModel.Engine.INSIGHTFACE: {}},
    "video": {
        # A video's frames are detected side by side (dlib releases the GIL).
        FaceModel.Engine.DLIB: {"rotate_retry": False, "detect_threads": VIDEO_DETECT_THREADS},
        FaceModel.Engine.INSIGHTFACE: {"rotate_retry": False},
    },
    "camera": {
        FaceModel.Engine.DLIB: {
            "rotate_retry": False,
            "upsample": 0,
            "max_detect_side": 640,
            "min_detect_side": 640,
        },
        FaceModel.Engine.INSIGHTFACE: {"rotate_retry": False, "det_size": 320},
    },
}


def engine_for(face_model: FaceModel, *, source: str = "photo") -> FaceEngine:
    """The engine instance for a registered model and a kind of picture
    (``SOURCE_OPTIONS``), cached per process and loaded lazily."""
    options = SOURCE_OPTIONS[source][face_model.engine]
    if face_model.engine == FaceModel.Engine.DLIB:
        return build_engine("dlib", **options)
    return build_engine("insightface", face_model.path, **options)
