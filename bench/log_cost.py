"""CPU per JSON log line: our formatter (stdlib logging + orjson) against structlog's.

    python -m bench.log_cost

structlog is not a dependency: this measures it only when it is importable (e.g.
`pip install --target /tmp/structlog structlog` and PYTHONPATH=/tmp/structlog).
"""

from __future__ import annotations

import io
import logging
import time

from apicore.logging import LOG_FORMAT, JsonFormatter, RequestIdFilter, request_id_var

LINES = 50_000


def _stdlib(formatter: logging.Formatter) -> float:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger(f"bench.{id(formatter)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    started = time.process_time()
    for i in range(LINES):
        logger.info(
            "%s %s -> %d in %.1f ms",
            "GET",
            "/users/{id}",
            200,
            1.25,
            extra={"route": "/users/{id}", "status": 200, "duration_ms": 1.25 + i % 3},
        )
    return (time.process_time() - started) / LINES * 1e6


def _structlog() -> float | None:
    try:
        import structlog
    except ImportError:
        return None
    stream = io.StringIO()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    logger = structlog.get_logger("bench")
    started = time.process_time()
    for i in range(LINES):
        logger.info(
            "GET /users/{id} -> 200",
            route="/users/{id}",
            status=200,
            duration_ms=1.25 + i % 3,
            request_id="abc",
        )
    return (time.process_time() - started) / LINES * 1e6


def _structlog_stdlib() -> float | None:
    """structlog's formatter over the standard library: what uvicorn's lines would need."""
    try:
        import structlog
    except ImportError:
        return None
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
    )
    return _stdlib(formatter)


def main() -> None:
    request_id_var.set("3f0c1d2e")
    print(f"stdlib text line:         {_stdlib(logging.Formatter(LOG_FORMAT)):.1f} µs CPU")
    print(f"stdlib + orjson (ours):   {_stdlib(JsonFormatter()):.1f} µs CPU")
    for name, measure in (
        ("structlog, its own logger", _structlog),
        ("structlog over stdlib", _structlog_stdlib),
    ):
        cost = measure()
        print(f"{name + ':':26}{'not installed' if cost is None else f'{cost:.1f} µs CPU'}")


if __name__ == "__main__":
    main()
