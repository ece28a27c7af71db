"""The vector store's metrics: nearest-neighbour queries by plan (index, exact) and time."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from tenants.metrics import DURATION_BUCKETS

QUERIES = Counter(
    "facet_vector_queries",
    "Nearest-neighbour queries, by embedding table and plan (index: HNSW, exact: scan).",
    ["table", "plan"],
)
QUERY_DURATION = Histogram(
    "facet_vector_query_duration_seconds",
    "Time of one nearest-neighbour query (planning included), by plan.",
    ["plan"],
    buckets=DURATION_BUCKETS,
)
