"""A real OTLP/HTTP trace receiver on 127.0.0.1: what our processes export, decoded.

`POST /v1/traces` with a protobuf `ExportTraceServiceRequest` (gzip or not), as the
OTLP/HTTP exporter sends it; every span is kept as a `ReceivedSpan`. Any other request
is counted too (`requests`), so a test can also tell that nothing was sent at all.
With `keep=False` the spans are only counted (`received`): a sink for benchmarks.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

T = TypeVar("T")
SPAN_KINDS = {
    0: "UNSPECIFIED",
    1: "INTERNAL",
    2: "SERVER",
    3: "CLIENT",
    4: "PRODUCER",
    5: "CONSUMER",
}
STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str  # hex, as in `traceparent`
    span_id: str
    parent_span_id: str  # "" for a root span
    name: str
    kind: str  # SERVER, CLIENT, INTERNAL...
    service: str  # the resource's service.name
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "UNSET"  # UNSET, OK or ERROR
    events: tuple[str, ...] = ()  # names, e.g. "exception"


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(each) for each in value.array_value.values]
    if which == "kvlist_value":
        return {each.key: _value(each.value) for each in value.kvlist_value.values}
    return getattr(value, which) if which else None


def parse(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return request


def count(body: bytes) -> int:
    return sum(
        len(scope_spans.spans)
        for resource_spans in parse(body).resource_spans
        for scope_spans in resource_spans.scope_spans
    )


def decode(body: bytes) -> list[ReceivedSpan]:
    request = parse(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=SPAN_KINDS.get(span.kind, str(span.kind)),
                        service=str(resource.get("service.name", "")),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        status=STATUS_CODES.get(span.status.code, str(span.status.code)),
                        events=tuple(event.name for event in span.events),
                    )
                )
    return spans


class OtlpReceiver:
    """`with OtlpReceiver() as receiver:` serves on `receiver.endpoint` until the block ends."""

    def __init__(self, port: int = 0, *, keep: bool = True) -> None:
        self.keep = keep
        self.spans: list[ReceivedSpan] = []
        self.received = 0  # spans received, kept or not
        self.requests = 0  # every request received, traces or not
        self.bad_requests = 0  # anything but a decodable POST /v1/traces
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def wait_for(self, found: Callable[[list[ReceivedSpan]], T | None], timeout: float) -> T:
        """Polls until `found(spans)` returns something; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = found(self.snapshot())
            if result is not None:
                return result
            if time.monotonic() > deadline:
                names = sorted({(s.service, s.name) for s in self.snapshot()})
                raise AssertionError(f"not found in {timeout}s; spans received: {names}")
            time.sleep(0.05)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test says what matters

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                spans: list[ReceivedSpan] | None = None
                received = 0
                if self.path == "/v1/traces":
                    try:
                        if self.headers.get("content-encoding") == "gzip":
                            body = gzip.decompress(body)
                        if receiver.keep:
                            spans = decode(body)
                            received = len(spans)
                        else:
                            spans, received = [], count(body)
                    except (OSError, EOFError, DecodeError):
                        spans = None
                with receiver._lock:
                    receiver.requests += 1
                    receiver.received += received
                    if spans is None:
                        receiver.bad_requests += 1
                    else:
                        receiver.spans.extend(spans)
                if spans is None:
                    self.send_response(400)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:
                with receiver._lock:
                    receiver.requests += 1
                    receiver.bad_requests += 1
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()

        return Handler
