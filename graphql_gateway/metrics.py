"""The gateway's own series (docs/operations.md, "Metrics"), beside every process's HTTP series.

- gateway_downstream_requests_total{service, outcome} and
  gateway_downstream_request_duration_seconds{service}: each call to a service, with
  outcome ok | client_error | server_error | timeout | unreachable | circuit_open | shed
  (circuit_open and shed calls touch no network and have no duration: shed is a call that
  waited longer than GATEWAY_POOL_TIMEOUT for a connection, clients/admission.py);
- gateway_downstream_retries_total{service}: calls sent a second time after their
  connection broke (clients/base.py says when);
- gateway_breaker_state{service}: 0 closed, 1 half-open, 2 open (the highest over the
  live workers: each worker has its own breakers), and
  gateway_breaker_state_changes_total{service, state};
- gateway_breaker_failure_rate{service}: the share of failed calls in the breaker's window
  (0 to 1; the highest over the live workers), what opens a circuit at a high error rate;
- gateway_graphql_operations_total{operation, type, outcome}: outcome ok | partial
  (data and errors) | error (no data) | refused (did not parse, validate, or pass the limits);
- gateway_dataloader_batch_size{loader}: keys per batched call;
- gateway_rate_limit_rejections_total{limit}: login | requests.
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Histogram

from apicore.metrics import LATENCY_BUCKETS, LabelCache, gauge

DOWNSTREAM = LabelCache(
    Counter(
        "gateway_downstream_requests_total",
        "Calls to a downstream service, by outcome",
        ["service", "outcome"],
    )
)
DOWNSTREAM_LATENCY = LabelCache(
    Histogram(
        "gateway_downstream_request_duration_seconds",
        "Time for a downstream service to answer",
        ["service"],
        buckets=LATENCY_BUCKETS,
    )
)
DOWNSTREAM_RETRIES = LabelCache(
    Counter(
        "gateway_downstream_retries_total",
        "Calls to a downstream service sent again after their connection broke",
        ["service"],
    )
)
BREAKER_STATE = LabelCache(
    gauge(
        "gateway_breaker_state",
        "Circuit breaker state: 0 closed, 1 half-open, 2 open",
        ["service"],
        "livemax",
    )
)
BREAKER_FAILURE_RATE = LabelCache(
    gauge(
        "gateway_breaker_failure_rate",
        "Share of failed calls in the breaker's window (0 to 1), while closed",
        ["service"],
        "livemax",
    )
)
BREAKER_CHANGES = LabelCache(
    Counter(
        "gateway_breaker_state_changes_total",
        "Circuit breaker state changes, by the state entered",
        ["service", "state"],
    )
)
GRAPHQL_OPERATIONS = LabelCache(
    Counter(
        "gateway_graphql_operations_total",
        "GraphQL operations, by name, type and outcome",
        ["operation", "type", "outcome"],
    )
)
BATCH_SIZE = LabelCache(
    Histogram(
        "gateway_dataloader_batch_size",
        "Keys per batched downstream call",
        ["loader"],
        buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
    )
)
RATE_LIMITED = LabelCache(
    Counter(
        "gateway_rate_limit_rejections_total",
        "Requests refused with 429, by limit",
        ["limit"],
    )
)

STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}

# Operation names are the client's words: only plain names, and a bounded number of them,
# become label values; the rest are counted together.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 200
_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if name in _operation_names:
        return name
    if _NAME.fullmatch(name) and len(_operation_names) < MAX_OPERATION_NAMES:
        _operation_names.add(name)
        return name
    return "other"


def breaker_state(service: str, state: str) -> None:
    BREAKER_STATE(service).set(STATE_VALUES.get(state, 0))
