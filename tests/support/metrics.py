"""Reading the Prometheus text a process serves on /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def requests_counted(
    metrics_text: str, route: str, method: str, status: str | None = None
) -> float:
    """`http_requests_total` of one route and method (and status, if given); 0 if none."""
    labels = {"route": route, "method": method} | ({"status": status} if status is not None else {})
    return sample(metrics_text, "http_requests_total", **labels)


def sample(metrics_text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels include `labels`; 0 if there is none."""
    for family in text_string_to_metric_families(metrics_text):
        for each in family.samples:
            if each.name == name and labels.items() <= each.labels.items():
                return each.value
    return 0.0
