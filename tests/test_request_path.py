"""Small savings on every request's path (docs/performance.md) that change no answer.

- The GraphQL route's Content-Type parse, remembered (graphql_gateway/graphql/router.py):
  the same answer as Strawberry's own parse for every value, hostile ones included, and
  nothing a caller can change or grow without bound.
- FastAPI's native telemetry, told once that it is off while tracing is off
  (apicore/tracing.py); left as it comes when tracing is on.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from strawberry.http.parse_content_type import parse_content_type

from apicore.tracing import fastapi_telemetry
from graphql_gateway.app import create_app
from graphql_gateway.config import Settings
from graphql_gateway.graphql import router

CONTENT_TYPES = [
    "",
    "application/json",
    "APPLICATION/JSON",
    "application/json; charset=utf-8",
    'application/json; charset="UTF-8"',
    "application/json;charset=latin-1",
    "application/json; charset=utf-8; charset=latin-1",
    "application/graphql-response+json",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/json; ; ;",
    "application/json; charset",
    "application/json\x00; charset=utf-8",
    "приложение/json",
    "application/json; charset=" + "u" * 300,
    "a" * 5000,
    ";;;",
    " application/json ",
]


@pytest.mark.parametrize("value", CONTENT_TYPES)
def test_the_remembered_parse_is_strawberrys(value: str) -> None:
    for _ in range(2):  # parsed, then remembered
        media, params = router.content_type_of(value)
        expected_media, expected_params = parse_content_type(value)
        assert media == expected_media
        assert dict(params) == expected_params


def test_a_remembered_answer_cannot_be_changed_by_a_caller() -> None:
    _, params = router.content_type_of("application/json; charset=utf-8")
    with pytest.raises(TypeError):  # a write its type does not allow, on purpose
        cast(Any, params)["charset"] = "latin-1"
    assert router.content_type_of("application/json; charset=utf-8")[1]["charset"] == "utf-8"


def test_long_or_many_values_do_not_grow_the_memory() -> None:
    router._remembered_content_type.cache_clear()
    router.content_type_of("application/json; x=" + "y" * 200)
    assert router._remembered_content_type.cache_info().currsize == 0
    for n in range(1000):
        router.content_type_of(f"application/json; n={n}")
    assert router._remembered_content_type.cache_info().currsize <= 256


def test_fastapi_telemetry_is_off_while_tracing_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert fastapi_telemetry() == {"tracing": False, "metrics": False, "logs": False}
    app = create_app(Settings(access_log=False))
    assert app._native_telemetry.enabled() is False


def test_fastapi_telemetry_is_as_it_comes_while_tracing_is_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    assert fastapi_telemetry() is None
