"""Objects arrive as the services' JSON: timestamps are already ISO 8601 strings."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from strawberry.schema.types.base_scalars import DateTimeDefinition


def _serialize_datetime(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


SCALAR_OVERRIDES: dict[object, Any] = {
    dt.datetime: dataclasses.replace(DateTimeDefinition, serialize=_serialize_datetime),
}
