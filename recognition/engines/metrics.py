"""The engines' metrics: inference time by engine, model and stage, and the provider.

Plain prometheus_client (the engines run without Django too); in a Facet
process the samples go to the shared multiprocess directory.
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

INFERENCE_DURATION = Histogram(
    "facet_inference_duration_seconds",
    "One engine call over a batch of images or face crops, by engine, model and stage "
    "(detect, embed).",
    ["engine", "model", "stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INFERENCE_ITEMS = Histogram(
    "facet_inference_batch_items",
    "Images (detect) or face crops (embed) in one engine call.",
    ["engine", "stage"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
ENGINE_PROVIDER = Gauge(
    "facet_engine_provider_info",
    "1 for the execution provider an engine loaded with (CPUExecutionProvider, "
    "CUDAExecutionProvider, dlib-cpu...), per engine and model.",
    ["engine", "model", "provider"],
    multiprocess_mode="max",
)


def inference_timer(engine: str, model: str, stage: str, items: int = 1):
    """``with inference_timer("dlib", "hog", "detect", len(images)):``"""
    INFERENCE_ITEMS.labels(engine, stage).observe(items)
    return INFERENCE_DURATION.labels(engine, model, stage).time()


def provider_loaded(engine: str, model: str, provider: str) -> None:
    ENGINE_PROVIDER.labels(engine, model, provider).set(1)


def timed_stage(engine: str, stage: str, model):
    """Decorates an engine method whose first argument is the image (detect) or the
    crops (embed): observes its duration. ``model(self)`` names the model."""
    import functools

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, items, *args, **kwargs):
            count = len(items) if stage == "embed" else 1
            with inference_timer(engine, model(self), stage, count):
                return method(self, items, *args, **kwargs)

        return wrapper

    return decorate
