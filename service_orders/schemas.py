"""The orders service's bodies: the shared contract (apicore.contract.orders)."""

from apicore.contract.orders import (
    MAX_TOTAL,
    DayStats,
    OrderCreate,
    OrderHistoryEntry,
    OrderItemCreate,
    OrderPartial,
    OrderPublic,
    OrderStats,
    OrderStatus,
    OrderUpdate,
    UserOrderStats,
    order_total,
)

__all__ = [
    "MAX_TOTAL",
    "DayStats",
    "OrderCreate",
    "OrderHistoryEntry",
    "OrderItemCreate",
    "OrderPartial",
    "OrderPublic",
    "OrderStats",
    "OrderStatus",
    "OrderUpdate",
    "UserOrderStats",
    "order_total",
]
