"""Reading the /metrics text exposition in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def families(text: str) -> dict[str, list]:
    """{family name: [samples]} of a /metrics page."""
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(text: str, sample: str, **labels: str) -> float:
    """The sum of ``sample``'s values whose labels include ``labels`` (0 when absent)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total
