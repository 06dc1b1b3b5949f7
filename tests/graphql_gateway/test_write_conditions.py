"""What If-Match a REST write sends when the caller's access was checked at a version
(graphql_gateway/rest/deps.py): the checked version, and only when the client's own
condition holds for it. Otherwise an engineer's `If-Match: *` would let a write through
after the order was reassigned away between the check and the write."""

from __future__ import annotations

import pytest

from apicore.errors import ApiError
from graphql_gateway.rest.deps import _condition

CHECKED = '"20261207101010123456"'
OLDER = '"20261201000000000000"'


def test_without_a_checked_version_the_client_s_condition_goes_as_it_came() -> None:
    assert _condition(None, None) is None
    assert _condition("*", None) == "*"
    assert _condition(OLDER, None) == OLDER


def test_with_one_the_write_goes_at_the_checked_version() -> None:
    assert _condition(None, CHECKED) == CHECKED
    assert _condition("*", CHECKED) == CHECKED  # `*` no longer means "whatever it is now"
    assert _condition(f"{OLDER}, {CHECKED}", CHECKED) == CHECKED


def test_a_client_condition_the_checked_version_does_not_meet_is_412() -> None:
    for asked in (OLDER, 'W/"20261207101010123456"'):
        with pytest.raises(ApiError) as refused:
            _condition(asked, CHECKED)
        assert refused.value.status == 412
