"""Field types both services validate the same way."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


def _no_nul(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold U+0000: refuse it here, not as a database error.
    if "\x00" in value:
        raise ValueError("Must not contain the NUL character")
    return value


NonBlank200 = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]


class StrictModel(BaseModel):
    """Request bodies: unknown fields are a validation error."""

    model_config = ConfigDict(extra="forbid")


def _no_defaults(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class PartialModel(BaseModel):
    """Documentation of a `?fields=` answer: the fields not asked for are absent (not null)."""

    model_config = ConfigDict(json_schema_extra=_no_defaults)
