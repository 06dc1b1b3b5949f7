"""The order lifecycle: created → in_progress → completed; created|in_progress → cancelled."""

from __future__ import annotations

from apicore.errors import INVALID_STATUS_TRANSITION, ORDER_LOCKED, ApiError

TRANSITIONS: dict[str, frozenset[str]] = {
    "created": frozenset({"in_progress", "cancelled"}),
    "in_progress": frozenset({"completed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}
ACTIVE_STATUSES = frozenset({"created", "in_progress"})


def check_transition(current: str, target: str) -> None:
    """Setting the status it already has is a no-op, not a transition."""
    if target != current and target not in TRANSITIONS[current]:
        raise ApiError(
            INVALID_STATUS_TRANSITION, f"Cannot change order status from {current} to {target}"
        )


def check_items_editable(current: str) -> None:
    if current != "created":
        raise ApiError(ORDER_LOCKED, f"Items cannot change once an order is {current}")
