"""deploy/grafana: the dashboard parses, shows what an operator looks at first, and every
metric it queries is one the processes expose (docs/operations.md).

Two checks of the names: against the list the processes are built to (`METRICS`, offline),
and against what real processes answer on `GET /metrics`
(`test_dashboard_metrics_exist_in_real_scrapes`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procs import ROOT, RunningProcess

DASHBOARD = Path(ROOT) / "deploy" / "grafana" / "sitetrack-dashboard.json"

# Every metric of docs/operations.md by name → type; labels never carry ids.
ALL_PROCESSES = {
    "http_requests_total": "counter",  # route (template), method, status
    "http_request_duration_seconds": "histogram",  # route, method
}
GATEWAY_ONLY = {
    "gateway_downstream_requests_total": "counter",  # service, outcome
    "gateway_downstream_request_duration_seconds": "histogram",  # service
    "gateway_breaker_state": "gauge",  # service: 0 closed, 1 half-open, 2 open
    "gateway_breaker_state_changes_total": "counter",  # service, state
    "gateway_graphql_operations_total": "counter",  # operation, type, outcome
    "gateway_dataloader_batch_size": "histogram",  # loader
    "gateway_rate_limit_rejections_total": "counter",  # limit: login, requests
}
SERVICES_ONLY = {
    "db_pool_connections": "gauge",  # state: in_use, idle
    "db_pool_size": "gauge",
}
METRICS = {**ALL_PROCESSES, **GATEWAY_ONLY, **SERVICES_ONLY}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# PromQL words that look like names but are not metrics.
PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "atan2", "inf", "nan",
}  # fmt: skip


# --------------------------------------------------------------------------- PromQL


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (as written: `_bucket` and all)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # range and subquery durations
    # Label lists of aggregations and vector matching: `by (job, le)`, `on (service)`.
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # dashboard variables
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in PROMQL_KEYWORDS:
            continue  # a function, or an operator
        if re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def base_name(name: str) -> str:
    """A histogram's series named by the histogram; any other name as it is."""
    for suffix in HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and METRICS.get(base) == "histogram":
            return base
    return name


def variable_queries(dashboard: dict[str, Any]) -> Iterator[str]:
    """The PromQL inside the template variables' queries (`label_values(metric, label)`)."""
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
        yield match.group(1) if match else query


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def exprs(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for p in panels(dashboard) for t in p.get("targets", []) if "expr" in t]
    return [*found, *variable_queries(dashboard)]


def queried_metrics(dashboard: dict[str, Any]) -> dict[str, set[str]]:
    """Base metric name → the names as written (e.g. the histogram's `_bucket`)."""
    used: dict[str, set[str]] = {}
    for expr in exprs(dashboard):
        for name in metric_names(expr):
            used.setdefault(base_name(name), set()).add(name)
    return used


# --------------------------------------------------------------------------- /metrics


def exposed_metrics(text: str) -> dict[str, str]:
    """Metric name → type, from a scrape in the Prometheus text format.

    Counters by their `_total` name, as queried. With prometheus_client installed its own
    parser reads the text (and refuses a malformed one); otherwise the `# TYPE` lines.
    """
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        families = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
                families.append((parts[2], parts[3]))
    else:
        families = [(f.name, f.type) for f in text_string_to_metric_families(text)]
    exposed = {}
    for name, kind in families:
        if kind == "counter" and not name.endswith("_total"):
            name += "_total"  # the parser names a counter's family without it
        exposed[name] = kind
    return exposed


def missing_from_scrape(needed: dict[str, str], text: str) -> list[str]:
    """The needed metrics a scrape does not expose with that type, one line each."""
    exposed = exposed_metrics(text)
    return [
        f"{name} ({kind}): " + (f"exposed as a {exposed[name]}" if name in exposed else "absent")
        for name, kind in sorted(needed.items())
        if exposed.get(name) != kind
    ]


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_dashboard_is_an_importable_dashboard(dashboard: dict[str, Any]) -> None:
    assert dashboard["title"]
    assert re.fullmatch(r"[\w-]{1,40}", dashboard["uid"])
    assert dashboard["id"] is None  # Grafana assigns one on import
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    occupied: set[tuple[int, int]] = set()
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert 1 <= grid["w"] <= 24 - grid["x"], panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_dashboard_shows_what_an_operator_looks_at_first(dashboard: dict[str, Any]) -> None:
    joined = "\n".join(exprs(dashboard))
    used = queried_metrics(dashboard)
    # Requests and errors per route.
    assert re.search(r"by \(job, route\) \(rate\(http_requests_total", joined)
    assert 'status=~"5.."' in joined
    assert 'status=~"4.."' in joined
    # Latency percentiles by route, from the histogram.
    for quantile in ("0.5", "0.95", "0.99"):
        assert re.search(
            rf"histogram_quantile\({quantile}, sum by \(job, route, le\) "
            r"\(rate\(http_request_duration_seconds_bucket",
            joined,
        ), quantile
    # Downstream latency per service and outcomes; breakers; rate limits; GraphQL; loaders; pools.
    assert re.search(r"histogram_quantile\(0\.95, sum by \(service, le\).*downstream", joined)
    assert re.search(r"by \(service, outcome\).*gateway_downstream_requests_total", joined)
    for name in METRICS:
        assert name in used, f"no panel shows {name}"
    (breaker,) = [p for p in panels(dashboard) if p["title"] == "Circuit breaker state"]
    assert breaker["type"] in {"state-timeline", "stat"}
    (mapping,) = breaker["fieldConfig"]["defaults"]["mappings"]
    states = {value: option["text"] for value, option in mapping["options"].items()}
    assert states == {"0": "closed", "1": "half-open", "2": "open"}
    # The panels of metrics every process (or both services) exposes follow the job variable.
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if re.search(r"\b(http_request|db_pool)", target["expr"]):
                assert 'job=~"$job"' in target["expr"], target["expr"]


