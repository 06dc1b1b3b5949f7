"""GraphQL errors carry `extensions.code` from the wire contract; surprises are masked.

- An ApiError (downstream trouble, a service's 4xx, an integrity rule) keeps its
  code and details: graphql-core copies `extensions` from the original error.
- A document that does not parse or validate: BAD_REQUEST.
- Anything else is a bug: logged with its traceback, answered "Internal server
  error" with INTERNAL_ERROR, nothing of the cause.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError

from apicore.errors import BAD_REQUEST, INTERNAL_ERROR, ApiError

logger = logging.getLogger("graphql_gateway.graphql")


def refused(code: str, message: str, **extensions: Any) -> GraphQLError:
    """A request refused before execution, with its code (apicore/errors.py)."""
    return GraphQLError(message, extensions={"code": code, **extensions})


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, ApiError | GraphQLError)


def coded(error: GraphQLError) -> GraphQLError:
    if is_unexpected(error):
        return GraphQLError(
            "Internal server error",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": INTERNAL_ERROR},
        )
    if "code" not in (error.extensions or {}):
        error.extensions = {**(error.extensions or {}), "code": BAD_REQUEST}
    return error


# graphql-core appends its suggestions to the message: " Did you mean 'name'?"
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def without_suggestions(error: GraphQLError) -> GraphQLError:
    """The message without "Did you mean …?" (names of the schema, for developers only)."""
    if "Did you mean" in error.message:
        error.message = _SUGGESTION.sub("", error.message)
    return error


def log_unexpected(errors: list[GraphQLError]) -> None:
    for error in errors:
        if is_unexpected(error):
            logger.error("Unexpected error at %s", error.path, exc_info=error.original_error)
