"""Where a service's JSON becomes a GraphQL object, for the type checker.

The resolvers return the services' dicts as they came (`graphql_gateway/types.py`), and
every field of our Strawberry types is read from that dict (`field_value`, the schema's
default resolver in `graphql_gateway/graphql/schema.py`): a `User` field is served from a
`UserData`. The declared return types are what Strawberry builds the schema from, so they
name the GraphQL types; this one function says that the dict stands for them.
"""

from __future__ import annotations

from typing import Any


def served(value: object) -> Any:
    """`value` (a dict, a list of them, or None), as the GraphQL type the resolver declares.

    Returned as it is: nothing is copied or checked here (the services' answers are checked
    against their contract by the tests, tests/test_schema_files.py)."""
    return value
