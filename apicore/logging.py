"""Log lines carry the request id of the request they are about (and the trace id).

`LOG_FORMAT=json` (docs/operations.md, "Logs"): one JSON object per line, for a log pipeline;
the default stays the human-readable line. Both come from the standard library's
logging, so uvicorn's, SQLAlchemy's and our own loggers all write the same way.
The JSON formatter is ours (orjson), measured against structlog's: `python -m bench.log_cost`.
"""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Attributes every LogRecord has; anything else on a record was passed in `extra=`.
# Except `color_message`: uvicorn's copy of its message with terminal colour codes in it,
# for its own coloured formatter; a JSON line has no terminal.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}


def _trace_ids() -> tuple[str, str] | None:
    """The current span's trace and span ids, when tracing is on and a span is current."""
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - tracing is optional at run time
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, trace_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        ids = _trace_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        fields = vars(record)
        for key in fields.keys() - _STANDARD:
            line.setdefault(key, fields[key])
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def log_format() -> str:
    return "json" if os.environ.get("LOG_FORMAT", "").lower() == "json" else "text"


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A logging dictConfig for uvicorn and our own loggers alike."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": log_format(),
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "text": {"format": LOG_FORMAT},
            "json": {"()": JsonFormatter},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
            # A line per request to a service (the health probes' too): our access lines
            # and the gateway's downstream metrics say the same; warnings still show.
            "httpx": {"level": "WARNING"},
        },
    }
