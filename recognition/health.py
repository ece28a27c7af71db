"""The model registry's part of detailed health: files, hashes, loading, tenants.

Registered with tenants.health in RecognitionConfig.ready(). Hashes are
verified once per file version (path, size, mtime) and a model is loaded once
per process: the report is cheap to call again.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from django_tenants.utils import get_public_schema_name

from recognition.engines.geometry import sha256_file

from .models import FaceModel, TenantFaceModel

_lock = threading.Lock()
_hashes: dict[tuple[str, int, int], str] = {}
_loads: dict[int, dict] = {}


def weight_paths(model: FaceModel) -> dict[str, Path]:
    """Where each weight file the registry lists for ``model`` should be."""
    if model.engine == FaceModel.Engine.DLIB:
        from recognition.engines.dlib_engine import DlibEngine

        detector = "cnn" if "mmod_human_face_detector.dat" in (model.weights or {}) else "hog"
        located = DlibEngine._weight_paths(detector)
        return {name: Path(located.get(name, "")) for name in model.weights or located}
    return {name: Path(model.path) / name for name in model.weights or {}}


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, int(stat.st_mtime_ns))
    with _lock:
        known = _hashes.get(key)
    if known is None:
        known = sha256_file(str(path))
        with _lock:
            _hashes[key] = known
    return known


def _files(model: FaceModel, *, verify: bool) -> dict:
    files = {}
    for name, path in weight_paths(model).items():
        entry = {"present": path.is_file()}
        if verify and entry["present"]:
            entry["sha256_ok"] = _sha256(path) == (model.weights or {}).get(name)
        files[name] = entry
    return files


def _load(model: FaceModel) -> dict:
    """Load the engine once in this process (a tiny image forces the lazy load)."""
    with _lock:
        known = _loads.get(model.pk)
    if known is None:
        from .services import engine_for

        try:
            engine = engine_for(model)
            engine.detect(np.zeros((32, 32, 3), dtype=np.uint8))
            known = {"loads": True, "provider": engine.info.provider}
        except Exception as exc:
            known = {"loads": False, "provider": "", "error": f"{type(exc).__name__}: {exc}"[:300]}
        with _lock:
            _loads[model.pk] = known
    return known


def _tenants_using(model: FaceModel) -> list[str]:
    from tenants.models import Tenant

    chosen = TenantFaceModel.objects.values_list("tenant_id", flat=True)
    if model.is_default:
        tenants = Tenant.objects.exclude(pk__in=chosen.exclude(face_model=model))
    else:
        tenants = Tenant.objects.filter(pk__in=chosen.filter(face_model=model))
    tenants = tenants.exclude(schema_name=get_public_schema_name()).order_by("slug")
    return list(tenants.values_list("slug", flat=True))


def model_files_check() -> dict:
    """For /health/detailed: every registered model's files are there (not hashed)."""
    models = []
    for model in FaceModel.objects.all():
        files = _files(model, verify=False)
        models.append({"model": str(model), "ok": all(f["present"] for f in files.values())})
    return {"ok": all(m["ok"] for m in models), "models": models}


def models_report() -> list[dict]:
    report = []
    for model in FaceModel.objects.all():
        files = _files(model, verify=True)
        files_ok = all(f["present"] and f.get("sha256_ok") for f in files.values())
        loaded = _load(model) if files_ok else {"loads": False, "provider": ""}
        report.append(
            {
                "id": model.pk,
                "name": model.name,
                "version": model.version,
                "engine": model.engine,
                "embedding_dim": model.embedding_dim,
                "is_default": model.is_default,
                "files": files,
                **loaded,
                "tenants": _tenants_using(model),
                "ok": files_ok and loaded["loads"],
            }
        )
    return report
