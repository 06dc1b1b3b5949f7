"""Request bodies as RFC 8259 says JSON is exchanged: UTF-8, no byte order mark.

Every write of the three processes parses its body here, so every route accepts
and refuses the same bytes. Numbers keep what the client wrote: a fraction is an
exact Decimal (`52.10` is not the float 52.1000000000000014...), and a number
written with an exponent is a `WrittenWithExponent` float, which money refuses
(`1e-400` would otherwise underflow to 0.00).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from apicore.errors import BAD_REQUEST, ApiError

NOT_UTF8 = "Request body must be JSON encoded as UTF-8 (no byte order mark)"


def charset_is_utf8(charset: object) -> bool:
    """A Content-Type's `charset` parameter (None: not given) allows only UTF-8.

    REST (apicore/routing.py) and GraphQL (graphql_gateway/graphql/router.py) refuse any
    other with 400 BAD_REQUEST and NOT_UTF8.
    """
    return charset is None or str(charset).lower() in {"utf-8", "utf8"}


class WrittenWithExponent(float):
    """A JSON number the client wrote with an exponent (`1e2`, `5E-1`)."""


def _parse_float(text: str) -> Decimal | float:
    if "e" in text or "E" in text:
        return WrittenWithExponent(text)
    return Decimal(text)


def ensure_utf8(body: bytes) -> None:
    """400 BAD_REQUEST for UTF-16/32 (with or without a BOM), a UTF-8 BOM, or bad UTF-8.

    A JSON text never holds a raw NUL byte, and UTF-16/32 encodings of it always do;
    json.loads would guess those encodings from the NULs, so they are refused here.
    """
    if body.isascii():  # the common case, checked at C speed
        if b"\x00" in body:
            raise ApiError(BAD_REQUEST, NOT_UTF8)
        return
    if body.startswith(codecs.BOM_UTF8) or b"\x00" in body:
        raise ApiError(BAD_REQUEST, NOT_UTF8)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(BAD_REQUEST, NOT_UTF8) from None


def loads(body: bytes) -> Any:
    """The body as JSON, or json.JSONDecodeError (400 BAD_REQUEST for the caller)."""
    ensure_utf8(body)
    text = body.decode("utf-8")
    try:
        # NaN and Infinity (not JSON, but json.loads reads them) stay floats: the fields
        # refuse them by name, as they always did.
        return json.loads(text, parse_float=_parse_float)
    except RecursionError:
        raise json.JSONDecodeError("Nested too deeply", text, 0) from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise json.JSONDecodeError(str(exc), text, 0) from None


def json_containers(
    value: Any, name: str = ""
) -> Iterator[tuple[str, dict[str, Any] | list[Any], int]]:
    """Every object and array in parsed JSON: the key it sits under, itself, its depth.

    The one walk over JSON input: GraphQL's body depth limit (graphql_gateway/graphql/
    router.py) and its list-length limit on variables (graphql_gateway/graphql/limits.py)
    both read it. An array's items sit under the array's own key (the name a refusal
    gives); `value` itself sits under `name`, at depth 0. Iterative, with an explicit
    stack: the input may be nested as deep as the JSON parser allowed. Lazy: a caller
    that has its answer stops the walk there.
    """
    stack: list[tuple[str, Any, int]] = [(name, value, 0)]
    while stack:
        key, current, depth = stack.pop()
        if type(current) is dict:
            yield key, current, depth
            stack.extend(
                (child_key, child, depth + 1)
                for child_key, child in current.items()
                if type(child) is dict or type(child) is list
            )
        elif type(current) is list:
            yield key, current, depth
            stack.extend(
                (key, child, depth + 1)
                for child in current
                if type(child) is dict or type(child) is list
            )
