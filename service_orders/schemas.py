"""The orders service's bodies: the shared contract (apicore.contract.orders)."""

from apicore.contract.orders import (
    MAX_TOTAL,
    OrderCreate,
    OrderItemCreate,
    OrderPartial,
    OrderPublic,
    OrderStatus,
    OrderUpdate,
    order_total,
)

__all__ = [
    "MAX_TOTAL",
    "OrderCreate",
    "OrderItemCreate",
    "OrderPartial",
    "OrderPublic",
    "OrderStatus",
    "OrderUpdate",
    "order_total",
]
