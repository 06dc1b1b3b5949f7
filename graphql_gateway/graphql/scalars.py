"""Objects arrive as the services' JSON: timestamps are already ISO 8601 strings."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from strawberry.scalars import JSON
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition, wrap_parser
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY

from apicore.contract.orders import parse_date


def _serialize_iso(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


# `YYYY-MM-DD` only, as REST takes it (`date.fromisoformat` also takes `20261201`); a bad
# value is the usual coercion error (GRAPHQL_VALIDATION_FAILED).
_parse_date = wrap_parser(parse_date, "Date")


SCALAR_OVERRIDES: dict[object, Any] = {
    dt.datetime: dataclasses.replace(DateTimeDefinition, serialize=_serialize_iso),
    dt.date: dataclasses.replace(DateDefinition, serialize=_serialize_iso, parse_value=_parse_date),
    # An order history's old and new values. Without @specifiedBy, which the standard
    # introspection query does not ask for: the SDL file is then what clients discover.
    JSON: dataclasses.replace(
        DEFAULT_SCALAR_REGISTRY[JSON], specified_by_url=None, description="A JSON value"
    ),
}
