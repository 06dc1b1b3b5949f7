from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class OrderStatus(Enum):
    CREATED = "created"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
