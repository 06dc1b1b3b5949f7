"""Pure unit tests: the order lifecycle rules and the order total."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import get_args

import pytest

from apicore.errors import INVALID_STATUS_TRANSITION, ORDER_LOCKED, ApiError
from service_orders.lifecycle import (
    ACTIVE_STATUSES,
    TRANSITIONS,
    check_items_editable,
    check_transition,
)
from service_orders.models import STATUSES
from service_orders.schemas import MAX_TOTAL, OrderItemCreate, OrderStatus, order_total

ALLOWED = {
    ("created", "in_progress"),
    ("created", "cancelled"),
    ("in_progress", "completed"),
    ("in_progress", "cancelled"),
}


def test_every_status_has_rules() -> None:
    assert set(TRANSITIONS) == set(STATUSES) == set(get_args(OrderStatus))
    assert frozenset({"created", "in_progress"}) == ACTIVE_STATUSES


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, repeat=2)))
def test_check_transition(current: str, target: str) -> None:
    if (current, target) in ALLOWED or current == target:
        check_transition(current, target)
        return
    with pytest.raises(ApiError) as raised:
        check_transition(current, target)
    assert raised.value.code == INVALID_STATUS_TRANSITION
    assert raised.value.status == 409
    assert current in raised.value.message
    assert target in raised.value.message


def test_final_statuses_allow_nothing() -> None:
    assert TRANSITIONS["completed"] == frozenset()
    assert TRANSITIONS["cancelled"] == frozenset()


def test_items_editable_only_while_created() -> None:
    check_items_editable("created")
    for status in ("in_progress", "completed", "cancelled"):
        with pytest.raises(ApiError) as raised:
            check_items_editable(status)
        assert raised.value.code == ORDER_LOCKED
        assert raised.value.status == 409


def items(*pairs: tuple[int, str]) -> list[OrderItemCreate]:
    return [
        OrderItemCreate.model_validate({"product": "p", "quantity": quantity, "price": price})
        for quantity, price in pairs
    ]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([(10, "52.00")], "520.00"),
        ([(3, "0.10")], "0.30"),
        ([(2, "19.99"), (3, "0.01"), (1, "0")], "40.01"),
        ([(1_000_000, "99.99")], "99990000.00"),
        ([(1, "99999999.99")], "99999999.99"),
        ([(7, "0")], "0.00"),
    ],
)
def test_order_total(pairs: list[tuple[int, str]], expected: str) -> None:
    total = order_total(items(*pairs))
    assert isinstance(total, Decimal)
    assert str(total) == expected


def test_order_total_of_float_prices_is_exact() -> None:
    three = [OrderItemCreate.model_validate({"product": "p", "quantity": 1, "price": 0.1})] * 3
    assert str(order_total(three)) == "0.30"


@pytest.mark.parametrize(
    ("price", "expected"),
    [("0.005", "0.01"), ("0.015", "0.02"), ("0.025", "0.03"), ("0.004", "0.00"), ("2.675", "2.68")],
)
def test_order_total_rounds_half_up(price: str, expected: str) -> None:
    """Validated prices have two decimals; the rounding rule itself is still half-up."""
    item = OrderItemCreate.model_construct(product="p", quantity=1, price=Decimal(price))
    assert str(order_total([item])) == expected


def test_max_total() -> None:
    assert Decimal("99999999.99") == MAX_TOTAL


def test_stored_item_serves_money_with_two_decimals() -> None:
    stored = OrderItemCreate.model_validate({"product": " p ", "quantity": 2, "price": 52}).stored()
    assert stored == {"product": "p", "quantity": 2, "price": "52.00"}
