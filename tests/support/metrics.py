"""Reading the Prometheus text a process serves on /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def requests_counted(
    metrics_text: str, route: str, method: str, status: str | None = None
) -> float:
    """`http_requests_total` of one route and method (and status, if given); 0 if none."""
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "http_requests_total"
                and labels.get("route") == route
                and labels.get("method") == method
                and (status is None or labels.get("status") == status)
            ):
                return sample.value
    return 0.0


def sample(metrics_text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels include `labels`; 0 if there is none."""
    for family in text_string_to_metric_families(metrics_text):
        for each in family.samples:
            if each.name == name and labels.items() <= each.labels.items():
                return each.value
    return 0.0
