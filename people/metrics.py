"""People's metrics: identify requests, their duration, and the faces left unknown.

The unknown rate is a recording rule (unknown faces over all faces answered);
the identify SLO alert reads ``facet_identify_duration_seconds``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from tenants.metrics import tenant_labels, with_tenant

IDENTIFY_REQUESTS = Counter(
    "facet_identify_requests",
    "Identify calls (a photo, every face named or unknown).",
    [*tenant_labels()],
)
IDENTIFY_DURATION = Histogram(
    "facet_identify_duration_seconds",
    "Time of one identify call in the service (decode, detect, embed, match).",
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10),
)
IDENTIFY_FACES = Counter(
    "facet_identify_faces",
    "Faces answered by identify, by result (known, unknown, low_quality).",
    ["result"],
)


def identified(answers, seconds: float) -> None:
    with_tenant(IDENTIFY_REQUESTS).inc()
    IDENTIFY_DURATION.observe(seconds)
    for answer in answers:
        if answer.person_id:
            result = "known"
        elif getattr(answer, "reason", "") == "low-quality":
            result = "low_quality"
        else:
            result = "unknown"
        IDENTIFY_FACES.labels(result=result).inc()