def test_every_queried_metric_is_a_known_metric(dashboard: dict[str, Any]) -> None:
    used = queried_metrics(dashboard)
    unknown = sorted(set(used) - set(METRICS))
    assert not unknown, f"the dashboard queries metrics nobody exposes: {unknown}"
    for base, written in used.items():
        if METRICS[base] == "histogram":
            assert base not in written, f"{base} is a histogram: query its _bucket/_sum/_count"
        else:
            assert written == {base}, f"{base} is a {METRICS[base]}: {written}"


def test_metric_names_of_promql() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (service, le) (rate(gateway_downstream_request_"
        'duration_seconds_bucket{job=~"$job", service!="by"}[$__rate_interval])))'
        " / on (service) group_left sum(rate(x_total[5m] offset 1h)) or vector(0)"
        ' + count(up{job="a"} > 0) and bool_total'
    )
    assert metric_names(expr) == {
        "gateway_downstream_request_duration_seconds_bucket",
        "x_total",
        "up",
        "bool_total",
    }
    assert metric_names("sum without (instance) (db_pool_size)") == {"db_pool_size"}
    assert base_name("http_request_duration_seconds_count") == "http_request_duration_seconds"
    assert base_name("db_pool_size_count") == "db_pool_size_count"  # no such histogram
    variable = {"type": "query", "query": {"query": "label_values(a_total, job)"}}
    assert list(variable_queries({"templating": {"list": [variable]}})) == ["a_total"]


SCRAPE = """\
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{route="/users/{id}",method="GET",status="200"} 3.0
# HELP http_request_duration_seconds Latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{route="/users/{id}",method="GET",le="0.1"} 3.0
http_request_duration_seconds_bucket{route="/users/{id}",method="GET",le="+Inf"} 3.0
http_request_duration_seconds_count{route="/users/{id}",method="GET"} 3.0
http_request_duration_seconds_sum{route="/users/{id}",method="GET"} 0.05
# HELP db_pool_size Pool size.
# TYPE db_pool_size gauge
db_pool_size 10.0
# HELP gateway_breaker_state_changes_total Changes.
# TYPE gateway_breaker_state_changes_total counter
"""


def test_exposed_metrics_of_a_scrape() -> None:
    assert exposed_metrics(SCRAPE) == {
        "http_requests_total": "counter",
        "http_request_duration_seconds": "histogram",
        "db_pool_size": "gauge",
        "gateway_breaker_state_changes_total": "counter",
    }
    needed = {"http_requests_total": "counter", "db_pool_size": "counter", "nope": "gauge"}
    assert missing_from_scrape(needed, SCRAPE) == [
        "db_pool_size (counter): exposed as a gauge",
        "nope (gauge): absent",
    ]


def scrape(process: RunningProcess) -> tuple[str | None, str]:
    """The process's /metrics text, or None and what went wrong."""
    httpx.get(f"{process.url}/health", timeout=5.0)  # one request counted, at least
    response = httpx.get(f"{process.url}/metrics", timeout=5.0)
    if response.status_code != 200:
        return None, f"GET /metrics answered {response.status_code}"
    if not response.headers.get("content-type", "").startswith("text/plain"):
        return None, f"GET /metrics is {response.headers.get('content-type')}, not text/plain"
    return response.text, ""


@pytest.mark.slow
def test_dashboard_metrics_exist_in_real_scrapes(
    dashboard: dict[str, Any],
    gateway_process: RunningProcess,
    users_process: RunningProcess,
    orders_process: RunningProcess,
) -> None:
    """Each process's own /metrics has the metrics the dashboard queries of it."""
    used = set(queried_metrics(dashboard))
    expected = {
        "gateway": (gateway_process, ALL_PROCESSES | GATEWAY_ONLY),
        "users": (users_process, ALL_PROCESSES | SERVICES_ONLY),
        "orders": (orders_process, ALL_PROCESSES | SERVICES_ONLY),
    }
    problems = []
    for name, (process, metrics) in expected.items():
        text, failure = scrape(process)
        if text is None:
            problems.append(f"{name}: {failure}")
            continue
        needed = {metric: kind for metric, kind in metrics.items() if metric in used}
        problems += [f"{name}: {line}" for line in missing_from_scrape(needed, text)]
    assert not problems, "\n".join(problems)
