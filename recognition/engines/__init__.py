"""Face engines: one interface (``FaceEngine``), a dlib default and an ONNX
(InsightFace-style pack) engine. Heavy modules (dlib, onnxruntime) are imported
only when an engine is built, so importing this package is cheap."""

from recognition.engines.base import DetectedFace, EngineInfo, FaceEngine

__all__ = ["DetectedFace", "EngineInfo", "FaceEngine"]
