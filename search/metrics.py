"""Search's metrics: searches by query kind and cache hit or miss, and their duration.

The cache hit ratio is a recording rule over ``facet_searches_total``
(deploy/prometheus/rules/facet.rules.yml); the plan each search used is
``facet_vector_queries_total`` (vectors.metrics).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from tenants.metrics import DURATION_BUCKETS, tenant_labels, with_tenant

SEARCHES = Counter(
    "facet_searches",
    "Face searches, by query (image, face) and cache (hit, miss).",
    ["query", "cache", *tenant_labels()],
)
SEARCH_DURATION = Histogram(
    "facet_search_duration_seconds",
    "Time of one face search in the service (decoding and embedding a photo included).",
    ["query", "cache"],
    buckets=DURATION_BUCKETS,
)


def searched(*, query: str, cached: bool, seconds: float) -> None:
    cache = "hit" if cached else "miss"
    with_tenant(SEARCHES, query=query, cache=cache).inc()
    SEARCH_DURATION.labels(query=query, cache=cache).observe(seconds)
