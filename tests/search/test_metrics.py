"""Search moves its per-query and cache metrics, and the vector store its plan metric."""

from __future__ import annotations

from django.test import Client

from tests.metrics_text import value
from tests.search.test_search_api import PERSON, _client, _photo, _search, library  # noqa: F401


def _metrics() -> str:
    return Client(HTTP_HOST="10.0.0.7").get("/metrics").content.decode()


def test_a_search_then_its_cached_repeat_are_a_miss_then_a_hit(alpha, library):  # noqa: F811
    client = _client(alpha, alpha.viewer)
    before = _metrics()
    assert not _search(client, {"image": _photo(PERSON, 4)}).json()["cached"]
    middle = _metrics()
    assert _search(client, {"image": _photo(PERSON, 4)}).json()["cached"]
    after = _metrics()

    def moved(start: str, end: str, sample: str, **labels: str) -> float:
        return value(end, sample, **labels) - value(start, sample, **labels)

    assert moved(before, middle, "facet_searches_total", query="image", cache="miss") == 1
    assert moved(middle, after, "facet_searches_total", query="image", cache="hit") == 1
    assert moved(before, after, "facet_search_duration_seconds_count", query="image") == 2
    # Only the miss asked the vector store (the hit came from the cache).
    assert moved(before, middle, "facet_vector_queries_total") == 1
    assert moved(middle, after, "facet_vector_queries_total") == 0
