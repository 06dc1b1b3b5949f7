"""Field types both services validate the same way."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

NonBlank200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class StrictModel(BaseModel):
    """Request bodies: unknown fields are a validation error."""

    model_config = ConfigDict(extra="forbid")
